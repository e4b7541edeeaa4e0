"""Ids that carry their home region, so any id routes to its shard without a global lookup."""

from __future__ import annotations

import re
import uuid

from .errors import BadInput

_ID = re.compile(r"^(?P<kind>[a-z]+)_(?P<region>[a-z][a-z0-9]*)_(?P<uuid>[0-9a-f]{32})$")


def new_id(kind: str, region: str) -> str:
    return f"{kind}_{region}_{uuid.uuid4().hex}"


def region_of(identifier: str, kind: str) -> str:
    """The home region encoded in an id of the given kind; BadInput if it is not one."""
    match = _ID.match(identifier)
    if match is None or match["kind"] != kind:
        raise BadInput(
            f"{identifier!r} is not a {kind} id",
            {"problems": [{"field": "id", "reason": "malformed"}]},
        )
    return match["region"]
