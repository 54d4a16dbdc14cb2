"""How the pack recognises what it judges, one change at a time on the small compliant stack: which actions an Allow
statement with NotAction grants, a role's later documents after one that is unknown at preview, and a vLLM server
container known by its image alone. Only the policy under test is enabled (pulumi_policy runs no disabled policy),
the pack analyzes only the resources a case changed or added, and each verdict is stated whole: every violation
message and every "cannot judge yet" reason."""

from __future__ import annotations

import copy
import json

import pytest

from .branch_cases import ROLE, ROLE_POLICY, UNTRUSTED, verdict
from .snapshots import UNKNOWN, add, compliant_stack, resource

IRSA = "irsa-only-model-access"
STARTUP = "vllm-startup-probe-budget"


def _checked(pack, policy, mutation):
    original = compliant_stack()
    snapshot = copy.deepcopy(original)
    mutation(snapshot)
    before = {r["urn"]: r for r in original["resources"]}
    changed = {r["urn"] for r in snapshot["resources"] if before.get(r["urn"]) != r}
    others = {p["name"]: "disabled" for p in pack.policies() if p["name"] != policy}
    return verdict(pack.check(snapshot, others, analyze_only=changed), policy)


# ---------------------------------------------------------------------------------------------------------------
# irsa-only-model-access: a role trusted by EC2 (not IRSA) with a document of its own
# ---------------------------------------------------------------------------------------------------------------

_EC2_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ec2.amazonaws.com"}}]})


def _document(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _ec2_role(policy, inline=None):
    """Role 'other-reader' (EC2 trust) with RolePolicy 'other-read' holding `policy`, and `inline` as the role's
    inlinePolicies (pulumi-aws iam.Role: name + policy), which role_documents() reads before any RolePolicy."""
    props = {"assumeRolePolicy": _EC2_TRUST, "name": "other-reader"}
    if inline is not None:
        props["inlinePolicies"] = inline
    return lambda s: add(s, resource(ROLE, "other-reader", props),
                         resource(ROLE_POLICY, "other-read", {"role": "other-reader", "policy": policy}))


def _everything_but(*actions):
    return _ec2_role(_document({"Effect": "Allow", "NotAction": list(actions), "Resource": "*"}))


NOT_ACTION = ("Role 'other-reader' reads model weights with more than least privilege: other-read.policy uses "
              "NotAction in an Allow statement.")

IRSA_CASES = [
    # NotAction ["s3:*"] grants every action except S3's: s3:GetObject is not granted, the role does not read weights.
    ("not-action-all-of-s3", _everything_but("s3:*"), [], []),
    ("not-action-the-object-read", _everything_but("s3:GetObject"), [], []),
    # NotAction of another service's actions grants s3:GetObject on "*", the model bucket included.
    ("not-action-of-iam-only", _everything_but("iam:*"), [*UNTRUSTED, NOT_ACTION], []),
    # The first document is unknown at preview; the RolePolicy after it reads the model bucket: judged all the same
    # (a violation is the verdict, so the unknown document adds no "cannot judge" reason beside it).
    ("unknown-inline-then-a-read", _ec2_role(
        _document({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::vllm-weights-prod/x/*"}),
        inline=[{"name": "more", "policy": UNKNOWN}]), UNTRUSTED, []),
    ("unknown-inline-then-another-bucket", _ec2_role(
        _document({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::logs-bucket/x/*"}),
        inline=[{"name": "more", "policy": UNKNOWN}]), [],
     ["unknown during preview: other-reader.inlinePolicies[0].policy"]),
]


@pytest.mark.parametrize("mutation, messages, reasons", [c[1:] for c in IRSA_CASES], ids=[c[0] for c in IRSA_CASES])
def test_irsa_only_reads_what_each_document_grants(pack, mutation, messages, reasons):
    """IAM User Guide, "IAM JSON policy elements: NotAction": an Allow statement with NotAction allows every action
    except the listed ones (with Resource "*", every other service's actions on everything); "Policy evaluation
    logic": a role's permissions are the union of all its identity-based policies, inline and attached, so a
    document unknown at preview does not excuse a later one that reads the weights."""
    assert _checked(pack, IRSA, mutation) == (sorted(messages), sorted(reasons))


# ---------------------------------------------------------------------------------------------------------------
# vllm-startup-probe-budget: a vLLM server known by its image alone
# ---------------------------------------------------------------------------------------------------------------

_SHORT_PROBE = {"httpGet": {"path": "/health", "port": 8000.0}, "periodSeconds": 10.0, "failureThreshold": 6.0}


def _deployment(image, args):
    """A Deployment with none of the pack's vLLM labels and no command: the image's ENTRYPOINT runs `args`."""
    labels = {"app": "chat"}
    container = {"name": "server", "image": image, "args": args, "startupProbe": _SHORT_PROBE}
    return lambda s: add(s, resource("kubernetes:apps/v1:Deployment", "chat-deployment", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "chat", "namespace": "llm", "labels": labels},
        "spec": {"replicas": 1.0, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}}}))


SERVER_SHORT = ("vLLM container 'server' startupProbe allows 60 s (failureThreshold 6 x periodSeconds 10); at least "
                "300 s is needed to download and load the model.")

IMAGE_CASES = [
    ("vllm-openai-args-only", _deployment("vllm/vllm-openai:v0.32.0", ["--model", "Qwen/Qwen3-8B", "--port", "8000"]),
     [SERVER_SHORT]),
    ("vllm-openai-in-a-registry-mirror", _deployment(
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub/vllm/vllm-openai:v0.32.0@sha256:" + "b" * 64,
        ["Qwen/Qwen3-8B"]), [SERVER_SHORT]),
    # The router is a vLLM project image but not the server: no model to load, no startup budget to judge.
    ("vllm-router-image", _deployment("vllm/vllm-router:0.1.17", ["--service-discovery", "--port", "8000"]), []),
]


@pytest.mark.parametrize("mutation, messages", [c[1:] for c in IMAGE_CASES], ids=[c[0] for c in IMAGE_CASES])
def test_a_vllm_server_is_known_by_its_image(pack, mutation, messages):
    """vLLM docker/Dockerfile: the vllm-openai image's ENTRYPOINT is `vllm serve` (the OpenAI-compatible server), so
    a container of that image with only `args` is the server (vLLM docs, "Using Docker": flags follow the image
    name); the router (vllm-project/router) is a separate program with no model to load."""
    assert _checked(pack, STARTUP, mutation) == (sorted(messages), [])
