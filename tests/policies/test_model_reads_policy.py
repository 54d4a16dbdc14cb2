"""`pod-reads-within-role` (policies/model_reads.py) through the Analyzer gRPC protocol: a pod told to read an S3 prefix
its IRSA role cannot read is an AccessDenied at start-up ("Actions, resources, and condition keys for Amazon S3":
`aws s3 sync` lists with s3:ListBucket and reads with s3:GetObject on each object; IRSA credentials are those of the
role whose trust names `system:serviceaccount:<namespace>:<name>`, EKS User Guide "IAM roles for service accounts").
"""

from __future__ import annotations

import copy
import json

import pytest

from preflight.render import read_stack_config, render_config
from rendered import resources_of
from .snapshots import compliant_stack, find, mutated

POLICY = "pod-reads-within-role"
ADAPTERS = [{"name": "sql", "s3Prefix": "loras/sql"}]


def _messages(check, snapshot) -> list[str]:
    return [violation.message for violation in check(snapshot).by_policy(POLICY)]


@pytest.fixture(scope="module")
def adapter_snapshot() -> dict:
    """prod with a LoRA adapter outside the model's prefix (the case the issue found: AccessDenied at runtime)."""
    config = copy.deepcopy(read_stack_config("prod"))
    config["vllm-eks:models"][0]["loraAdapters"] = ADAPTERS
    return render_config("prod", config)


def test_quiet_on_the_hand_made_compliant_stack(check):
    assert _messages(check, compliant_stack()) == []


def test_quiet_on_rendered_stacks_and_on_a_model_with_an_adapter(check, dev_snapshot, prod_snapshot, adapter_snapshot):
    for snapshot in (dev_snapshot, prod_snapshot, adapter_snapshot):
        result = check(snapshot)
        assert [violation.message for violation in result.by_policy(POLICY)] == []
        # Judged, not waved through: every bucket is known in an applied render, so nothing is "not applicable".
        assert [item for item in result.not_applicable if item["policy"] == POLICY] == []
    assert check(adapter_snapshot).by_policy("irsa-only-model-access") == []


def test_fires_when_the_role_cannot_read_an_adapter_the_pod_syncs(check, adapter_snapshot):
    """The role as it was before adapters were granted: the model's prefix only."""
    snapshot = copy.deepcopy(adapter_snapshot)
    policy = next(r for r in resources_of(snapshot, "aws:iam/rolePolicy:RolePolicy") if r["name"] == "models-qwen3-8b-read-policy")
    document = json.loads(policy["props"]["policy"])
    document["Statement"][0]["Resource"] = document["Statement"][0]["Resource"][0]
    policy["props"]["policy"] = json.dumps(document)
    messages = _messages(check, snapshot)
    assert len(messages) == 1, messages
    assert "initContainers[fetch-weights] reads s3://" in messages[0] and "/loras/sql, but its role 'models-qwen3-8b-read'" in messages[0]


def test_fires_when_the_streamed_model_is_outside_the_role(check):
    def elsewhere(snapshot):
        container = find(snapshot, "kubernetes:apps/v1:Deployment")["props"]["spec"]["template"]["spec"]["containers"][0]
        container["args"][1] = "s3://vllm-weights-prod/other-model/"

    messages = _messages(check, mutated(elsewhere))
    assert any("containers[vllm] reads s3://vllm-weights-prod/other-model" in message for message in messages), messages


def test_fires_when_the_role_reads_more_than_its_pods_load(check):
    def broader(snapshot):
        policy = find(snapshot, "aws:iam/rolePolicy:RolePolicy", "models-qwen3-8b-read")
        document = json.loads(policy["props"]["policy"])
        document["Statement"][0]["Resource"].append("arn:aws:s3:::vllm-weights-prod/secrets/*")
        policy["props"]["policy"] = json.dumps(document)

    messages = _messages(check, mutated(broader))
    assert len(messages) == 1 and messages[0].endswith(
        "Role 'models-qwen3-8b-reader' may read s3://vllm-weights-prod/secrets/*, which none of its pods is "
        "told to read: grant only the prefixes the pods load (the model and its adapters).")


@pytest.mark.parametrize("verb", ["cp", "sync", "mv"])
def test_the_destination_of_a_copy_is_not_a_read(check, verb):
    """`aws s3 cp|sync|mv <source> <destination>` (AWS CLI reference, "s3"): only the source is read."""
    def uploads(snapshot):
        spec = find(snapshot, "kubernetes:apps/v1:Deployment")["props"]["spec"]["template"]["spec"]
        spec["initContainers"][0]["command"] = ["/bin/sh", "-c", f"aws s3 {verb} --only-show-errors /tmp/x s3://vllm-weights-prod/uploads/x"]

    assert _messages(check, mutated(uploads)) == []


def test_a_role_that_may_read_nothing_in_s3_is_named_so(check):
    """A read role whose policy grants no S3 read at all: the message says so instead of listing an empty grant."""
    def no_s3(snapshot):
        policy = find(snapshot, "aws:iam/rolePolicy:RolePolicy", "models-qwen3-8b-read")
        policy["props"]["policy"] = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*"}]})

    messages = _messages(check, mutated(no_s3))
    assert messages and all("may read only nothing in S3: an AccessDenied when the pod starts." in m for m in messages), messages
