"""`python -m preflight.next_steps <stack>`: what to do after the offline run of `./up.sh`, for this stack file.

Pure over the stack file and the environment up.sh saw: what to edit before a real deployment (example domain and
certificate, the cluster administrator), then what to install or set, then the command to run next.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Mapping
from typing import Any

from preflight.render import read_stack_config

# RFC 2606 reserves these names for documentation; the AWS docs' example account id is 123456789012.
_EXAMPLE_DOMAIN = re.compile(r"(^|\.)example(\.(com|org|net))?$")
_EXAMPLE_ACCOUNT = "123456789012"


def edits(stack: str, config: Mapping[str, Any]) -> list[str]:
    """Settings in Pulumi.<stack>.yaml that still hold examples or are missing, one line each."""
    edge = config.get("vllm-eks:edge") or {}
    cluster = config.get("vllm-eks:cluster") or {}
    lines = []
    domain = edge.get("domainName")
    if isinstance(domain, str) and _EXAMPLE_DOMAIN.search(domain):
        lines.append(f"vllm-eks:edge.domainName is the documentation example {domain}: set your API's domain")
    certificate = edge.get("certificateArn")
    if isinstance(certificate, str) and f":{_EXAMPLE_ACCOUNT}:" in certificate:
        lines.append("vllm-eks:edge.certificateArn is an example ARN: set an ACM certificate in us-east-1 for that domain")
    if not cluster.get("adminPrincipalArn"):
        lines.append("vllm-eks:cluster.adminPrincipalArn is not set: set the IAM role or user ARN that administers the cluster")
    return [f"edit Pulumi.{stack}.yaml: {line}" for line in lines]


def preparations(environment: Mapping[str, str], has_pulumi: bool, has_credentials: bool) -> list[str]:
    lines = []
    if not has_pulumi:
        lines.append("install the Pulumi CLI 3.200+ and Node.js 20+ (https://www.pulumi.com/docs/install/)")
    if not has_credentials:
        lines.append("configure AWS credentials (aws configure, AWS_PROFILE or an assumed role)")
    if not environment.get("PULUMI_BACKEND_URL") and not environment.get("PULUMI_CONFIG_PASSPHRASE"):
        lines.append(
            "export PULUMI_CONFIG_PASSPHRASE=<a passphrase you keep>: the local state backend encrypts the stack's "
            "secrets with it, and every later `pulumi` command needs the same one"
        )
    lines.append("check the account before paying for anything: .venv/bin/python -m preflight doctor --stack <stack>")
    return lines


def report(stack: str, config: Mapping[str, Any], environment: Mapping[str, str], *, has_pulumi: bool,
           has_credentials: bool) -> str:
    steps = [*edits(stack, config), *preparations(environment, has_pulumi, has_credentials)]
    steps = [step.replace("<stack>", stack) for step in steps]
    numbered = [f"  {index}. {step}" for index, step in enumerate(steps, 1)]
    return "\n".join(["next steps:", *numbered, f"then: ./up.sh {stack}   (pulumi up --stack {stack} --policy-pack policies "
                                                     f"--policy-pack-config policies/config/{stack}.json)"])


def main(argv: list[str]) -> int:
    stack = argv[0]
    print(
        report(
            stack,
            read_stack_config(stack),
            os.environ,
            has_pulumi=shutil.which("pulumi") is not None,
            has_credentials=os.environ.get("VLLM_EKS_HAS_AWS_CREDENTIALS") == "1",
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
