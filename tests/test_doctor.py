"""`preflight doctor` end to end: a fresh account lists every first-deploy blocker with its fix, a prepared one is all ok
(and quick), the CLI's exits, the read-only IAM policy (parliament) and what the doctor derives against a real render."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import parliament
import pytest
from moto import mock_aws

from preflight.doctor import DOCTOR_POLICY, format_findings, main, run_doctor, stack_needs
from tests.doctor_support import FAKE_ENV, DoctorSession, import_certificate, stack_config
from tests.rendered import rendered, resources_of

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def aws(monkeypatch):
    for key, value in FAKE_ENV.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        # moto builds a Region's EC2 backend on first use (seconds on this shared machine): the timings below measure
        # the doctor, not moto's start.
        boto3.client("ec2", region_name="us-east-1").describe_availability_zones()
        yield


def test_fresh_account_lists_every_first_deploy_blocker_with_its_fix(aws, capsys):
    """moto with nothing created, Service Quotas at AWS's defaults for a new account (tests/doctor_support.py)."""
    needs = stack_needs("prod", stack_config("prod"))
    findings = run_doctor(needs, DoctorSession(), lambda: None)
    print(format_findings(findings))
    blockers = {finding.check: finding.fix for finding in findings if finding.status == "blocker"}
    assert sorted(blockers) == sorted([
        "vcpu on-demand L-DB2E81BA",  # G and VT on-demand: 0 -> 96
        "vcpu spot L-3819A6DF",  # G and VT Spot: 0 -> 288
        "cloudfront-origin-timeout",  # 120 s -> 605 s
        "certificate",  # the stack file's example ARN does not exist
        "spot-role",  # the burst pool uses Spot
        "endpoint-access",  # private-only endpoint on a VPC this deploy creates
        "secret ecr-pullthroughcache/docker-hub",  # the pull-through cache rules' credentials
        "secret ecr-pullthroughcache/github",
    ])
    assert all(fix for fix in blockers.values())
    assert {f.check: f.status for f in findings}["elastic-ips"] == "ok"  # 3 NAT gateways within the default 5
    assert "blocker" in capsys.readouterr().out


def _prepare(domain: str) -> str:
    """The account after following the fresh account's fixes (quotas are raised in the Stubber's answers)."""
    boto3.client("iam").create_service_linked_role(AWSServiceName="spot.amazonaws.com")
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    secrets.create_secret(Name="vllm-eks/hf-token", SecretString="hf_x")
    for upstream in ("docker-hub", "github"):
        secrets.create_secret(Name=f"ecr-pullthroughcache/{upstream}", SecretString='{"username": "u", "accessToken": "t"}')
    return import_certificate(domain)


PREPARED_QUOTAS = {"L-DB2E81BA": 96, "L-3819A6DF": 288, "L-AECE9FA7": 605}


def _prepared_config(certificate_arn: str) -> dict:
    return stack_config(
        "prod",
        edge={"certificateArn": certificate_arn},
        cluster={
            "endpointPublicAccess": True,
            "publicAccessCidrs": ["203.0.113.0/24"],
            "huggingFaceTokenSecretName": "vllm-eks/hf-token",
            "adminPrincipalArn": "arn:aws:iam::123456789012:role/PlatformAdmin",
        },
    )


def test_prepared_account_is_all_ok(aws, capsys):
    config = _prepared_config(_prepare("llm.example.com"))
    started = time.perf_counter()
    findings = run_doctor(stack_needs("prod", config), DoctorSession(applied_quotas=PREPARED_QUOTAS), lambda: "203.0.113.7")
    elapsed = time.perf_counter() - started
    with capsys.disabled():
        print(f"\ndoctor --stack prod against moto (prepared account): {elapsed:.2f} s, {len(findings)} checks")
    assert [f for f in findings if f.status != "ok"] == []
    checks = {finding.check for finding in findings}
    assert {"secret vllm-eks/hf-token", "secret vllm-eks-prod/vllm/api-key", "offering g5.12xlarge", "vpcs"} <= checks


