"""`python -m preflight doctor --stack <s>`: read-only checks of the AWS account and the deployer before `pulumi up`.

What the stack needs is derived from its validated config and the capacity planner (the same load as `render`), then
compared with the account through the default credential chain in the stack's `aws:region`. One line per check:
`ok`, `warn` or `blocker`, found against needed, and the command that fixes it. Exit 1 on a blocker, 2 when the
doctor cannot run at all (no credentials, bad config).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vllm_eks.planning.catalog import EGRESS_IP_URL
from preflight.doctor_checks import (
    Account,
    Finding,
    check_apigateway_account,
    check_certificate,
    check_cloudfront_origin_timeout,
    check_endpoint_access,
    check_interface_endpoints,
    check_gpu_offerings,
    check_identity,
    check_network_quotas,
    check_secrets,
    check_spot_role,
    check_stack_state,
    check_vcpu_quotas,
    error_code,
)


def lookup_egress_ip(timeout_seconds: float = 3.0) -> str | None:
    """The deployer's public IPv4 address as AWS sees it, or None when it cannot be determined."""
    import urllib.request

    try:
        with urllib.request.urlopen(EGRESS_IP_URL, timeout=timeout_seconds) as response:  # noqa: S310 - fixed https URL
            return str(ipaddress.ip_address(response.read().decode().strip()))
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class GpuNeed:
    """One model's GPU nodes at maxReplicas, split by market as its Karpenter pools launch them."""

    model: str
    instance_type: str
    vcpu_per_instance: int
    on_demand_instances: int
    spot_instances: int


@dataclass(frozen=True)
class StackNeeds:
    """Everything the doctor compares with the account, derived from the stack config and the planner."""

    stack: str
    region: str
    cluster_name: str
    availability_zones: int
    gpu: tuple[GpuNeed, ...]
    nat_gateways: int
    interface_endpoints: tuple[str, ...]
    cloudfront_origin_timeout_seconds: int | None
    domain_name: str | None
    certificate_arn: str | None
    read_secrets: tuple[str, ...]
    created_secrets: tuple[str, ...]
    admin_principal_arn: str | None
    endpoint_public_access: bool
    public_access_cidrs: tuple[str, ...]
    deployer_networks: tuple[str, ...] = ()  # cluster.deployerCidrs and deployerSecurityGroupIds: 443 on the cluster SG

    @property
    def uses_spot(self) -> bool:
        return any(gpu.spot_instances for gpu in self.gpu)


def stack_needs(stack: str, raw_config: dict[str, Any]) -> StackNeeds:
    """Validate a stack's `config:` mapping as the program does and derive what its first deploy needs."""
    from vllm_eks.planning.catalog import GPU_INSTANCES
    from vllm_eks.edge.edge_specs import timeout_chain
    from vllm_eks.cluster.karpenter import on_demand_gpus
    from stack_checks import check_stack
    from stack_config import project_sections

    checked = check_stack(project_sections(raw_config))  # every config-time check of the program, in one error
    config, plans = checked.config, checked.capacity_plans
    gpu = []
    for model in config.models:
        plan = plans[model.name]
        on_demand = on_demand_gpus(model.capacity_type, model.max_replicas, model.on_demand_replicas, plan.gpu_count)
        on_demand_instances = on_demand // plan.gpu_count
        gpu.append(GpuNeed(model.name, plan.instance_type, GPU_INSTANCES[plan.instance_type].vcpu, on_demand_instances,
                           model.max_replicas - on_demand_instances))
    # The names __main__.py gives the cluster and the internal key's secret (tests/test_doctor.py checks them against
    # a render). Consumer and origin-verify secrets get generated names and cannot collide.
    cluster_name = f"vllm-eks-{stack}"
    network, edge, cluster = config.network, config.edge, config.cluster
    return StackNeeds(
        stack=stack,
        region=str(raw_config.get("aws:region", "us-east-1")),
        cluster_name=cluster_name,
        availability_zones=network.availability_zones,
        gpu=tuple(gpu),
        nat_gateways=network.availability_zones if network.nat_gateways == "perAz" else 1,
        interface_endpoints=tuple(network.interface_endpoints),
        # The origin read timeout the Edge renders (edge_cdn.distribution); a quota key from config would replace it.
        cloudfront_origin_timeout_seconds=timeout_chain(edge.max_request_seconds).cloudfront_read_seconds
        if edge.cloudfront
        else None,
        domain_name=edge.domain_name,
        certificate_arn=edge.certificate_arn if edge.cloudfront else None,
        # The pull-through cache rules' credentials (ImageCache looks them up) and the gated models' token.
        read_secrets=tuple(
            name
            for name in [
                cluster.docker_hub_credentials_secret_name,
                cluster.github_credentials_secret_name,
                cluster.hugging_face_token_secret_name,
            ]
            if name
        ),
        created_secrets=(f"{cluster_name}/vllm/api-key",),
        admin_principal_arn=cluster.admin_principal_arn,
        endpoint_public_access=cluster.endpoint_public_access,
        public_access_cidrs=tuple(cluster.public_access_cidrs),
        deployer_networks=(*cluster.deployer_cidrs, *cluster.deployer_security_group_ids),
    )


