#!/usr/bin/env bash
# 5-fold cross-validation of the bot's NLU (`make evaluate`).
#
# Trains the pipeline of config.yml five times, each on 4/5 of bot/data, and tests
# on the remaining fifth. Writes under reports/nlu/:
#   intent_report.json            per-intent precision / recall / F1 (Rasa)
#   intent_confusion_matrix.png   confusion matrix of the intents
#   intent_histogram.png          confidence histogram
#   DIETClassifier_report.json    entity report (product_category)
#   intent_errors.json, DIETClassifier_errors.json   the misclassified examples
#   summary.md                    macro-F1 of the intents, product_category F1,
#                                 date, duration and command
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=reports/nlu
FOLDS=${FOLDS:-5}
domain=bot/domain.yml; [ -d bot/domain ] && domain=bot/domain
command=(.venv-bot/bin/rasa test nlu --config config.yml --domain "$domain" --nlu bot/data
         --cross-validation --folds "$FOLDS" --out "$OUT")

export SQLALCHEMY_SILENCE_UBER_WARNING=1 TF_CPP_MIN_LOG_LEVEL=2
rm -rf "$OUT"
mkdir -p "$OUT"
echo "cross-validating the NLU (${FOLDS} folds); this trains ${FOLDS} models"
start=$(date +%s)
"${command[@]}" > "$OUT/rasa-test.log" 2>&1 || { tail -40 "$OUT/rasa-test.log"; exit 1; }
seconds=$(( $(date +%s) - start ))

.venv-bot/bin/python - "$OUT" "$seconds" "${command[*]}" <<'PY'
"""Write reports/nlu/summary.md from Rasa's JSON reports."""
import datetime
import json
import pathlib
import sys

out, seconds, command = pathlib.Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
intents = json.loads((out / "intent_report.json").read_text())
entities = json.loads((out / "DIETClassifier_report.json").read_text())
macro = intents["macro avg"]
category = entities.get("product_category", {})
rows = [
    (name, scores) for name, scores in sorted(intents.items())
    if isinstance(scores, dict) and "f1-score" in scores and name not in {"macro avg", "weighted avg", "micro avg"}
]
lines = [
    "# NLU cross-validation",
    "",
    f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
    f"- command: `{command}` (via `make evaluate`)",
    f"- duration: {seconds} s",
    f"- intent macro-F1: **{macro['f1-score']:.3f}** (target 0.92); accuracy {intents.get('accuracy', 0):.3f}",
    f"- product_category F1: **{category.get('f1-score', 0):.3f}** (target 0.90); "
    f"precision {category.get('precision', 0):.3f}, recall {category.get('recall', 0):.3f}",
    "",
    "| intent | precision | recall | F1 | examples |",
    "|---|---|---|---|---|",
]
lines += [
    f"| {name} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1-score']:.3f} | {s['support']} |"
    for name, s in rows
]
lines += ["", "Confusion matrix: intent_confusion_matrix.png; errors: intent_errors.json.", ""]
(out / "summary.md").write_text("\n".join(lines))
print("\n".join(lines[:8]))
PY
