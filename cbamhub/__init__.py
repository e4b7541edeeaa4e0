"""CBAM Data Hub."""
