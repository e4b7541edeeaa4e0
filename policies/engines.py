"""The policy engine and Authorizer the settings ask for."""

from __future__ import annotations

from cbamhub.settings import Settings

from .authorizer import Authorizer
from .decision_cache import DecisionCache
from .engine import PolicyEngine
from .opa_rest_engine import OpaRestEngine
from .rego_engine import RegoEngine


def engine_from_settings(settings: Settings) -> PolicyEngine:
    """embedded: the bundle compiled in process now (a broken policy raises PolicyLoadError);
    opa: the OPA server at settings.opa_url, which loads its own bundle."""
    if settings.policy_engine == "opa":
        return OpaRestEngine(settings.opa_url, timeout_seconds=settings.policy_timeout_seconds)
    return RegoEngine.from_dir(settings.policy_bundle_dir)


def authorizer_from_settings(settings: Settings, cache: DecisionCache | None = None) -> Authorizer:
    return Authorizer(
        engine_from_settings(settings),
        timeout_seconds=settings.policy_timeout_seconds,
        cache=cache,
    )
