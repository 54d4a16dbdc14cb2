"""`preflight doctor`'s own code apart from AWS: the report line, a refused or failed call turned into a warning,
the egress-address lookup, the flags, and the needs derived from a stack (GPU instances split by market, NAT
gateways per zone or one, secrets read and created)."""

from __future__ import annotations

import io
import json
import urllib.request

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from preflight import doctor
from preflight.doctor import GpuNeed, _guarded, format_findings, lookup_egress_ip, main, stack_needs
from preflight.doctor_checks import Finding
from preflight.render import read_stack_config


def test_a_report_line_is_status_check_found_needed_and_the_fix_when_there_is_one():
    findings = [Finding("caller", "ok", "role deployer", "any principal"),
                Finding("vcpu-quotas", "blocker", "0 vCPUs", "192 vCPUs", "request an increase")]
    assert format_findings(findings) == (
        "ok       caller       found role deployer; needs any principal\n"
        "blocker  vcpu-quotas  found 0 vCPUs; needs 192 vCPUs; fix: request an increase")


def test_a_refused_call_is_a_warning_naming_the_error_and_operation_and_a_failed_one_says_retry():
    """botocore ClientError carries the service's error code and the operation name (botocore docs, "Error
    handling"); EndpointConnectionError is a BotoCoreError (no answer at all)."""
    refused = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetServiceQuota")

    def deny():
        raise refused

    def unreachable():
        raise EndpointConnectionError(endpoint_url="https://ec2.example")

    assert _guarded("vcpu-quotas", deny) == [Finding(
        "vcpu-quotas", "warn", "could not check: AccessDenied on GetServiceQuota",
        "the read-only permissions of the doctor's policy (README, 'Before the first deploy')",
        "attach the doctor's policy to the deploying principal, or check by hand")]
    assert _guarded("gpu-offerings", unreachable) == [Finding(
        "gpu-offerings", "warn", 'could not check: Could not connect to the endpoint URL: "https://ec2.example"',
        "an answer from AWS", "retry")]
    assert _guarded("x", lambda: [Finding("x", "ok", "a", "b")]) == [Finding("x", "ok", "a", "b")]


