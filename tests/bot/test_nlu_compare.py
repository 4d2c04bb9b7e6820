"""scripts/nlu_compare.py: the change per intent between two `make evaluate` runs."""

from __future__ import annotations

import json
from pathlib import Path

from scripts.nlu_compare import main


def _report(directory: Path, rows: dict[str, tuple[float, int]], macro: float) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    report: dict[str, object] = {
        name: {"precision": f1, "recall": f1, "f1-score": f1, "support": support} for name, (f1, support) in rows.items()
    }
    report["accuracy"] = macro
    report["macro avg"] = {"precision": macro, "recall": macro, "f1-score": macro, "support": 0}
    (directory / "intent_report.json").write_text(json.dumps(report))


def _row(output: str, intent: str) -> list[str]:
    line = next(line for line in output.splitlines() if line.startswith(f"| {intent} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_each_intent_is_better_worse_same_new_or_gone_with_f1_and_support(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    _report(tmp_path / "before", {"greet": (0.95, 100), "ask_shipping": (0.90, 200), "ask_stock": (0.91, 50),
                                  "old": (0.5, 3)}, 0.90)
    _report(tmp_path / "after", {"greet": (0.93, 100), "ask_shipping": (0.94, 220), "ask_stock": (0.912, 50),
                                 "new_intent": (0.8, 30)}, 0.92)
    _report(tmp_path / "after" / "held", {"ask_shipping": (1.0, 12)}, 1.0)
    assert main([str(tmp_path / "before"), str(tmp_path / "after"), "--out", str(tmp_path / "cmp.md")]) == 0
    output = capsys.readouterr().out
    assert _row(output, "greet") == ["greet", "worse", "0.950", "0.930", "-0.020", "100", "100"]
    assert _row(output, "ask_shipping") == ["ask_shipping", "better", "0.900", "0.940", "+0.040", "200", "220"]
    assert _row(output, "ask_stock")[1] == "same"
    assert _row(output, "old")[1] == "gone" and _row(output, "new_intent")[1] == "new"
    assert output.index("| greet |") < output.index("| ask_shipping |")  # the worse first
    assert "macro-F1 0.920 (before 0.900, +0.020)" in output
    held = output.split("Held-out reviewed messages")[1]  # scored apart; no previous held run
    assert "No previous run" in held and "| ask_shipping | - | - | 1.000 |" in held
    assert (tmp_path / "cmp.md").read_text().strip() == output.strip()


def test_without_a_previous_run_the_report_says_so(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    _report(tmp_path / "after", {"greet": (0.93, 100)}, 0.93)
    assert main([str(tmp_path / "missing"), str(tmp_path / "after")]) == 0
    assert "No previous run to compare with" in capsys.readouterr().out
