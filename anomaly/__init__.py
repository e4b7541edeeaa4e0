"""Anomaly scoring of supplier emissions records (issue 7): features, model, reasons, review routing."""
