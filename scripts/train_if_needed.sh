#!/usr/bin/env bash
# Trains the bot's model when there is none or when its inputs changed
# (config.yml, the domain, the training data, bot/nlu). The model is bot/models/relais.tar.gz.
#   scripts/train_if_needed.sh           # train only if needed (`make model`)
#   scripts/train_if_needed.sh --force   # always train, from scratch (`make train`)
# Rasa's full output goes to bot/models/train.log; the training time is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=bot/models/relais.tar.gz
FINGERPRINT_FILE=bot/models/.fingerprint
LOG=bot/models/train.log
# inputs: the config, the domain, the data and the custom NLU components (bot/nlu)
fingerprint=$(cat config.yml $(find bot/domain.yml bot/domain bot/data bot/nlu -type f -not -name '*.pyc' 2>/dev/null | sort) \
  | sha256sum | cut -d' ' -f1)
if [ "${1:-}" != "--force" ] && [ -f "$MODEL" ] && [ "$(cat "$FINGERPRINT_FILE" 2>/dev/null)" = "$fingerprint" ]; then
  echo "bot model is up to date ($MODEL)"
  exit 0
fi
mkdir -p bot/models
echo "training the bot model (log: $LOG)"
export SQLALCHEMY_SILENCE_UBER_WARNING=1 TF_CPP_MIN_LOG_LEVEL=2
start=$(date +%s)
domain=bot/domain.yml; [ -d bot/domain ] && domain=bot/domain
force=(); [ "${1:-}" = "--force" ] && force=(--force)  # --force: no reuse of Rasa's training cache
if ! .venv-bot/bin/rasa train --config config.yml --domain "$domain" --data bot/data \
     --out bot/models --fixed-model-name relais "${force[@]}" > "$LOG" 2>&1; then
  tail -40 "$LOG"
  echo "training failed; full log in $LOG" >&2
  exit 1
fi
echo "$fingerprint" > "$FINGERPRINT_FILE"
echo "trained $MODEL in $(( $(date +%s) - start )) s"
