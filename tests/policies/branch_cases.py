"""Shared helpers of the policy branch tests (test_*_branches.py): each case states a policy's whole verdict on a
changed compliant stack, every violation message and every "cannot judge yet" reason."""

from __future__ import annotations

import copy
import json

from .snapshots import find, mutated, read_policy

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
EKS_COMPONENT = "eks:index:Cluster"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
SUBNET = "aws:ec2/subnet:Subnet"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
BUCKET = "aws:s3/bucket:Bucket"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
KEY = "arn:aws:kms:us-east-1:123456789012:key/k1"


def verdict(result, policy: str) -> tuple[list[str], list[str]]:
    """(violation messages, not-applicable reasons) of one policy, each sorted."""
    messages = sorted(v.message.splitlines()[-1] for v in result.by_policy(policy))
    reasons = sorted(item["reason"] for item in result.not_applicable if item["policy"] == policy)
    return messages, reasons


def checked_alone(pack, base: dict, mutation, policies, config=None):
    """`policies`' answer on `base` after `mutation`, cheaply: the pack's other policies are disabled (pulumi_policy
    runs no disabled policy) and only the changed or added resources go through Analyze (every other one was judged
    on the unchanged stack by its own test); AnalyzeStack still sees them all."""
    snapshot = copy.deepcopy(base)
    mutation(snapshot)
    before = {r["urn"]: r for r in base["resources"]}
    changed = {r["urn"] for r in snapshot["resources"] if before.get(r["urn"]) != r}
    others = {p["name"]: "disabled" for p in pack.policies() if p["name"] not in policies}
    return pack.check(snapshot, {**others, **(config or {})}, analyze_only=changed)


def fired_messages(result, policies) -> dict[str, list[str]]:
    """Each of `policies`' violation messages, sorted per policy; every one must be mandatory."""
    fired: dict[str, list[str]] = {}
    for violation in result.violations:
        if violation.policy_name in policies:
            assert violation.enforcement_level == "mandatory", violation
            description, message = violation.message.split("\n", 1)  # pulumi_policy: "<description>\n<message>"
            fired.setdefault(violation.policy_name, []).append(message)
    return {policy: sorted(messages) for policy, messages in fired.items()}


def pod_of(s):
    return find(s, DEPLOYMENT)["props"]["spec"]["template"]["spec"]


def vllm_of(s):
    return pod_of(s)["containers"][0]


def run_case(check, policy, mutation, config, messages, reasons):
    result = check(mutated(mutation), {policy: config} if config else None)
    assert verdict(result, policy) == (sorted(messages), sorted(reasons))



READER = "models-qwen3-8b-reader"
OBJECTS = "arn:aws:s3:::vllm-weights-prod/qwen3-8b/*"


def read_document(change):
    """The read role's RolePolicy document after `change(statements)` (statements 0-2: GetObject, ListBucket,
    kms:Decrypt, see snapshots.read_policy)."""
    def mutate(s):
        document = json.loads(read_policy())
        change(document["Statement"])
        find(s, ROLE_POLICY)["props"]["policy"] = json.dumps(document)
    return mutate


def least_privilege(*problems):
    return [f"Role '{READER}' reads model weights with more than least privilege: {p}." for p in problems]


UNTRUSTED = [f"Role 'other-reader' reads model weights but its trust policy is not IRSA for one service account: {p}."
             for p in ("trust statement 0 allows ['sts:AssumeRole'], only sts:AssumeRoleWithWebIdentity is allowed",
                       "trust statement 0 principal {'Service': 'ec2.amazonaws.com'} is not an EKS OIDC provider",
                       "trust statement 0 must bind exactly one service account with StringEquals <issuer>:sub "
                       "(found none)",
                       "trust statement 0 must require StringEquals <issuer>:aud = sts.amazonaws.com (found none)")]
