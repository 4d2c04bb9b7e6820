"""Compare two NLU evaluations per intent (`make evaluate` runs it after each evaluation).

    python scripts/nlu_compare.py reports/nlu-previous reports/nlu [--out reports/nlu/comparison.md]

Each directory holds Rasa's `intent_report.json` (the cross-validation) and, when
held-out reviewed data was scored, `held/intent_report.json`. For each intent: the
F1 before and after, the change, the support (examples) before and after, and a
verdict — better, worse (the F1 moved by more than 0.005), same, new or gone —
worst first, then the macro-F1 of both runs. Standard library only (either
environment runs it). Exit code 0 whatever the change: it reports, it does not judge.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

THRESHOLD = 0.005  # a smaller move of the F1 is noise
AGGREGATES = {"accuracy", "macro avg", "weighted avg", "micro avg"}


def intents(report: dict[str, Any]) -> dict[str, dict[str, float]]:
    """The per-intent rows of a Rasa intent report (aggregates left out)."""
    return {
        name: scores for name, scores in report.items()
        if name not in AGGREGATES and isinstance(scores, dict) and "f1-score" in scores
    }


def verdict(before: dict[str, float] | None, after: dict[str, float] | None) -> str:
    if before is None:
        return "new"
    if after is None:
        return "gone"
    change = after["f1-score"] - before["f1-score"]
    return "better" if change > THRESHOLD else "worse" if change < -THRESHOLD else "same"


def compare(before: dict[str, Any] | None, after: dict[str, Any], title: str) -> list[str]:
    """A markdown table of the change per intent, worst first."""
    old, new = intents(before or {}), intents(after)
    rows = []
    for name in sorted(set(old) | set(new)):
        o, n = old.get(name), new.get(name)
        change = (n["f1-score"] if n else 0.0) - (o["f1-score"] if o else 0.0)
        rows.append((verdict(o, n) if before is not None else "-", change, name, o, n))
    order = {"worse": 0, "gone": 1, "better": 2, "new": 3, "same": 4, "-": 5}
    rows.sort(key=lambda row: (order[row[0]], row[1] if row[0] != "better" else -row[1], row[2]))

    def f1(scores: dict[str, float] | None) -> str:
        return f"{scores['f1-score']:.3f}" if scores else "-"

    def support(scores: dict[str, float] | None) -> str:
        return str(int(scores["support"])) if scores else "-"

    lines = [f"## {title}", ""]
    if before is None:
        lines += ["No previous run to compare with: this one is the reference for the next.", ""]
    lines += ["| intent | verdict | F1 before | F1 after | change | support before | support after |",
              "|---|---|---|---|---|---|---|"]
    for kind, change, name, o, n in rows:
        shown = f"{change:+.3f}" if o and n else "-"
        lines.append(f"| {name} | {kind} | {f1(o)} | {f1(n)} | {shown} | {support(o)} | {support(n)} |")
    macro_after = after.get("macro avg", {}).get("f1-score")
    macro_before = (before or {}).get("macro avg", {}).get("f1-score")
    if macro_after is not None:
        summary = f"macro-F1 {macro_after:.3f}"
        if macro_before is not None:
            summary += f" (before {macro_before:.3f}, {macro_after - macro_before:+.3f})"
        counts = {kind: sum(1 for row in rows if row[0] == kind) for kind in ("better", "worse", "same", "new", "gone")}
        if before is not None:
            summary += "; " + ", ".join(f"{count} {kind}" for kind, count in counts.items() if count)
        lines += ["", summary]
    return [*lines, ""]


def _load(path: Path) -> dict[str, Any] | None:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return loaded if isinstance(loaded, dict) else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("previous", type=Path, help="the previous run's directory (may be missing)")
    parser.add_argument("current", type=Path, help="this run's directory")
    parser.add_argument("--out", type=Path, help="also write the comparison there (markdown)")
    args = parser.parse_args(argv)
    current = _load(args.current / "intent_report.json")
    if current is None:
        print(f"no intent_report.json in {args.current}", file=sys.stderr)
        return 2
    lines = compare(_load(args.previous / "intent_report.json"), current, "Cross-validation, per intent")
    held = _load(args.current / "held" / "intent_report.json")
    if held is not None:
        lines += compare(_load(args.previous / "held" / "intent_report.json"), held,
                         "Held-out reviewed messages (bot/tests/nlu_reviewed_held), per intent")
    text = "\n".join(["# NLU: this run against the previous one", "", *lines])
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
