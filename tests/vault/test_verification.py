"""vault/verification: the faster canonical check answers exactly as RFC 8785 does, and signatures
checked on worker threads answer exactly as inline, in submission order."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import rfc8785
from cbamhub.vault import publishing
from cbamhub.vault.errors import BadInput
from cbamhub.vault.publishing import Submission
from cbamhub.vault.shards import ShardRouter
from cbamhub.vault.signing import OrganisationKey
from cbamhub.vault.verification import BatchVerifier, is_canonical
from hypothesis import given, settings
from hypothesis import strategies as st
from vault_samples import PERIOD
from vault_world import STEEL, WIRE, World, count, world_settings


def _reference(payload: bytes, document: Any) -> bool:
    try:
        return rfc8785.dumps(document) == payload
    except rfc8785.CanonicalizationError:
        return False


_keys = st.text(max_size=6) | st.sampled_from(["\ue000", "\U0001f600", "a", "é", "ﬀ"])
_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([1e16, 1e21, 1e-7, 1e-5, 0.0001, 2.0, -0.0, 123456789012345.6, 5e-324])
    | st.text(max_size=8)
)
_json = st.recursive(
    _leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=12,
)


def _encodings(document: Any) -> list[bytes]:
    """The canonical bytes (when there are any) and near misses a signer might send."""
    out = [
        json.dumps(document).encode(),
        json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(),
        json.dumps(document, sort_keys=True, separators=(",", ":")).encode(),
    ]
    with contextlib.suppress(rfc8785.CanonicalizationError):
        out.append(rfc8785.dumps(document))
    with contextlib.suppress(TypeError):  # the fast path's own encoder, a near miss in its own way
        out.append(orjson.dumps(document, option=orjson.OPT_SORT_KEYS))
    return out


@settings(max_examples=600, deadline=None)
@given(st.dictionaries(_keys, _json, max_size=5) | st.lists(_json, max_size=4))
def test_is_canonical_agrees_with_the_rfc8785_encoder(document: Any) -> None:
    for payload in _encodings(document):
        parsed = json.loads(payload)
        assert is_canonical(payload, parsed) == _reference(payload, parsed), payload


@settings(max_examples=3000, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**63), 2**63 - 1))
def test_a_number_written_as_the_fast_encoder_writes_it_is_judged_as_rfc8785_judges_it(
    number: float,
) -> None:
    """The fast path accepts a payload when orjson writes the parsed document back the same: so
    wherever orjson's number form differs from RFC 8785's, the guard must send it to the reference
    (exponents, integral floats, 16 digits and more)."""
    for payload in (orjson.dumps([number]), orjson.dumps({"a": number, "b": [number, 1]})):
        parsed = json.loads(payload)
        assert is_canonical(payload, parsed) == _reference(payload, parsed), payload


@pytest.mark.parametrize(
    ("payload", "canonical"),
    [
        (b'{"a":1,"b":[true,null,"x"]}', True),
        (b'{"b":1,"a":2}', False),  # key order
        (b'{"a": 1}', False),  # whitespace
        (b'{"a":2.0}', False),  # RFC 8785 writes 2
        (b'{"a":2}', True),
        (b'{"a":1e-07}', False),  # RFC 8785 writes 1e-7
        (b'{"a":1e-7}', True),
        (b'{"a":0.000001}', True),  # Python would write 1e-06: the reference encoder decides
        (b'{"a":1000000000000000}', True),  # 16 digits, below 2**53
        (b'{"a":10000000000000000}', False),  # above 2**53: RFC 8785 refuses the integer
        (b'{"a":9007199254740993}', False),  # beyond 2**53: no RFC 8785 form
        (b'{"a":NaN}', False),
        (b'{"a":"\\u00e9"}', False),  # RFC 8785 writes the character itself
        ('{"a":"é"}'.encode(), True),
        (b'{"a":1,"a":1}', False),  # duplicate keys
        ('{"\U0001f600":1,"\ue000":2}'.encode(), True),  # UTF-16 order: surrogates first
        ('{"\ue000":2,"\U0001f600":1}'.encode(), False),
    ],
)
def test_is_canonical_on_the_cases_where_encoders_differ(payload: bytes, canonical: bool) -> None:
    document = json.loads(payload)
    assert is_canonical(payload, document) is canonical
    assert _reference(payload, document) is canonical


@pytest.mark.parametrize("threads", [0, 1, 2])
async def test_threaded_signature_checks_answer_in_submission_order(threads: int) -> None:
    key, other = OrganisationKey.generate(), OrganisationKey.generate()
    jobs: list[tuple[bytes, bytes, bytes]] = []
    expected: list[bool] = []
    for i in range(300):  # several chunks and a partial one
        signed = key.sign_document({"n": i})
        good = i % 7 != 3
        if i % 7 == 3:  # a signature by another key, or over another payload
            signed_by = other.sign_document({"n": i}) if i % 2 else key.sign_document({"n": -i})
            jobs.append((key.public_key, signed.payload, signed_by.signature))
        else:
            jobs.append((key.public_key, signed.payload, signed.signature))
        expected.append(good)
    async with BatchVerifier(threads, chunk=64) as verifier:
        for job in jobs:
            verifier.submit(*job)
        assert await verifier.results() == expected
        assert await verifier.results() == []  # answered once


@pytest.fixture
async def world(region_urls: dict[str, str], tmp_path: Path) -> AsyncIterator[World]:
    router = await ShardRouter.open(world_settings(region_urls, tmp_path))
    try:
        yield World(router)
    finally:
        await router.close()


async def test_a_batch_reports_the_same_bad_rows_with_threaded_signature_checks(
    world: World,
) -> None:
    maker = await world.org("manufacturer", "CN")
    site = await world.site(maker, "CN", (STEEL,))
    stranger = OrganisationKey.generate()

    def good(i: int) -> Submission:
        mass = 1000.0 + i
        figures = {"specificEmbeddedEmissionsDirect": 2.0, "attributedEmissions": 2.0 * mass}
        document = world.record(
            site, activityData={**PERIOD, "netMass": mass}, directEmissions=figures
        )
        signed = maker.sign(document)
        return Submission(signed.payload, signed.signature, signed.key_id)

    wrong_line = maker.sign(world.record(site, cn_code=WIRE))
    loose = json.dumps(json.loads(good(9).payload), indent=1).encode()
    by_stranger = stranger.sign_document(world.record(site))
    rows = [
        good(0),
        Submission(good(1).payload, good(2).signature, maker.key.key_id),  # another record's
        Submission(wrong_line.payload, good(3).signature, maker.key.key_id),  # both wrong
        Submission(wrong_line.payload, wrong_line.signature, wrong_line.key_id),
        Submission(by_stranger.payload, by_stranger.signature, by_stranger.key_id),
        Submission(b"{not json", good(4).signature, maker.key.key_id),
        Submission(loose, maker.key.sign_document({"x": 1}).signature, maker.key.key_id),
        *(good(10 + i) for i in range(200)),  # several chunks of signatures
    ]
    reports = []
    base = world.router.settings
    for threads in (0, 2):
        world.router.settings = base.with_overrides(
            ingest_signature_threads=threads, ingest_threaded_min_batch=1
        )
        with pytest.raises(BadInput) as raised:
            await publishing.publish_batch(world.router, rows)
        reports.append((raised.value.message, raised.value.details))
    world.router.settings = base
    assert reports[0] == reports[1]
    message, details = reports[1]
    assert message == "6 of 207 rows are invalid: nothing was published"
    assert [(p["row"], p["code"], p["field"]) for p in details["problems"]] == [
        (1, "INVALID_SIGNATURE", "(submission)"),
        (2, "INVALID_SIGNATURE", "(submission)"),  # the signature is checked before the line
        (3, "BAD_USER_INPUT", "cnCode"),
        (4, "UNKNOWN_KEY", "(submission)"),
        (5, "BAD_USER_INPUT", "(submission)"),
        (6, "BAD_USER_INPUT", "(submission)"),
    ]
    assert await count(world.router, "cn", "records") == 0

    published = await publishing.publish_batch(world.router, [rows[0], *rows[7:]])
    assert len(published) == 201 and not any(p.replayed for p in published)
    assert await count(world.router, "cn", "records") == 201
