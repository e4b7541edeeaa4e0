"""Revisions of the shard schema, oldest first. Never edit a released revision: add a new one."""
