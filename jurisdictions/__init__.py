"""CBAM jurisdiction modules: pure calculation of obligations under versioned, bitemporal rule data.

No database, network or other hub package is imported here; every regulatory figure is rule data
(``rules/*.json``) with its legal source and status. See jurisdictions/README.md for the gaps.
"""

from .art9 import CarbonPricePaid, Deduction, deduction_for_line
from .declaration import AnnualDeclaration, DeMinimis, ImportLine, LineResult, de_minimis, declare
from .defaults import DefaultValue, DefaultValueTable, load_default_table
from .manufacturer import AuditStep, FuelUse, LineFootprint, Meter, ProductionLine, line_footprints
from .origin import Scheme, carbon_price_evidence, load_schemes
from .pricing import certificate_price, price_key
from .recalc import LineDifference, Recalculation, recalculate
from .rulebook import Figure, FigureMissing, Rulebook, RuleError, RuleVersion, Status, load_rulebook
from .scenarios import ScenarioInputs, ScenarioResult, run_scenarios
from .see import SEE, AttributedDirect, Precursor, attributed_indirect, see_complex, see_simple
from .uk import UkLine, sectoral_price, uk_liability

__all__ = [
    "SEE",
    "AnnualDeclaration",
    "AttributedDirect",
    "AuditStep",
    "CarbonPricePaid",
    "DeMinimis",
    "Deduction",
    "DefaultValue",
    "DefaultValueTable",
    "Figure",
    "FigureMissing",
    "FuelUse",
    "ImportLine",
    "LineDifference",
    "LineFootprint",
    "LineResult",
    "Meter",
    "Precursor",
    "ProductionLine",
    "Recalculation",
    "RuleError",
    "RuleVersion",
    "Rulebook",
    "ScenarioInputs",
    "ScenarioResult",
    "Scheme",
    "Status",
    "UkLine",
    "attributed_indirect",
    "carbon_price_evidence",
    "certificate_price",
    "de_minimis",
    "declare",
    "deduction_for_line",
    "line_footprints",
    "load_default_table",
    "load_rulebook",
    "load_schemes",
    "price_key",
    "recalculate",
    "run_scenarios",
    "sectoral_price",
    "see_complex",
    "see_simple",
    "uk_liability",
]