def test_the_egress_address_is_what_checkip_answers_or_none(monkeypatch):
    """https://checkip.amazonaws.com answers the caller's public IPv4 address as one line of text."""
    asked = []

    def answer(text):
        def urlopen(url, timeout):
            asked.append((url, timeout))
            return io.BytesIO(text)
        return urlopen

    monkeypatch.setattr(urllib.request, "urlopen", answer(b"203.0.113.7\n"))
    assert lookup_egress_ip() == "203.0.113.7"
    assert asked == [("https://checkip.amazonaws.com", 3.0)]
    monkeypatch.setattr(urllib.request, "urlopen", answer(b"<html>captive portal</html>"))
    assert lookup_egress_ip() is None

    def offline(url, timeout):
        raise OSError("network unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    assert lookup_egress_ip() is None


def test_print_policy_prints_the_policy_as_json_without_a_stack(capsys):
    assert main(["--print-policy"]) == 0
    assert json.loads(capsys.readouterr().out) == doctor.DOCTOR_POLICY


def test_an_egress_ip_that_is_not_an_address_is_refused_by_the_flag(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--stack", "prod", "--egress-ip", "my-laptop"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "python -m preflight doctor: error: argument --egress-ip: got 'my-laptop', expected an IP address such as 203.0.113.7")


def test_an_empty_stack_file_is_a_config_error_not_a_traceback(tmp_path, capsys):
    stack_file = tmp_path / "Pulumi.empty.yaml"
    stack_file.write_text("")
    assert main(["--stack-file", str(stack_file)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: invalid stack configuration:\n") and "models: got nothing" in err


def test_the_egress_flags_pick_the_lookup(monkeypatch, capsys):
    seen = []
    monkeypatch.setattr(doctor, "stack_needs", lambda stack, raw: stack_needs(stack, raw))
    monkeypatch.setattr(doctor, "_session", lambda region: region)
    monkeypatch.setattr(doctor, "run_doctor", lambda needs, session, lookup: seen.append((session, lookup())) or [
        Finding("caller", "ok", "a", "b")])
    monkeypatch.setattr(doctor, "lookup_egress_ip", lambda: "198.51.100.1")
    assert main(["--stack", "prod", "--egress-ip", "203.0.113.9"]) == 0
    assert main(["--stack", "prod", "--no-egress-lookup"]) == 0
    out = capsys.readouterr().out
    assert seen == [("us-east-1", "203.0.113.9"), ("us-east-1", None)]
    assert out.splitlines()[0] == "ok       caller  found a; needs b"
    assert out.splitlines()[2].startswith("0 blocker(s) for stack 'prod' in us-east-1 (")


def _needs(stack: str, **model_changes):
    config = read_stack_config(stack)
    config["vllm-eks:models"] = [dict(config["vllm-eks:models"][0], **model_changes)]
    return stack_needs(stack, config)


def test_gpu_needs_split_max_replicas_by_market_as_the_node_pools_launch_them():
    """On-demand replicas run on the on-demand pool, the rest on Spot (vllm_eks/cluster/karpenter.py on_demand_gpus)."""
    burst = _needs("prod", capacityType="on-demand-with-spot-burst", maxReplicas=8, onDemandReplicas=2)
    assert burst.gpu == (GpuNeed("qwen3-8b", "g5.12xlarge", 48, 2, 6),) and burst.uses_spot
    on_demand = _needs("prod", capacityType="on-demand", maxReplicas=8, onDemandReplicas=2)
    assert on_demand.gpu == (GpuNeed("qwen3-8b", "g5.12xlarge", 48, 8, 0),) and not on_demand.uses_spot
    spot = _needs("prod", capacityType="spot", maxReplicas=3, onDemandReplicas=0, minReplicas=0)
    assert spot.gpu == (GpuNeed("qwen3-8b", "g5.12xlarge", 48, 0, 3),) and spot.uses_spot


def test_the_stack_needs_of_the_shipped_stacks():
    """prod: three zones with a NAT gateway each, CloudFront with the certificate; dev: two zones, one NAT gateway
    (Pulumi.prod.yaml, Pulumi.dev.yaml)."""
    prod, dev = stack_needs("prod", read_stack_config("prod")), stack_needs("dev", read_stack_config("dev"))
    assert (prod.cluster_name, prod.availability_zones, prod.nat_gateways, prod.created_secrets) == (
        "vllm-eks-prod", 3, 3, ("vllm-eks-prod/vllm/api-key",))
    assert (dev.cluster_name, dev.availability_zones, dev.nat_gateways) == ("vllm-eks-dev", 2, 1)
    assert prod.read_secrets[:2] == ("ecr-pullthroughcache/docker-hub", "ecr-pullthroughcache/github")
    assert prod.certificate_arn == read_stack_config("prod")["vllm-eks:edge"]["certificateArn"]
    no_cdn = read_stack_config("prod")
    no_cdn["vllm-eks:edge"] = dict(no_cdn["vllm-eks:edge"], cloudfront=False)
    needs = stack_needs("prod", no_cdn)
    assert (needs.certificate_arn, needs.cloudfront_origin_timeout_seconds) == (None, None)


def test_the_json_report_for_ci_stated_whole(monkeypatch, capsys):
    clock = iter([100.0, 101.234])
    monkeypatch.setattr(doctor.time, "perf_counter", lambda: next(clock))
    monkeypatch.setattr(doctor, "_session", lambda region: region)
    monkeypatch.setattr(doctor, "run_doctor", lambda needs, session, lookup: [
        Finding("caller", "ok", "a", "b"), Finding("spot-role", "blocker", "none", "one", "create it")])
    assert main(["--stack", "prod", "--no-egress-lookup", "--json"]) == 1
    assert capsys.readouterr().out == (
        '{\n "stack": "prod",\n "region": "us-east-1",\n "blockers": 1,\n "seconds": 1.23,\n "findings": [\n'
        '  {\n   "check": "caller",\n   "status": "ok",\n   "found": "a",\n   "needed": "b",\n   "fix": ""\n  },\n'
        '  {\n   "check": "spot-role",\n   "status": "blocker",\n   "found": "none",\n   "needed": "one",\n'
        '   "fix": "create it"\n  }\n ]\n}\n')
