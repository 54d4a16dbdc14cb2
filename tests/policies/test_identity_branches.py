"""Side branches of policies/security_identity.py, each with a firing and a quiet case, the whole verdict stated."""

from __future__ import annotations

import json

import pytest

from .branch_cases import (
    BUCKET, BUCKET_POLICY, OBJECTS, READER, ROLE, ROLE_POLICY, UNTRUSTED, least_privilege, read_document, run_case,
)
from .snapshots import UNKNOWN, add, find, read_policy, remove, resource, tls_only_policy

# ---------------------------------------------------------------------------------------------------------------
# security_identity.py
# ---------------------------------------------------------------------------------------------------------------

def _other_reader(resources):
    """A second role, trusted by EC2 (not IRSA), reading objects under `resources`."""
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ec2.amazonaws.com"}}]})
    return lambda s: add(s, resource(ROLE, "other-reader", {"assumeRolePolicy": trust, "name": "other-reader"}),
                         resource(ROLE_POLICY, "other-read", {"role": "other-reader", "policy": json.dumps({
                             "Version": "2012-10-17", "Statement": [
                                 {"Effect": "Allow", "Action": "s3:GetObject", "Resource": resources}]})}))


def _inline_read(change=lambda statements: None):
    """The read grant as the role's inline policy (pulumi-aws iam.Role `inlinePolicies`: name + policy)."""
    def mutate(s):
        remove(s, ROLE_POLICY)
        document = json.loads(read_policy())
        change(document["Statement"])
        find(s, ROLE, READER)["props"]["inlinePolicies"] = [{"name": "weights", "policy": json.dumps(document)}]
    return mutate


def _whole_bucket(statements):
    statements[0]["Resource"] = ["arn:aws:s3:::vllm-weights-prod/*"]