# The only permissions the doctor uses: every action is a read (tests/test_doctor.py has parliament confirm it).
DOCTOR_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "ReadAccountWideSettings",  # these actions have no resource-level permissions: "*" is their only scope
            "Effect": "Allow",
            "Action": [
                "sts:GetCallerIdentity",
                "ec2:DescribeAvailabilityZones",
                "ec2:DescribeInstanceTypeOfferings",
                "ec2:DescribeAddresses",
                "ec2:DescribeVpcs",
                "ec2:DescribeVpcEndpointServices",
                "servicequotas:GetServiceQuota",
                "servicequotas:GetAWSDefaultServiceQuota",
                "iam:ListRoles",
            ],
            "Resource": "*",
        },
        {
            "Sid": "ReadWhatTheStackNames",
            "Effect": "Allow",
            "Action": ["eks:DescribeCluster", "acm:DescribeCertificate", "secretsmanager:DescribeSecret"],
            "Resource": [
                "arn:aws:eks:*:*:cluster/vllm-eks-*",
                "arn:aws:acm:us-east-1:*:certificate/*",
                "arn:aws:secretsmanager:*:*:secret:*",
            ],
        },
        {
            "Sid": "ReadApiGatewayAccountSetting",
            "Effect": "Allow",
            "Action": "apigateway:GET",
            "Resource": "arn:aws:apigateway:*::/account",
        },
    ],
}

CHECKS = (
    check_stack_state,
    check_gpu_offerings,
    check_vcpu_quotas,
    check_network_quotas,
    check_interface_endpoints,
    check_cloudfront_origin_timeout,
    check_certificate,
    check_spot_role,
    check_secrets,
    check_apigateway_account,
)


class CannotRun(Exception):
    """The doctor cannot ask AWS at all (no or bad credentials): one line, exit 2."""


