"""Which goods CBAM covers and which of their emissions count (Annex I, Art. 7(1) + Annex II).

WHY a module of its own: scope is rule data (the Annex I exclusions and the Annex II list are
UNCONFIRMED in the reference), and several calculations ask the same three questions of a CN code.
"""

from __future__ import annotations

from .rulebook import RuleVersion

__all__ = [
    "counts_indirect",
    "in_annex_i",
    "normalise_cn",
    "sector_of",
    "under_de_minimis_threshold",
]


def normalise_cn(cn: str) -> str:
    """CN code as digits only ("7208 51 20" -> "72085120"); rejects anything else."""
    digits = cn.replace(" ", "").replace(".", "")
    if not digits.isdigit() or len(digits) not in (4, 6, 8):
        raise ValueError(f"not a CN code: {cn!r}")
    return digits


def _has_prefix(cn: str, prefixes: tuple[str, ...]) -> bool:
    return any(cn.startswith(p) for p in prefixes)


def in_annex_i(cn: str, rules: RuleVersion) -> bool:
    """Annex I of Reg. 2023/956: listed prefixes minus the excluded ferro-alloys, scrap, 3105 60 00."""
    return _has_prefix(cn, rules.strings("scope.annex_i_cn_prefixes")) and not _has_prefix(
        cn, rules.strings("scope.annex_i_excluded_cn_prefixes")
    )


def sector_of(cn: str, rules: RuleVersion) -> str:
    pairs = rules.figure("scope.sector_by_cn_prefix").value
    best = ""
    sector = ""
    for prefix, name in pairs:
        p = str(prefix)
        if cn.startswith(p) and len(p) > len(best):
            best, sector = p, str(name)
    if not sector:
        raise ValueError(f"CN {cn} is outside the CBAM sectors")
    return sector


def counts_indirect(cn: str, rules: RuleVersion) -> bool:
    """Art. 7(1): for goods in Annex II only direct emissions are taken into account."""
    return not _has_prefix(cn, rules.strings("scope.direct_only_cn_prefixes"))


def under_de_minimis_threshold(cn: str, rules: RuleVersion) -> bool:
    """Art. 2(3a): electricity and hydrogen do not count toward (nor benefit from) the 50 t threshold."""
    return not _has_prefix(cn, rules.strings("de_minimis.excluded_cn_prefixes"))
