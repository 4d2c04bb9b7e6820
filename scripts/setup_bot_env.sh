#!/usr/bin/env bash
# Creates the bot's environment (.venv-bot) with Rasa 3.6.21 from the lock files.
# Picks: $BOT_PYTHON if set, else python3.10 on PATH, else pyenv's 3.10,
# else Python 3.11 with the pinned-wheel fallback (see docs/bot.md).
set -euo pipefail
cd "$(dirname "$0")/.."
ENV_DIR=.venv-bot

pick_python() {
  if [ -n "${BOT_PYTHON:-}" ]; then echo "$BOT_PYTHON"; return; fi
  if command -v python3.10 >/dev/null 2>&1 && python3.10 -c 'import sys' >/dev/null 2>&1; then
    command -v python3.10; return
  fi
  if command -v pyenv >/dev/null 2>&1; then
    for candidate in "$(pyenv root)"/versions/3.10.*/bin/python3.10; do
      if [ -x "$candidate" ]; then echo "$candidate"; return; fi
    done
  fi
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then command -v "$candidate"; return; fi
  done
  echo "no usable Python found for the bot (set BOT_PYTHON)" >&2
  exit 1
}

PY=$(pick_python)
VERSION=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
echo "bot environment: using $PY (Python $VERSION)"
rm -rf "$ENV_DIR"
"$PY" -m venv "$ENV_DIR"
"$ENV_DIR/bin/pip" install -q --upgrade "pip<24.1" 2>/dev/null || true
case "$VERSION" in
  3.10|3.9|3.8)
    "$ENV_DIR/bin/pip" install -q -r bot/requirements.lock ;;
  3.11)
    echo "bot environment: Python 3.10 not found, using the verified 3.11 fallback"
    "$ENV_DIR/bin/pip" install -q --ignore-requires-python -r bot/requirements-py311.lock
    "$ENV_DIR/bin/pip" install -q --no-deps --ignore-requires-python rasa==3.6.21 ;;
  *)
    echo "Rasa 3.6.21 needs Python 3.8-3.11, found $VERSION (set BOT_PYTHON)" >&2; exit 1 ;;
esac
# pytest runs the action unit tests (tests/bot/actions) in this environment.
"$ENV_DIR/bin/pip" install -q "pytest==8.3.5"
"$ENV_DIR/bin/python" -c 'import rasa, rasa_sdk; print("rasa", rasa.__version__, "rasa_sdk", rasa_sdk.__version__)'
touch "$ENV_DIR/.installed"
