#!/usr/bin/env bash
# Install everything the test suite needs on a fresh machine, then run the whole suite.
#   ./test.sh              everything, including the real-vLLM contract tests (CPU build, own venv)
#   ./test.sh -m 'not vllm'  anything pytest accepts is passed through
set -euo pipefail
cd "$(dirname "$0")"

# Alert rules are checked by the real promtool (Debian: prometheus), Alertmanager's routing by amtool
# (Debian: prometheus-alertmanager).
if ! command -v promtool >/dev/null 2>&1 || ! command -v amtool >/dev/null 2>&1; then
  install="apt-get install -y -qq --no-install-recommends prometheus prometheus-alertmanager"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive $install >/dev/null
  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive $install >/dev/null; fi
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
exec .venv/bin/python -m pytest "$@"
