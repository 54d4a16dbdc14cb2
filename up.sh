#!/usr/bin/env bash
# One command per environment: ./up.sh dev | ./up.sh prod
# With the Pulumi CLI and AWS credentials: `pulumi up` with the policy pack, local state backend by default.
# Without them: render the stack offline, run the same policy pack over it, and print the capacity/cost plan.
set -euo pipefail
cd "$(dirname "$0")"
stack="${1:?usage: ./up.sh <stack> (dev or prod)}"
shift || true

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt

has_aws_credentials() {
  [ -n "${AWS_ACCESS_KEY_ID:-}${AWS_PROFILE:-}${AWS_WEB_IDENTITY_TOKEN_FILE:-}${AWS_CONTAINER_CREDENTIALS_FULL_URI:-}" ] \
    || [ -f "$HOME/.aws/credentials" ] || [ -f "$HOME/.aws/config" ]
}

if command -v pulumi >/dev/null 2>&1 && has_aws_credentials; then
  [ -n "${PULUMI_BACKEND_URL:-}" ] || pulumi login --local
  [ -x policies/venv/bin/python ] || python3 -m venv policies/venv
  policies/venv/bin/python -m pip install -q --disable-pip-version-check -r policies/requirements.txt
  pulumi stack select "$stack" --create
  exec pulumi up --stack "$stack" --policy-pack policies "$@"
fi

echo "No Pulumi CLI or AWS credentials: rendering '$stack' offline (python -m preflight)." >&2
mkdir -p out
.venv/bin/python -m preflight render --stack "$stack" --json "out/$stack.json"
.venv/bin/python -m preflight check --stack "$stack"   # first preview and applied stack, as the real gate sees them
exec .venv/bin/python -m preflight plan --stack "$stack"