def run_doctor(needs: StackNeeds, session, egress_ip: Callable[[], str | None] = lookup_egress_ip) -> list[Finding]:
    """Every check in order; a check AWS refuses to answer becomes a `warn` naming the refusal, never a traceback."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        credentials = session.get_credentials()
    except BotoCoreError as error:  # a named profile that does not exist, a broken config file
        raise CannotRun(f"AWS credentials unusable: {error}") from None
    if credentials is None:
        raise CannotRun("no AWS credentials found (set AWS_PROFILE, run `aws sso login` or `aws configure`)")
    account = Account(session, needs.region)
    try:
        identity = account.client("sts").get_caller_identity()
    except (ClientError, BotoCoreError) as error:
        raise CannotRun(f"AWS refused the credentials: {error}") from None
    account.account_id, account.caller_arn = identity["Account"], identity["Arn"]
    findings = check_identity(needs, account)
    for check in CHECKS:
        findings += _guarded(check.__name__.removeprefix("check_").replace("_", "-"), lambda c=check: c(needs, account))
    findings += _guarded("endpoint-access", lambda: check_endpoint_access(needs, account, egress_ip))
    return findings


def _guarded(name: str, check: Callable[[], list[Finding]]) -> list[Finding]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return check()
    except ClientError as error:
        operation = getattr(error, "operation_name", "?")
        return [Finding(name, "warn", f"could not check: {error_code(error)} on {operation}",
                        "the read-only permissions of the doctor's policy (README, 'Before the first deploy')",
                        "attach the doctor's policy to the deploying principal, or check by hand")]
    except BotoCoreError as error:
        return [Finding(name, "warn", f"could not check: {error}", "an answer from AWS", "retry")]


def format_findings(findings: list[Finding]) -> str:
    width = max(len(finding.check) for finding in findings)
    lines = []
    for finding in findings:
        line = f"{finding.status:<7}  {finding.check:<{width}}  found {finding.found}; needs {finding.needed}"
        lines.append(line + (f"; fix: {finding.fix}" if finding.fix else ""))
    return "\n".join(lines)


def _session(region: str):
    """The default credential chain (environment, profile, SSO, container or instance role) in the stack's Region."""
    import boto3

    return boto3.Session(region_name=region)


def _ip_address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {value!r}, expected an IP address such as 203.0.113.7") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m preflight doctor", description=(__doc__ or "").splitlines()[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--stack", help="stack name: reads Pulumi.<stack>.yaml")
    which.add_argument("--stack-file", type=Path, help="a stack file kept elsewhere (Pulumi.<name>.yaml)")
    which.add_argument("--print-policy", action="store_true", help="print the read-only IAM policy the doctor needs")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON (for CI)")
    egress = parser.add_mutually_exclusive_group()
    egress.add_argument("--egress-ip", type=_ip_address, help=f"your public IPv4 address (default: ask {EGRESS_IP_URL})")
    egress.add_argument("--no-egress-lookup", action="store_true", help="do not look up your public address")
    args = parser.parse_args(argv)
    if args.print_policy:
        print(json.dumps(DOCTOR_POLICY, indent=2))
        return 0

    import yaml
    from botocore.exceptions import BotoCoreError

    from vllm_eks.planning.sizing import SizingError
    from preflight.render import read_stack_config
    from stack_config import StackConfigError

    started = time.perf_counter()
    try:
        if args.stack:
            stack, raw_config = args.stack, read_stack_config(args.stack)
        else:
            stack = args.stack_file.name.removeprefix("Pulumi.").removesuffix(".yaml")
            raw_config = (yaml.safe_load(args.stack_file.read_text()) or {}).get("config") or {}
        needs = stack_needs(stack, raw_config)
    except (StackConfigError, SizingError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    lookup = (lambda: args.egress_ip) if args.egress_ip else (lambda: None) if args.no_egress_lookup else lookup_egress_ip
    try:
        findings = run_doctor(needs, _session(needs.region), lookup)
    except (CannotRun, BotoCoreError) as error:  # BotoCoreError: boto3.Session refusing AWS_PROFILE already
        print(f"doctor: {error}", file=sys.stderr)
        return 2
    blockers = sum(finding.status == "blocker" for finding in findings)
    elapsed = time.perf_counter() - started
    if args.json:
        print(json.dumps({"stack": stack, "region": needs.region, "blockers": blockers, "seconds": round(elapsed, 2),
                          "findings": [asdict(finding) for finding in findings]}, indent=1))
    else:
        print(format_findings(findings))
        print(f"\n{blockers} blocker(s) for stack '{stack}' in {needs.region} ({elapsed:.1f}s)")
    return 1 if blockers else 0
