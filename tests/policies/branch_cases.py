"""Shared helpers of the policy branch tests (test_*_branches.py): each case states a policy's whole verdict on a
changed compliant stack, every violation message and every "cannot judge yet" reason."""

from __future__ import annotations

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