def test_cli_exit_codes_and_json(aws, tmp_path, monkeypatch, capsys):
    """Exit 1 with a blocker, 0 when all is ok; --json for CI. The session is the stubbed one (no real endpoint)."""
    import preflight.doctor as doctor

    config = _prepared_config(_prepare("llm.example.com"))
    stack_file = tmp_path / "Pulumi.prod.yaml"
    stack_file.write_text(json.dumps({"config": config}))  # JSON is YAML
    monkeypatch.setattr(doctor, "_session", lambda region: DoctorSession(region, PREPARED_QUOTAS))
    assert main(["--stack-file", str(stack_file), "--egress-ip", "203.0.113.7", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["blockers"] == 0 and report["stack"] == "prod" and report["findings"][0]["check"] == "caller"
    assert (report["region"], set(report)) == ("us-east-1", {"stack", "region", "blockers", "seconds", "findings"})
    assert 0 <= report["seconds"] == round(report["seconds"], 2)
    assert main(["--stack-file", str(stack_file), "--egress-ip", "198.51.100.9"]) == 1
    out = capsys.readouterr().out
    assert "blocker  endpoint-access" in out and "fix: add 198.51.100.9/32 to vllm-eks:cluster.publicAccessCidrs" in out


@pytest.mark.parametrize(("extra_env", "message"), [({}, "no AWS credentials"), ({"AWS_PROFILE": "nowhere"}, "nowhere")])
def test_without_credentials_one_line_and_exit_2(tmp_path, extra_env, message):
    """boto3 finds no credentials: no keys, no profile files, instance metadata disabled (it is not loopback); a named
    profile that does not exist makes boto3.Session raise ProfileNotFound."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
               HOME=str(tmp_path), **extra_env)
    result = subprocess.run([sys.executable, "-m", "preflight", "doctor", "--stack", "prod", "--no-egress-lookup"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0 and message in result.stderr


def test_bad_config_is_exit_2_naming_the_setting(tmp_path, capsys):
    stack_file = tmp_path / "Pulumi.bad.yaml"
    stack_file.write_text("config:\n  vllm-eks:models: []\n  vllm-eks:edge: {consumers: [{name: a, requestsPerSecond: 1, burst: 1}]}\n")
    assert main(["--stack-file", str(stack_file)]) == 2
    assert "models: got [], expected a list with 1 item(s) or more" in capsys.readouterr().err


def _access_levels(action: str) -> set[str]:
    service, name = action.split(":")
    # A prefix can have several definitions (apigateway: the management API and the v2 one): any of them may list it.
    definitions = [d for d in parliament.iam_definition if d["prefix"] == service]
    return {p["access_level"] for d in definitions for p in d["privileges"] if p["privilege"].lower() == name.lower()}


def test_doctor_policy_is_read_only_and_lint_clean():
    """parliament's IAM definitions give each action's access level; the doctor may only read and list."""
    assert parliament.analyze_policy_string(json.dumps(DOCTOR_POLICY)).findings == []
    actions = [a for s in DOCTOR_POLICY["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
    levels = {action: _access_levels(action) for action in actions}
    assert all(level and level <= {"Read", "List"} for level in levels.values()), levels


def test_readme_shows_the_doctor_policy():
    assert json.dumps(DOCTOR_POLICY, indent=2) in (ROOT / "README.md").read_text()


def test_every_call_the_doctor_makes_is_granted_by_its_policy(aws):
    """Record each operation the doctor sends (botocore's before-call event; IAM action = signing name + operation, as
    the Service Authorization Reference names them; API Gateway's management API is authorised by HTTP verb)."""
    from tests.doctor_support import _botocore_session

    sent: set[str] = set()

    def record(model, **_):
        service = model.service_model.signing_name
        sent.add("apigateway:GET" if service == "apigateway" else f"{service}:{model.name}")

    _botocore_session().register("before-call", record)
    try:
        config = stack_config("prod", cluster={"huggingFaceTokenSecretName": "hf/token"})
        session = DoctorSession()
        run_doctor(stack_needs("prod", config), session, lambda: None)
    finally:
        _botocore_session().unregister("before-call", record)
    # Service Quotas answers come from the Stubber (its client predates the hook): the stub records each quota asked.
    assert session.quota_calls
    sent |= {"servicequotas:GetServiceQuota", "servicequotas:GetAWSDefaultServiceQuota"}
    granted = {a for s in DOCTOR_POLICY["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert sent == granted


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_what_the_doctor_derives_matches_the_rendered_stack(stack):
    """NAT gateways (= Elastic IPs), interface endpoints, named secrets, the CloudFront origin timeout and the cluster
    name, as the program renders them under mocks (preflight render)."""
    snapshot = rendered(stack)
    needs = stack_needs(stack, stack_config(stack))
    assert len(resources_of(snapshot, "aws:ec2/eip:Eip")) == needs.nat_gateways
    interface = [r["props"]["serviceName"].removeprefix(f"com.amazonaws.{needs.region}.")
                 for r in resources_of(snapshot, "aws:ec2/vpcEndpoint:VpcEndpoint")
                 if r["props"]["vpcEndpointType"] == "Interface"]
    assert sorted(interface) == sorted(needs.interface_endpoints)
    named = {r["props"]["name"] for r in resources_of(snapshot, "aws:secretsmanager/secret:Secret") if r["props"].get("name")}
    assert named == set(needs.created_secrets)
    (distribution,) = resources_of(snapshot, "aws:cloudfront/distribution:Distribution")
    (origin,) = distribution["props"]["origins"]
    assert origin["customOriginConfig"]["originReadTimeout"] == needs.cloudfront_origin_timeout_seconds
    assert snapshot["outputs"]["clusterName"] == needs.cluster_name
