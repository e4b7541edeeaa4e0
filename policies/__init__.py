"""The hub's authorization: Rego policies (this folder's .rego files) and the engines that run them."""
