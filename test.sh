#!/usr/bin/env bash
# Install everything the test suite needs on a fresh machine, then run the whole suite.
#   ./test.sh              everything, including the real-vLLM contract tests (CPU build, own venv)
#   ./test.sh -m 'not vllm'  anything pytest accepts is passed through (one pytest run, as given)
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
[ $# -gt 0 ] && exec .venv/bin/python -m pytest "$@"

# The whole suite is two pytest runs side by side. The real-vLLM contract (-m vllm) spends its minutes starting vLLM
# servers and the rest of the suite keeps about one core busy, so together they take the longer of the two, not the sum
# (README, Testing). The contract's live progress goes to its log, shown in full when both have ended.
mkdir -p out
contract_log=out/contract-tests.log
# Started with job control on: its own process group, and SIGINT not ignored (bash ignores it in background commands
# otherwise), so an interrupted ./test.sh interrupts it as Ctrl-C would and its fixtures stop the vLLM servers.
set -m
.venv/bin/python -m pytest -m vllm >"$contract_log" 2>&1 &
contract=$!
set +m
trap 'kill -INT -- "-$contract" 2>/dev/null; wait "$contract"' EXIT
trap 'exit 130' INT TERM
echo "==> the real-vLLM contract tests run beside this one; follow them with: tail -f $contract_log"
status=0
.venv/bin/python -m pytest -m "not vllm" || status=$?
contract_status=0
wait "$contract" || contract_status=$?
trap - EXIT INT TERM
echo "==> the real-vLLM contract tests ($contract_log):"
cat "$contract_log"
echo "==> exit status: suite without vLLM $status, real-vLLM contract $contract_status"
[ "$status" = 0 ] && exit "$contract_status"
exit "$status"
