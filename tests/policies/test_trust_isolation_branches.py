"""Every branch of irsa-trust-pinned (policies/irsa_trust.py) and serving-namespace-default-deny
(policies/pod_isolation.py) on the small compliant stack: each problem with its whole message, the quiet sides, and
the "cannot judge yet" answer naming what it waits for.

Sources: Amazon EKS user guide, "Configure a role trust policy" (StringEquals on `<issuer>:sub` =
system:serviceaccount:<namespace>:<name> and `<issuer>:aud` = sts.amazonaws.com); IAM JSON policy reference (condition
keys are case-insensitive; a Deny statement grants nothing); Kubernetes docs, "Network Policies" (a policy with
podSelector {} and a policyType without rules isolates every pod of its namespace in that direction; policyTypes
defaults to Ingress). An unknown is the engine's sentinel for a value not known on a first preview
(pulumi/pulumi sdk/go/common/resource/plugin/rpc.go).
"""

from __future__ import annotations

import json

import pytest

from .branch_cases import checked_alone, fired_messages
from .snapshots import ISSUER, UNKNOWN, add, compliant_stack, find, resource, trust_policy

POLICIES = ("irsa-trust-pinned", "serving-namespace-default-deny", "irsa-only-model-access")
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
ROLE = "aws:iam/role:Role"


def _checked(pack, mutation, config=None):
    return checked_alone(pack, compliant_stack(), mutation, POLICIES, config)


def _role(trust, name="cluster-karpenter-controller"):
    return lambda s: add(s, resource(ROLE, name, {"assumeRolePolicy": trust if isinstance(trust, str) else
                                                  json.dumps(trust), "name": name}))


def _statement(**changes):
    statement = json.loads(trust_policy("system:serviceaccount:karpenter:karpenter"))["Statement"][0]
    statement.update(changes)
    return {"Version": "2012-10-17", "Statement": [statement]}


def _node_role(statement, role_ref="vllm-gpu-node"):
    def mutate(s):
        add(s, resource(ROLE, "gpu-node", {"name": "vllm-gpu-node", "assumeRolePolicy": json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                    "Action": "sts:AssumeRole"}]})}))
        add(s, resource("aws:iam/rolePolicy:RolePolicy", "gpu-node-inline", {
            "role": role_ref, "policy": json.dumps({"Version": "2012-10-17", "Statement": [statement]})}))
    return mutate


def _deny(s):
    return find(s, NETWORK_POLICY, "llm-default-deny")["props"]


def _spec(**values):
    return lambda s: _deny(s)["spec"].update(values)


ROLE_SAYS = ("Role 'cluster-karpenter-controller' is trusted through an EKS OIDC provider but not pinned to one service "
             "account (trust statement {}): {}.")
NO_SUB = "StringEquals <issuer>:sub must name exactly one service account (found none)"
NO_AUD = "StringEquals <issuer>:aud must be sts.amazonaws.com (found none)"
UNDENIED = ("Namespace 'llm' runs kubernetes:apps/v1:Deployment 'qwen3-8b-deployment' but no NetworkPolicy with "
            "podSelector {{}} denies {} by default: any pod of the cluster can reach vLLM's unauthenticated paths.")

