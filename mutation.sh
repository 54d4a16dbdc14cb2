#!/usr/bin/env bash
# Mutation-testing benchmark (scripts/mutation_benchmark.py): installs what the fast suite needs, then plants one
# small bug at a time and counts how many the tests catch.
#   ./mutation.sh --per-module 2 --seed 21       two random mutants of every module
#   ./mutation.sh --module stack_config.py        every mutant of one module;  --list  counts only
set -euo pipefail
cd "$(dirname "$0")"
./test.sh --collect-only -q -m 'not vllm' >/dev/null
exec .venv/bin/python scripts/mutation_benchmark.py "$@"
