"""The hub's authorization: Rego policies (this folder's .rego files and data/) and the engines that
run them. Callers use `Authorizer` (see docs/DESIGN.md, "Policies")."""

from .authorizer import Authorizer
from .decision_cache import DecisionCache, InProcessDecisionCache
from .decisions import Decision, Scope, fields_for
from .engine import PolicyEngine
from .errors import PolicyEngineError, PolicyError, PolicyLoadError, PolicyUnavailable
from .grants import AssignmentSet, Grant, GrantSet
from .opa_rest_engine import OpaRestEngine
from .rego_engine import RegoEngine
from .subjects import Principal, RecordRef, Role

__all__ = [
    "AssignmentSet",
    "Authorizer",
    "Decision",
    "DecisionCache",
    "Grant",
    "GrantSet",
    "InProcessDecisionCache",
    "OpaRestEngine",
    "PolicyEngine",
    "PolicyEngineError",
    "PolicyError",
    "PolicyLoadError",
    "PolicyUnavailable",
    "Principal",
    "RecordRef",
    "RegoEngine",
    "Role",
    "Scope",
    "fields_for",
]
