"""dev and prod deployed side by side in ONE account and region: no physical name and no account singleton shared.

Sources (also in tests/aws_behaviour.py): Lambda function names, CloudWatch Logs log group names, REST API and
usage-plan names, SQS queue names and Secrets Manager secret names are unique per account and region (AWS: Lambda
CreateFunction "FunctionName", CloudWatch Logs CreateLogGroup "logGroupName", SQS CreateQueue "QueueName",
Secrets Manager CreateSecret "Name"); `aws.apigateway.Account` is one setting per account and region for every REST API
(AWS, "Set up CloudWatch logging for REST APIs"; deleting it resets the role, terraform-provider-aws #42226).
"""

from __future__ import annotations

from collections import Counter

import pytest

from preflight.render import read_stack_config

# Names that are unique only inside their parent (a REST API's models, a cluster's add-ons), not in the account.
PARENT_SCOPED_TYPES = {"aws:apigateway/model:Model", "aws:eks/addon:Addon", "aws:eks/nodeGroup:NodeGroup"}
# One per account and region, whatever the stack: at most one stack there may manage each.
ACCOUNT_SINGLETONS = {"aws:apigateway/account:Account"}
# The input that holds a resource's own physical name (elsewhere `bucket` is a reference to the bucket).
NAME_KEY = {"aws:s3/bucket:Bucket": "bucket"}


def physical_names(snapshot: dict) -> Counter:
    names: Counter = Counter()
    for resource in snapshot["resources"]:
        if not resource["custom"] or not resource["type"].startswith("aws:") or resource["type"] in PARENT_SCOPED_TYPES:
            continue
        value = resource["props"].get(NAME_KEY.get(resource["type"], "name"))
        if isinstance(value, str):
            names[(resource["type"], value)] += 1
    return names


def test_dev_and_prod_share_no_physical_name(dev_snapshot, prod_snapshot):
    dev, prod = physical_names(dev_snapshot), physical_names(prod_snapshot)
    assert dev and prod, "no explicit physical names found: the collector no longer sees the snapshot's shape"
    shared = sorted(set(dev) & set(prod))
    assert not shared, f"dev and prod would collide in one account and region: {shared}"


def test_each_stack_uses_each_physical_name_once(dev_snapshot, prod_snapshot):
    for snapshot in (dev_snapshot, prod_snapshot):
        repeated = sorted(name for name, count in physical_names(snapshot).items() if count > 1)
        assert not repeated, f"{snapshot['stack']}: {repeated}"


def test_at_most_one_stack_manages_each_account_singleton(dev_snapshot, prod_snapshot):
    for token in ACCOUNT_SINGLETONS:
        owners = [s["stack"] for s in (dev_snapshot, prod_snapshot) for r in s["resources"] if r["type"] == token]
        assert len(owners) <= 1, f"{token} is managed by {owners}: destroying one stack would reset the other's"


