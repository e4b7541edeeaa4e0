"""Fixtures for the jurisdiction tests: the packaged rule book (helpers live in jur_support.py)."""

from __future__ import annotations

from datetime import date

import pytest
from cbamhub.jurisdictions.rulebook import Rulebook, RuleVersion, load_rulebook
from jur_support import RECORDED


@pytest.fixture(scope="session")
def book() -> Rulebook:
    return load_rulebook()


@pytest.fixture(scope="session")
def rules(book: Rulebook) -> RuleVersion:
    return book.at(date(2026, 3, 1), RECORDED)
