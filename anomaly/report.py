"""Write the held-out evaluation of the active model into anomaly/README.md.

``python -m cbamhub.anomaly.report`` replaces the text between the EVALUATION markers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .features import build_lookup, feature_matrix
from .metrics import evaluate
from .registry import ModelRegistry
from .synthetic import generate
from .train import HELDOUT_SEED_OFFSET

README = Path(__file__).parent / "README.md"
BEGIN, END = "<!-- EVALUATION:BEGIN -->", "<!-- EVALUATION:END -->"


def _table(title: str, rows: dict[str, Any]) -> list[str]:
    out = [
        f"| {title} | n | anomalies | precision | recall | ROC AUC |",
        "|---|---|---|---|---|---|",
    ]
    for k, m in rows.items():
        out.append(
            f"| {k} | {m['n']} | {m['positives']} | {m['precision']:.4f} | {m['recall']:.4f} | {m['roc_auc']:.4f} |"
        )
    return out


def render() -> str:
    model = ModelRegistry().load()
    lookup = build_lookup()
    meta = model.metadata
    data = generate(int(meta["n_heldout"]), int(meta["seed"]) + HELDOUT_SEED_OFFSET, lookup)
    thr = float(meta["threshold"])
    ev = evaluate(data, model.booster.predict(feature_matrix(data.columns, lookup)), thr, lookup)
    lines = [
        BEGIN,
        f"Model `{model.version}` (seed {meta['seed']}), held-out synthetic set of {meta['n_heldout']} records "
        f"(seed {int(meta['seed']) + HELDOUT_SEED_OFFSET}), threshold {thr}. Per kind: that kind against the normal records.",
        "",
        *_table("overall", {"all": ev["overall"]}),
        "",
        *_table("anomaly kind", ev["kind"]),
        "",
        *_table("sector", ev["sector"]),
        END,
    ]
    return "\n".join(lines)


def main() -> None:
    text = README.read_text(encoding="utf-8")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    README.write_text(head + render() + tail, encoding="utf-8")
    print(f"updated {README}")


if __name__ == "__main__":
    main()
