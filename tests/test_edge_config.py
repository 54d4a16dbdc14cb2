"""Edge settings that encode AWS limits are checked at config load, before any resource exists.

Source (also in tests/aws_behaviour.py): AWS knowledge center "cloudfront-custom-origin-response" — CloudFront origin
response timeouts above the default limit (180 s) need a raised "Response timeout per origin" quota.
"""

from __future__ import annotations

import pytest

from stack_config import SECTIONS, StackConfigError, load_stack_config
from preflight.render import read_stack_config



def _load(stack: str, **edge):
    raw = {key.removeprefix("vllm-eks:"): value for key, value in read_stack_config(stack).items() if key.startswith("vllm-eks:")}
    raw["edge"] = {**raw["edge"], **edge}
    return load_stack_config({section: raw.get(section) for section in SECTIONS})


def test_a_budget_above_the_default_cloudfront_limit_needs_a_stated_quota():
    with pytest.raises(StackConfigError) as error:
        _load("dev", maxRequestSeconds=300)
    message = str(error.value)
    assert "edge.cloudfrontOriginTimeoutQuotaSeconds" in message and "180" in message and "305" in message
    assert "Response timeout per origin" in message and "175" in message


def test_a_stated_quota_raises_the_limit():
    config = _load("dev", maxRequestSeconds=300, cloudfrontOriginTimeoutQuotaSeconds=305)
    assert config.edge.cloudfront_origin_timeout_quota_seconds == 305


def test_without_cloudfront_the_quota_does_not_apply():
    config = _load("dev", maxRequestSeconds=600, cloudfront=False, domainName=None, certificateArn=None)
    assert config.edge.max_request_seconds == 600


def test_a_model_name_whose_target_group_name_would_overflow_is_refused():
    """Elastic Load Balancing CreateTargetGroup: a target group name has at most 32 characters."""
    raw = {key.removeprefix("vllm-eks:"): value for key, value in read_stack_config("dev").items() if key.startswith("vllm-eks:")}
    raw["models"] = [{**raw["models"][0], "name": "a-twenty-char-model1"}]
    with pytest.raises(StackConfigError, match=r"models\[0\].name: got 'a-twenty-char-model1', expected at most 19 characters"):
        load_stack_config({section: raw.get(section) for section in SECTIONS})
    raw["models"] = [{**raw["models"][0], "name": "a-19-char-model-ok1"}]
    assert load_stack_config({section: raw.get(section) for section in SECTIONS}).models[0].name == "a-19-char-model-ok1"


@pytest.mark.parametrize("stack", ["dev_snapshot", "prod_snapshot"])
def test_rendered_target_group_names_fit_after_autonaming(stack, request):
    from vllm_eks.planning.catalog import ALB_TARGET_GROUP_NAME_MAX, PULUMI_AUTONAME_SUFFIX_CHARS

    snapshot = request.getfixturevalue(stack)
    groups = [r for r in snapshot["resources"] if r["type"] == "aws:lb/targetGroup:TargetGroup"]
    assert groups
    for group in groups:
        name = group["props"].get("name") or group["name"]
        assert len(name) + (0 if group["props"].get("name") else PULUMI_AUTONAME_SUFFIX_CHARS) <= ALB_TARGET_GROUP_NAME_MAX


def test_a_named_hosted_zone_gets_the_alias_record_otherwise_the_output_names_the_cname(dev_snapshot):
    """Route 53 API, AliasTarget: a CloudFront alias uses the hosted zone Z2FDTNDATAQYW2."""
    import copy

    from preflight.render import render_config

    assert dev_snapshot["outputs"]["dnsRecord"].startswith("create: dev.llm.example.com CNAME ")
    assert not [r for r in dev_snapshot["resources"] if r["type"] == "aws:route53/record:Record"]
    config = copy.deepcopy(read_stack_config("dev"))
    config["vllm-eks:edge"]["hostedZoneId"] = "Z0123456789ABCDEFGHIJ"
    snapshot = render_config("dev-zone", config)
    (record,) = [r for r in snapshot["resources"] if r["type"] == "aws:route53/record:Record"]
    host = next(r for r in snapshot["resources"] if r["type"] == "aws:cloudfront/distribution:Distribution")["outputs"]["domainName"]
    # IPv4 only (the distribution leaves IPv6 off); CloudFront alias targets take no target health evaluation.
    assert (record["name"], record["props"]) == ("edge-dns", {
        "zoneId": "Z0123456789ABCDEFGHIJ", "name": "dev.llm.example.com", "type": "A",
        "aliases": [{"name": host, "zoneId": "Z2FDTNDATAQYW2", "evaluateTargetHealth": False}]})
    assert snapshot["outputs"]["dnsRecord"] == "created: dev.llm.example.com alias A in Z0123456789ABCDEFGHIJ"


def test_a_certificate_of_another_account_stops_the_deploy_before_any_resource(monkeypatch):
    """CloudFront developer guide, "Requirements for using SSL/TLS certificates with CloudFront": the certificate is
    one of the distribution's own account (us-east-1). The shipped example (account 123456789012) renders offline,
    where the mocked account is 123456789012, and stops a real deploy from any other account with the keys to set."""
    import preflight.mocks
    from preflight.render import render_config

    monkeypatch.setattr(preflight.mocks, "ACCOUNT_ID", "210987654321")
    with pytest.raises(Exception) as error:
        render_config("dev-elsewhere", read_stack_config("dev"))
    message = str(error.value)
    assert "edge.certificateArn" in message and "edge.domainName" in message and "210987654321" in message


def test_foreign_account_errors_is_quiet_for_the_own_account_and_no_certificate():
    from stack_config import foreign_account_errors

    raw = {key.removeprefix("vllm-eks:"): value for key, value in read_stack_config("prod").items() if key.startswith("vllm-eks:")}
    config = load_stack_config({section: raw.get(section) for section in SECTIONS})
    assert foreign_account_errors(config, "123456789012") == []
    assert len(foreign_account_errors(config, "210987654321")) == 1