CASES = [
    # irsa-trust-pinned
    ("stringlike", _role(trust_policy("system:serviceaccount:karpenter:*", operator="StringLike")), None,
     {"irsa-trust-pinned": [ROLE_SAYS.format(0, p) for p in (
         f"StringLike on {ISSUER}:sub (only StringEquals pins it)", NO_SUB,
         f"StringLike on {ISSUER}:aud (only StringEquals pins it)", NO_AUD)]}),
    ("wildcard-in-stringequals", _role(trust_policy("system:serviceaccount:karpenter:*")), None,
     {"irsa-trust-pinned": [ROLE_SAYS.format(0, "sub 'system:serviceaccount:karpenter:*' is not one exact "
                                                 "system:serviceaccount:<namespace>:<name>")]}),
    ("two-accounts", _role(trust_policy(["system:serviceaccount:a:x", "system:serviceaccount:b:y"])), None,
     {"irsa-trust-pinned": [ROLE_SAYS.format(0, "StringEquals <issuer>:sub must name exactly one service account "
                                                 "(found ['system:serviceaccount:a:x', 'system:serviceaccount:b:y'])")]}),
    ("other-aud", _role(trust_policy("system:serviceaccount:karpenter:karpenter", aud="https://example.com")), None,
     {"irsa-trust-pinned": [ROLE_SAYS.format(0, "StringEquals <issuer>:aud must be sts.amazonaws.com (found "
                                                 "['https://example.com'])")]}),
    ("other-issuer", _role(trust_policy("system:serviceaccount:karpenter:karpenter").replace(
        f'"{ISSUER}:sub"', '"oidc.eks.eu-west-1.amazonaws.com/id/X:sub"')), None,
     {"irsa-trust-pinned": [ROLE_SAYS.format(0, "oidc.eks.eu-west-1.amazonaws.com/id/X:sub names an issuer other than "
                                                 f"the trusted provider ['{ISSUER}']")]}),
    ("condition-not-an-object", _role(_statement(Condition="StringEquals")), None,
     {"irsa-trust-pinned": [ROLE_SAYS.format(0, NO_SUB), ROLE_SAYS.format(0, NO_AUD)]}),
    ("keys-in-upper-case", _role(trust_policy("system:serviceaccount:karpenter:karpenter").replace(
        f'"{ISSUER}:sub"', f'"{ISSUER}:SUB"').replace(f'"{ISSUER}:aud"', f'"{ISSUER}:AUD"')), None, {}),
    # The web-identity action alone makes it OIDC trust, in any letter case, whatever the principal says.
    ("web-identity-action-only", _role(_statement(Principal={"Service": "ec2.amazonaws.com"},
                                                  Action="STS:AssumeRoleWithWebIdentity", Condition={})), None,
     {"irsa-trust-pinned": [ROLE_SAYS.format(0, NO_SUB), ROLE_SAYS.format(0, NO_AUD)]}),
    ("deny-statement", _role(_statement(Effect="Deny", Condition={})), None, {}),
    ("pinned", _role(_statement()), None, {}),
    # irsa-only-model-access: a node role (trusted by EC2) whose inline policy denies reading the weights reads none.
    ("deny-is-no-model-read", _node_role({"Effect": "Deny", "Action": "s3:GetObject",
                                          "Resource": "arn:aws:s3:::vllm-weights-prod/*"}), None, {}),

    # serving-namespace-default-deny
    ("selects-some-pods", _spec(podSelector={"matchLabels": {"app": "x"}}), None,
     {"serving-namespace-default-deny": [UNDENIED.format("Ingress and Egress")]}),
    ("selects-by-expression", _spec(podSelector={"matchExpressions": [
        {"key": "app", "operator": "In", "values": ["x"]}]}), None,
     {"serving-namespace-default-deny": [UNDENIED.format("Ingress and Egress")]}),
    ("ingress-only", _spec(policyTypes=["Ingress"]), None,
     {"serving-namespace-default-deny": [UNDENIED.format("Egress")]}),
    ("no-policy-types-is-ingress", _spec(policyTypes=[]), None,
     {"serving-namespace-default-deny": [UNDENIED.format("Egress")]}),
    ("unknown-type-ignored", _spec(policyTypes=["Sideways"]), None,
     {"serving-namespace-default-deny": [UNDENIED.format("Egress")]}),
    ("ingress-rule-admits", _spec(ingress=[{}]), None, {"serving-namespace-default-deny": [UNDENIED.format("Ingress")]}),
    ("ingress-only-required", _spec(policyTypes=["Ingress"]),
     {"serving-namespace-default-deny": {"requiredDirections": ["Ingress"]}}, {}),
    ("other-namespace", lambda s: _deny(s)["metadata"].update(namespace="other"), None,
     {"serving-namespace-default-deny": [UNDENIED.format("Ingress and Egress")]}),
    # A policy not known yet beside a namespace already isolated: nothing waits on it.
    ("unknown-policy-beside-isolation", lambda s: add(s, resource(NETWORK_POLICY, "pending", {
        "metadata": {"name": "pending", "namespace": "llm"}, "spec": UNKNOWN})), None, {}),
]


