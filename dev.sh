#!/usr/bin/env bash
# One entry point for people and CI: creates .venv from pyproject.toml on first use
# (and again whenever pyproject.toml changes), then runs what was asked.
#   ./dev.sh app        set up and start the app (sandbox mode without ANTHROPIC_API_KEY)
#   ./dev.sh test       set up and run the tests (pytest; extra args are passed on)
#   ./dev.sh bench      set up and run the benchmarks
#   ./dev.sh sandbox    start only the Anthropic-compatible sandbox server
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv

setup() {
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
  fi
  local stamp="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e '.[test]'
    rm -f "$VENV"/.installed-*
    touch "$stamp"
  fi
}

cmd=${1:-app}
shift || true
setup
case "$cmd" in
  app)     exec "$VENV/bin/python" -m streamlit run streamlit_app.py "$@" ;;
  test)    exec "$VENV/bin/python" -m pytest "$@" ;;
  bench)   exec "$VENV/bin/python" -m benchmarks "$@" ;;
  sandbox) exec "$VENV/bin/python" -m chatbot.sandbox "$@" ;;
  users)   exec "$VENV/bin/python" -m chatbot users "$@" ;;
  setup)   echo "environment ready in $VENV" ;;
  *) echo "usage: ./dev.sh [app|test|bench|sandbox|setup]" >&2; exit 2 ;;
esac
