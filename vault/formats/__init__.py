"""Bulk-ingest formats: CSV, JSON Lines, the Catena-X CBAM KIT response, signed batches.

Each parser returns every record of a file or every problem in it, never a partial batch.
"""