def test_the_managed_singleton_and_its_role_survive_destroy(dev_snapshot):
    """Destroying the stack that manages API Gateway's CloudWatch role must leave it for the other stacks."""
    account = next(r for r in dev_snapshot["resources"] if r["type"] == "aws:apigateway/account:Account")
    assert account["options"]["retainOnDelete"] is True
    role_arn = account["props"]["cloudwatchRoleArn"]
    role = next(r for r in dev_snapshot["resources"] if r["type"] == "aws:iam/role:Role" and r["name"] == "edge-api-logs")
    attachment = next(r for r in dev_snapshot["resources"]
                      if r["type"] == "aws:iam/rolePolicyAttachment:RolePolicyAttachment" and r["name"] == "edge-api-logs")
    assert role["options"]["retainOnDelete"] is True and attachment["options"]["retainOnDelete"] is True
    assert role_arn.endswith(role["name"]) or "edge-api-logs" in role_arn


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_generated_secrets_with_a_fixed_name_can_be_recreated_at_once(stack, request):
    """Secrets Manager DeleteSecret: during the recovery window the name stays reserved, so a destroyed stack could
    not be created again for that many days; a generated value has nothing to recover."""
    snapshot = request.getfixturevalue(f"{stack}_snapshot")
    named = [r for r in snapshot["resources"] if r["type"] == "aws:secretsmanager/secret:Secret" and r["props"].get("name")]
    assert named
    for secret in named:
        assert float(secret["props"]["recoveryWindowInDays"]) == 0, secret["name"]
    # The auto-named ones (each consumer's key, CloudFront's origin-verify value) block no later stack, so a deleted one
    # stays recoverable for the shortest window DeleteSecret allows (RecoveryWindowInDays: 7 to 30).
    generated = {r["name"]: float(r["props"]["recoveryWindowInDays"]) for r in snapshot["resources"]
                 if r["type"] == "aws:secretsmanager/secret:Secret" and not r["props"].get("name")}
    consumers = read_stack_config(stack)["vllm-eks:edge"]["consumers"]
    assert generated == {"edge-origin-verify": 7, **{f"edge-consumer-{c['name']}": 7 for c in consumers}}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_eks_control_plane_logs_expire_and_support_is_standard(stack, request):
    """EKS user guide, "Send control plane logs to CloudWatch Logs": EKS writes to /aws/eks/<cluster>/cluster (a group
    it creates without expiry if absent); "Cluster upgrade policy": EXTENDED support is billed once a version
    leaves standard support (pulumi-eks defaults to EXTENDED)."""
    snapshot = request.getfixturevalue(f"{stack}_snapshot")
    cluster = next(r for r in snapshot["resources"] if r["type"] == "eks:index:Cluster")
    # A real preview shows this remote component with empty inputs; the program's own are kept aside (issue 20).
    assert cluster["offlineOnlyProgramInputs"]["upgradePolicy"] == {"supportType": "STANDARD"}
    group = next(r for r in snapshot["resources"]
                 if r["type"] == "aws:cloudwatch/logGroup:LogGroup" and r["props"]["name"] == f"/aws/eks/vllm-eks-{stack}/cluster")
    assert float(group["props"]["retentionInDays"]) == 30  # observability.logRetentionDays, default in both stacks
    assert group["urn"] in cluster["options"]["dependsOn"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_api_deployment_follows_gateway_responses_and_the_authorizer(stack, request):
    """A REST API change reaches the stage only through a new deployment (AWS, "Deploy REST APIs in API Gateway")."""
    snapshot = request.getfixturevalue(f"{stack}_snapshot")
    deployment = next(r for r in snapshot["resources"] if r["type"] == "aws:apigateway/deployment:Deployment")
    needed = {r["urn"] for r in snapshot["resources"]
              if r["type"] in ("aws:apigateway/response:Response", "aws:apigateway/authorizer:Authorizer")}
    assert needed and needed <= set(deployment["options"]["dependsOn"])


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_weights_are_readable_only_by_the_model_read_roles(stack, request):
    """IAM user guide, "Policy evaluation logic": an explicit Deny in the bucket policy wins over any Allow, so no
    identity policy in the account (an admin's s3:*) reads the weights; "AWS global condition context keys":
    aws:PrincipalArn of a role session is the role's ARN."""
    snapshot = request.getfixturevalue(f"{stack}_snapshot")
    import json

    policy = json.loads(next(r for r in snapshot["resources"] if r["type"] == "aws:s3/bucketPolicy:BucketPolicy")["props"]["policy"])
    read_roles = sorted(r["outputs"]["arn"] for r in snapshot["resources"]
                        if r["type"] == "aws:iam/role:Role" and r["name"].endswith("-read"))
    bucket = next(r for r in snapshot["resources"] if r["type"] == "aws:s3/bucket:Bucket")["outputs"]["arn"]
    assert read_roles and bucket.startswith("arn:aws:s3:::vllm-weights-")
    # Both object reads (the current version and a named one) are denied to every principal but the read roles,
    # and every request without TLS to anyone ("aws:SecureTransport", the same global condition keys page).
    assert policy == {"Version": "2012-10-17", "Statement": [
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": [bucket, f"{bucket}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "DenyObjectReadsButModelRoles", "Effect": "Deny", "Principal": "*",
         "Action": ["s3:GetObject", "s3:GetObjectVersion"], "Resource": f"{bucket}/*",
         "Condition": {"StringNotEquals": {"aws:PrincipalArn": read_roles}}},
    ]}
