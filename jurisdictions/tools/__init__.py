"""Maintenance scripts that regenerate vendored rule data from ../shared/reference."""
