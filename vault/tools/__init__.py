"""Maintenance scripts that regenerate the vault's vendored data from ../shared/reference."""
