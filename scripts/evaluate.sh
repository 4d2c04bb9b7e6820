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
#                                 per-intent table, date, duration and command
#   held/                         the held-out reviewed messages (bot/tests/nlu_reviewed_held/*.yml,
#                                 written by the review's export) scored by the current model
#                                 (bot/models/relais.tar.gz, trained on bot/data): are they understood?
#   comparison.md                 the change per intent against the previous run (scripts/nlu_compare.py)
#
# The previous run is kept in reports/nlu-previous/ (moved there at the start), and the
# change per intent (better / worse, F1 and support) is printed at the end.
#
# The folds are stratified by intent and shuffled with a fixed seed (SEED, default
# 20240501: Rasa's StratifiedKFold draws from numpy's global generator), so two
# runs on the same data and config.yml give the same folds; DIET's own seed is in
# config.yml. FOLDS=3 or SEED=... may be set for a quicker or another draw.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=reports/nlu
FOLDS=${FOLDS:-5}
SEED=${SEED:-20240501}
domain=bot/domain.yml; [ -d bot/domain ] && domain=bot/domain
command=(rasa test nlu --config config.yml --domain "$domain" --nlu bot/data
         --cross-validation --folds "$FOLDS" --out "$OUT")
# rasa's CLI, with numpy's and random's global generators seeded first
seeded_rasa='import random, sys, numpy
seed = int(sys.argv[1]); random.seed(seed); numpy.random.seed(seed)
sys.argv = ["rasa", *sys.argv[2:]]
from rasa.__main__ import main
main()'

export SQLALCHEMY_SILENCE_UBER_WARNING=1 TF_CPP_MIN_LOG_LEVEL=2 PYTHONPATH=$PWD
PREVIOUS=reports/nlu-previous
HELD=bot/tests/nlu_reviewed_held
if [ -f "$OUT/intent_report.json" ]; then  # keep the last complete run to compare with
  rm -rf "$PREVIOUS"
  mv "$OUT" "$PREVIOUS"
fi
rm -rf "$OUT"
mkdir -p "$OUT"
echo "cross-validating the NLU (${FOLDS} folds); this trains ${FOLDS} models"
start=$(date +%s)
.venv-bot/bin/python -c "$seeded_rasa" "$SEED" "${command[@]:1}" > "$OUT/rasa-test.log" 2>&1 \
  || { tail -40 "$OUT/rasa-test.log"; exit 1; }
[ -f "$OUT/intent_report.json" ] || { tail -40 "$OUT/rasa-test.log"; echo "no report written" >&2; exit 1; }
seconds=$(( $(date +%s) - start ))

.venv-bot/bin/python - "$OUT" "$seconds" "${command[*]} (fold seed $SEED)" <<'PY'
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
def verdict(value, target):
    return "met" if value >= target else "MISSED"
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
    f"- intent macro-F1: **{macro['f1-score']:.3f}** (target 0.92, {verdict(macro['f1-score'], 0.92)}); "
    f"accuracy {intents.get('accuracy', 0):.3f}",
    f"- product_category F1: **{category.get('f1-score', 0):.3f}** "
    f"(target 0.90, {verdict(category.get('f1-score', 0), 0.90)}); "
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
print("\n".join(lines[:9]))
PY

# The held-out reviewed messages, scored apart by the model trained on bot/data.
if compgen -G "$HELD/*.yml" > /dev/null; then
  echo "scoring the held-out reviewed messages ($HELD) with $(readlink bot/models/relais.tar.gz || echo bot/models/relais.tar.gz)"
  .venv-bot/bin/rasa test nlu --model bot/models/relais.tar.gz --nlu "$HELD" --out "$OUT/held" \
    > "$OUT/held.log" 2>&1 || { tail -40 "$OUT/held.log"; exit 1; }
fi
echo
.venv-bot/bin/python scripts/nlu_compare.py "$PREVIOUS" "$OUT" --out "$OUT/comparison.md"