IDENTITY_CASES = [
    # kms:Decrypt only through S3 ("AWS KMS condition keys": kms:ViaService s3.<region>.amazonaws.com).
    ("kms-without-via-service", "irsa-only-model-access", read_document(lambda st: st[2].pop("Condition")), None,
     least_privilege("models-qwen3-8b-read.policy allows kms:Decrypt without a kms:ViaService "
                      "s3.<region>.amazonaws.com condition"), []),
    ("kms-via-another-service", "irsa-only-model-access",
     read_document(lambda st: st[2].__setitem__("Condition", {"StringEquals": {
         "kms:ViaService": ["s3.us-east-1.amazonaws.com", "ec2.us-east-1.amazonaws.com"]}})), None,
     least_privilege("models-qwen3-8b-read.policy allows kms:Decrypt without a kms:ViaService "
                      "s3.<region>.amazonaws.com condition"), []),
    # Every action of a statement is judged: one after an allowed kms:Decrypt still counts (IAM JSON policy
    # elements: Action, a list of actions each granted).
    ("kms-then-another-action", "irsa-only-model-access",
     read_document(lambda st: st[2].__setitem__("Action", ["kms:Decrypt", "kms:Encrypt"])), None,
     least_privilege("models-qwen3-8b-read.policy allows kms:Encrypt; a model-reading role may only hold "
                      "['s3:GetObject', 's3:ListBucket'] (+ kms:Decrypt via S3)"), []),
    ("kms-via-key-any-case", "irsa-only-model-access",
     read_document(lambda st: st[2].__setitem__("Condition", {"StringLike": {
         "KMS:ViaService": "s3.*.amazonaws.com"}})), None, [], []),
    ("deny-then-a-write", "irsa-only-model-access",
     read_document(lambda st: (st.insert(0, {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": OBJECTS}),
                                st.append({"Effect": "Allow", "Action": "s3:PutObject", "Resource": OBJECTS}))), None,
     least_privilege("models-qwen3-8b-read.policy allows s3:PutObject; a model-reading role may only hold "
                      "['s3:GetObject', 's3:ListBucket'] (+ kms:Decrypt via S3)"), []),
    ("a-write-allowed-by-config", "irsa-only-model-access",
     read_document(lambda st: st.append({"Effect": "Allow", "Action": "s3:PutObject", "Resource": OBJECTS})),
     {"allowedActions": ["s3:GetObject", "s3:ListBucket", "s3:PutObject"]}, [], []),
    ("read-whole-bucket", "irsa-only-model-access", read_document(_whole_bucket), None,
     least_privilege("s3:GetObject covers the whole bucket 'vllm-weights-prod'; restrict it to the model's prefix"),
     []),
    ("read-bucket-arn", "irsa-only-model-access",
     read_document(lambda st: st[0].__setitem__("Resource", "arn:aws:s3:::vllm-weights-prod")), None,
     least_privilege("models-qwen3-8b-read.policy allows s3:GetObject on 'arn:aws:s3:::vllm-weights-prod', not on "
                      "one object prefix"), []),
    ("list-without-prefix", "irsa-only-model-access", read_document(lambda st: st[1].pop("Condition")), None,
     least_privilege("models-qwen3-8b-read.policy allows s3:ListBucket without an s3:prefix condition"), []),
    ("list-without-prefix-allowed", "irsa-only-model-access", read_document(lambda st: st[1].pop("Condition")),
     {"requireListBucketPrefixCondition": False}, [], []),
    ("list-another-prefix", "irsa-only-model-access",
     read_document(lambda st: st[1]["Condition"]["StringLike"].__setitem__("s3:prefix", ["llama/*"])), None,
     least_privilege("models-qwen3-8b-read.policy lists prefixes ['llama/*'] outside the role's object prefix"), []),
    ("list-an-enclosing-prefix", "irsa-only-model-access",
     read_document(lambda st: st[1]["Condition"]["StringLike"].__setitem__("s3:prefix", "qwen3*")), None, [], []),
    ("list-an-inner-prefix", "irsa-only-model-access",
     read_document(lambda st: st[1]["Condition"]["StringLike"].__setitem__("s3:prefix", "qwen3-8b/tokenizer/*")),
     None, [], []),
    ("not-action", "irsa-only-model-access",
     read_document(lambda st: st.append({"Effect": "Allow", "NotAction": "iam:*", "Resource": OBJECTS})), None,
     least_privilege("models-qwen3-8b-read.policy uses NotAction in an Allow statement"), []),
    ("inline-read", "irsa-only-model-access", _inline_read(), None, [], []),
    ("inline-read-whole-bucket", "irsa-only-model-access", _inline_read(_whole_bucket), None,
     least_privilege("s3:GetObject covers the whole bucket 'vllm-weights-prod'; restrict it to the model's prefix"),
     []),
    ("inline-read-unknown", "irsa-only-model-access",
     lambda s: find(s, ROLE, READER)["props"].__setitem__("inlinePolicies", [{"name": "more", "policy": UNKNOWN}]),
     None, [], [f"unknown during preview: {READER}.inlinePolicies[0].policy"]),
    ("another-bucket-another-trust", "irsa-only-model-access", _other_reader(["arn:aws:s3:::logs-bucket/x/*"]), None,
     [], []),
    ("not-s3-then-the-model-bucket", "irsa-only-model-access",
     _other_reader(["arn:aws:sqs:us-east-1:123456789012:queue", "arn:aws:s3:::vllm-weights-prod/x/*"]), None,
     [*UNTRUSTED, "Role 'other-reader' reads model weights with more than least privilege: other-read.policy allows "
                  "s3:GetObject on 'arn:aws:sqs:us-east-1:123456789012:queue', not on one object prefix."], []),
    # A bucket named by its prefix (bucketPrefix): the physical name only starts with it.
    ("a-bucket-by-its-prefix", "irsa-only-model-access",
     lambda s: (find(s, BUCKET)["props"].update({"bucket": None, "bucketPrefix": "vllm-weights-"}),
                _other_reader(["arn:aws:s3:::vllm-weights-abc123/x/*"])(s)), None, UNTRUSTED, []),
    ("an-auto-named-bucket", "irsa-only-model-access",
     lambda s: (find(s, BUCKET)["props"].update({"bucket": UNKNOWN}),
                _other_reader(["arn:aws:s3:::logs-bucket/x/*"])(s)), None, UNTRUSTED, []),
    ("wildcard-inline", "no-wildcard-model-actions",
     _inline_read(lambda st: st[0].__setitem__("Action", ["s3:*"])), None,
     [f"inlinePolicies[0].policy statement 0 allows wildcard actions ['s3:*'] on ['{OBJECTS}']; grant explicit "
      "actions (s3:GetObject, s3:ListBucket)."], []),
    ("wildcard-single-character", "no-wildcard-model-actions",
     read_document(lambda st: st[0].__setitem__("Action", "S3:Get?bject")), None,
     [f"policy statement 0 allows wildcard actions ['S3:Get?bject'] on ['{OBJECTS}']; grant explicit actions "
      "(s3:GetObject, s3:ListBucket)."], []),
    ("wildcard-on-another-service", "no-wildcard-model-actions",
     read_document(lambda st: st.append({"Effect": "Allow", "Action": "sqs:*",
                                          "Resource": "arn:aws:sqs:us-east-1:123456789012:queue"})), None, [], []),
    ("star-not-resource", "no-wildcard-model-actions",
     read_document(lambda st: st.append({"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:iam::*:*"})),
     None, ["policy statement 3 allows wildcard actions ['*'] on []; grant explicit actions (s3:GetObject, "
            "s3:ListBucket)."], []),
    ("not-action-on-s3", "no-wildcard-model-actions",
     read_document(lambda st: st.append({"Effect": "Allow", "NotAction": "iam:*", "Resource": OBJECTS})), None,
     ["policy statement 3 allows NotAction on S3 resources; list actions explicitly."], []),
    ("deny-then-allow-all-in-a-bucket-policy", "no-wildcard-model-actions",
     lambda s: find(s, BUCKET_POLICY)["props"].__setitem__("policy", json.dumps({"Version": "2012-10-17", "Statement": [
         *json.loads(tls_only_policy())["Statement"],
         {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "s3:*",
          "Resource": OBJECTS}]})), None,
     [f"policy statement 1 allows wildcard actions ['s3:*'] on ['{OBJECTS}']; grant explicit actions (s3:GetObject, "
      "s3:ListBucket)."], []),
    ("wildcard-managed-policy", "no-wildcard-model-actions",
     lambda s: add(s, resource("aws:iam/policy:Policy", "broad", {"policy": json.dumps({"Version": "2012-10-17",
                   "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]})})), None,
     ["policy statement 0 allows wildcard actions ['s3:Get*'] on ['*']; grant explicit actions (s3:GetObject, "
      "s3:ListBucket)."], []),
    ("wildcard-user-policy", "no-wildcard-model-actions",
     lambda s: add(s, resource("aws:iam/userPolicy:UserPolicy", "ci", {"user": "ci", "policy": json.dumps({
         "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})})), None,
     ["policy statement 0 allows wildcard actions ['s3:*'] on ['*']; grant explicit actions (s3:GetObject, "
      "s3:ListBucket)."], []),
    ("wildcard-inline-unknown", "no-wildcard-model-actions",
     lambda s: find(s, ROLE, READER)["props"].__setitem__("inlinePolicies", [{"name": "more", "policy": UNKNOWN}]),
     None, [], ["unknown during preview: inlinePolicies[0].policy"]),
    ("wildcard-after-an-unknown-document", "no-wildcard-model-actions",
     lambda s: find(s, ROLE, READER)["props"].__setitem__("inlinePolicies", [
         {"name": "more", "policy": UNKNOWN},
         {"name": "broad", "policy": json.dumps({"Version": "2012-10-17", "Statement": [
             {"Effect": "Allow", "Action": "s3:*", "Resource": OBJECTS}]})}]), None,
     [f"inlinePolicies[1].policy statement 0 allows wildcard actions ['s3:*'] on ['{OBJECTS}']; grant explicit "
      "actions (s3:GetObject, s3:ListBucket)."], []),
    ("no-pod-identity", "no-pod-identity",
     lambda s: add(s, resource("aws:eks/podIdentityAssociation:PodIdentityAssociation", "pia", {"namespace": "llm"})),
     None, ["EKS Pod Identity associations are not allowed: this stack is IRSA-only (annotate the service account "
            "with an IRSA role instead)."], []),
] + [
    (f"iam-user-{type_.rsplit(':', 1)[-1]}", "no-iam-users", lambda s, t=type_: add(s, resource(t, "ci", {})), None,
     [f"{type_} creates long-lived IAM user credentials; use IAM roles (IRSA for pods)."], [])
    for type_ in ("aws:iam/user:User", "aws:iam/accessKey:AccessKey", "aws:iam/userPolicy:UserPolicy",
                  "aws:iam/userPolicyAttachment:UserPolicyAttachment", "aws:iam/userLoginProfile:UserLoginProfile")
]


@pytest.mark.parametrize("policy, mutation, config, messages, reasons", [c[1:] for c in IDENTITY_CASES],
                         ids=[c[0] for c in IDENTITY_CASES])
def test_identity_branches(check, policy, mutation, config, messages, reasons):
    """Sources: IAM User Guide, "IAM JSON policy elements" (Action wildcards * and ?, NotAction, NotResource;
    condition keys are not case-sensitive); EKS user guide, "IAM roles for service accounts" (the web-identity trust
    with <issuer>:sub and <issuer>:aud = sts.amazonaws.com)."""
    run_case(check, policy, mutation, config, messages, reasons)
