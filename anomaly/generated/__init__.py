"""Code generated from proto/ by scripts/protoc; never edit by hand."""
