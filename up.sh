#!/usr/bin/env bash
# One command per environment: ./up.sh dev | ./up.sh prod
# With the Pulumi CLI and AWS credentials: `python -m preflight doctor`, then `pulumi up` with the policy pack (local
# state backend by default).
# Without them: render the stack offline, run the same policy pack over it, and print the capacity/cost plan.
set -euo pipefail
cd "$(dirname "$0")"
stack="${1:?usage: ./up.sh <stack> (dev or prod)}"
shift || true

step() { printf '==> %s\n' "$*" >&2; }

step "venv: .venv with requirements.txt (about 25 s the first time, a few seconds after)"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt

has_aws_credentials() {
  [ -n "${AWS_ACCESS_KEY_ID:-}${AWS_PROFILE:-}${AWS_WEB_IDENTITY_TOKEN_FILE:-}${AWS_CONTAINER_CREDENTIALS_FULL_URI:-}" ] \
    || [ -f "$HOME/.aws/credentials" ] || [ -f "$HOME/.aws/config" ]
}

if command -v pulumi >/dev/null 2>&1 && has_aws_credentials; then
  # Read-only account checks (quotas, certificate, Spot role, secrets, endpoint access): a blocker stops here, in
  # seconds, instead of 20 minutes into `pulumi up`.
  .venv/bin/python -m preflight doctor --stack "$stack"
  [ -n "${PULUMI_BACKEND_URL:-}" ] || pulumi login --local
  [ -x policies/venv/bin/python ] || python3 -m venv policies/venv
  policies/venv/bin/python -m pip install -q --disable-pip-version-check -r policies/requirements.txt
  pulumi stack select "$stack" --create
  policy_config=()
  [ -f "policies/config/$stack.json" ] && policy_config=(--policy-pack-config "policies/config/$stack.json")
  exec pulumi up --stack "$stack" --policy-pack policies "${policy_config[@]}" "$@"
fi

echo "No Pulumi CLI or AWS credentials: rendering '$stack' offline (python -m preflight)." >&2
mkdir -p out
step "render: the program under Pulumi mocks -> out/$stack.json"
.venv/bin/python -m preflight render --stack "$stack" --json "out/$stack.json"
step "check: the policy pack over the first preview and the applied stack, as the real gate sees them"
checked=0
.venv/bin/python -m preflight check --stack "$stack" || checked=$?
step "plan: capacity, start-up time and cost"
.venv/bin/python -m preflight plan --stack "$stack"
if [ "$checked" -ne 0 ]; then
  echo "Fix the mandatory policy violations above in Pulumi.$stack.yaml, then run ./up.sh $stack again." >&2
  exit "$checked"
fi
echo
has_aws_credentials && credentials=1 || credentials=0
VLLM_EKS_HAS_AWS_CREDENTIALS=$credentials .venv/bin/python -m preflight.next_steps "$stack"