@pytest.mark.parametrize("mutation, config, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_branch_fires_with_its_message_or_stays_quiet(pack, mutation, config, expected):
    result = _checked(pack, mutation, config)
    assert fired_messages(result, POLICIES) == {policy: sorted(messages) for policy, messages in expected.items()}
    if not expected:
        assert [i for i in result.not_applicable if i["policy"] in POLICIES] == []


UNKNOWN_CASES = [
    ("irsa-trust-pinned", _role(UNKNOWN), "cluster-karpenter-controller.assumeRolePolicy"),
    ("serving-namespace-default-deny", _spec(policyTypes=UNKNOWN), "llm-default-deny"),
    ("serving-namespace-default-deny", _spec(egress=UNKNOWN), "llm-default-deny"),
    ("serving-namespace-default-deny", _spec(podSelector={"matchLabels": UNKNOWN}), "llm-default-deny"),
    ("serving-namespace-default-deny", lambda s: _deny(s)["metadata"].update(namespace=UNKNOWN), "llm-default-deny"),
    ("serving-namespace-default-deny", lambda s: find(s, "kubernetes:apps/v1:Deployment")["props"]["metadata"].update(
        namespace=UNKNOWN), "qwen3-8b-deployment.metadata.namespace"),
]


@pytest.mark.parametrize("policy, mutation, waits_for", UNKNOWN_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(UNKNOWN_CASES)])
def test_an_unknown_value_is_not_judged_and_named(pack, policy, mutation, waits_for):
    result = _checked(pack, mutation)
    assert fired_messages(result, POLICIES) == {}
    assert [item["reason"] for item in result.not_applicable if item["policy"] == policy] == [
        f"unknown during preview: {waits_for}"]


@pytest.mark.parametrize("effect, reads", [("Allow", True), ("Deny", False)])
def test_only_an_allow_statement_reads_the_model(pack, effect, reads):
    """IAM JSON policy reference, "NotAction": an Allow with NotAction ["iam:*"] allows s3:GetObject too; the same
    statement as a Deny allows nothing. The node role's trust is no IRSA, so a read is a violation."""
    result = _checked(pack, _node_role({"Effect": effect, "NotAction": ["iam:*"],
                                        "Resource": "arn:aws:s3:::vllm-weights-prod/*"}))
    messages = fired_messages(result, POLICIES).get("irsa-only-model-access", [])
    assert bool(messages) is reads
    assert all(m.startswith("Role 'gpu-node' reads model weights") for m in messages), messages


@pytest.mark.parametrize("arn, reads", [("arn:aws-us-gov:s3:::vllm-weights-prod/*", True),
                                        ("arn:aws-us-gov:s3:::other-bucket/*", False)])
def test_a_model_read_is_recognised_in_every_partition(pack, arn, reads):
    """IAM, "Amazon Resource Names": the partition is aws, aws-cn or aws-us-gov; an S3 object ARN names its bucket
    first (arn:<partition>:s3:::<bucket>/<key>)."""
    result = _checked(pack, _node_role({"Effect": "Allow", "Action": "s3:GetObject", "Resource": arn}))
    messages = fired_messages(result, POLICIES).get("irsa-only-model-access", [])
    assert bool(messages) is reads
    assert all(m.startswith("Role 'gpu-node' reads model weights") for m in messages), messages


def test_a_bucket_v2_is_a_model_bucket_too(check):
    """pulumi-aws s3.BucketV2 (aws:s3/bucketV2:BucketV2) holds the weights as well as s3.Bucket: tagged as the model
    bucket, a force-destroyable one is not retained."""
    snapshot = compliant_stack()
    bucket = find(snapshot, "aws:s3/bucket:Bucket")
    bucket["type"] = "aws:s3/bucketV2:BucketV2"
    bucket["props"]["forceDestroy"] = True
    assert check(snapshot).by_policy("model-bucket-retained")
    bucket["props"]["tags"] = {}
    assert not check(snapshot).by_policy("model-bucket-retained")


@pytest.mark.parametrize("role_ref, attached", [("arn:aws:iam::123456789012:role/vllm-gpu-node", True),
                                                ("arn:aws:iam::123456789012:role/other", False)])
def test_an_inline_policy_names_its_role_by_name_or_by_arn(pack, role_ref, attached):
    """IAM, "IAM identifiers": a role's ARN is arn:aws:iam::<account>:role/<path><name>; an inline policy given the
    node role's ARN is that role's, so its model read counts."""
    result = _checked(pack, _node_role({"Effect": "Allow", "Action": "s3:GetObject",
                                        "Resource": "arn:aws:s3:::vllm-weights-prod/*"}, role_ref))
    messages = fired_messages(result, POLICIES).get("irsa-only-model-access", [])
    assert bool(messages) is attached
    assert all(m.startswith("Role 'gpu-node' reads model weights") for m in messages), messages
