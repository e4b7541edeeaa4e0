"""CBAM jurisdiction modules: pure calculation of obligations under versioned rule data."""
