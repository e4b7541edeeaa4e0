"""The gateway's ASGI middleware, one per module (outermost first): request id and JSON access
log, authentication, rate limits."""
