"""IAM documents: exact content, and a real linter (parliament) on every permission and resource policy the stack renders."""

from __future__ import annotations

import json

import pytest
from parliament import analyze_policy_string

from vllm_eks.iam import iam_documents as documents
from vllm_eks.cluster import karpenter
from rendered import resources_of

BUCKET_ARN = "arn:aws:s3:::vllm-weights-abc"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/ABCDEF"
PROVIDER_ARN = f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:hf-token-??????"

# parliament misreads the documented Karpenter controller policy in two ways, both deliberate upstream
# (karpenter-provider-aws v1.14 getting-started CloudFormation): RunInstances/CreateFleet resources are split
# across statements (each with its own tag conditions), which its per-statement RESOURCE_MISMATCH check cannot
# see; and AWS-owned public SSM parameters have an empty account field (`arn:aws:ssm:<region>::parameter/aws/...`),
# which its ARN pattern does not accept. These are the only findings allowed, on these actions only.
KARPENTER_PARLIAMENT_EXCEPTIONS = {("RESOURCE_MISMATCH", action) for action in ("ec2:RunInstances", "ec2:CreateFleet", "ssm:GetParameter")}


# parliament's action table (1.6) lists ecr:BatchImportUpstreamImage with no resource type; the Service Authorization
# Reference ("Actions, resources, and condition keys for Amazon Elastic Container Registry") lists `repository*`, so the
# node roles' import policy names the cache rules' repositories rather than "*". The only finding allowed on it.
IMAGE_IMPORT_PARLIAMENT_EXCEPTIONS = {("RESOURCE_MISMATCH", "ecr:BatchImportUpstreamImage")}


def findings(document: dict | str) -> list[tuple[str, object]]:
    text = document if isinstance(document, str) else json.dumps(document)
    return [(finding.issue, finding.detail) for finding in analyze_policy_string(text, include_community_auditors=False).findings]


def findings_by_action(document: dict | str) -> set[tuple[str, str]]:
    found = set()
    for issue, detail in findings(document):
        actions = [item["action"] for item in detail] if isinstance(detail, list) else [str(detail)]
        found |= {(issue, action) for action in actions}
    return found


def test_irsa_trust_admits_exactly_one_service_account():
    assert documents.irsa_trust_policy(PROVIDER_ARN, ISSUER, "vllm-qwen3-8b", "vllm-server") == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": PROVIDER_ARN},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{ISSUER}:sub": "system:serviceaccount:vllm-qwen3-8b:vllm-server",
                        f"{ISSUER}:aud": "sts.amazonaws.com",
                    }
                },
            }
        ],
    }


def test_model_read_policy_is_exactly_get_list_and_decrypt_through_s3():
    assert documents.model_read_policy(BUCKET_ARN, "models/qwen3-8b", KEY_ARN, "us-east-1")["Statement"] == [
        {"Sid": "ReadModelObjects", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{BUCKET_ARN}/models/qwen3-8b/*"},
        {
            "Sid": "ListModelPrefix",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": BUCKET_ARN,
            "Condition": {"StringLike": {"s3:prefix": ["models/qwen3-8b", "models/qwen3-8b/*"]}},
        },
        {
            "Sid": "DecryptThroughS3",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": KEY_ARN,
            "Condition": {
                "StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com", "kms:EncryptionContext:aws:s3:arn": BUCKET_ARN}
            },
        },
    ]


def test_model_read_policy_adds_exactly_the_adapter_prefixes():
    statements = documents.model_read_policy(BUCKET_ARN, "models/qwen3-8b", KEY_ARN, "us-east-1", ("loras/sql", "loras/chat"))["Statement"]
    assert statements[0]["Resource"] == [f"{BUCKET_ARN}/models/qwen3-8b/*", f"{BUCKET_ARN}/loras/sql/*", f"{BUCKET_ARN}/loras/chat/*"]
    assert statements[1]["Condition"] == {
        "StringLike": {"s3:prefix": ["models/qwen3-8b", "models/qwen3-8b/*", "loras/sql", "loras/sql/*", "loras/chat", "loras/chat/*"]}
    }


def test_sync_policy_writes_only_and_reads_only_the_token():
    statements = documents.model_sync_write_policy(BUCKET_ARN, "models/x", KEY_ARN, "us-east-1", SECRET_ARN)["Statement"]
    actions = {action for statement in statements for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])}
    assert actions == {"s3:PutObject", "s3:AbortMultipartUpload", "kms:GenerateDataKey", "kms:Decrypt", "secretsmanager:GetSecretValue"}
    assert statements[0]["Resource"] == f"{BUCKET_ARN}/models/x/*"
    assert statements[2]["Resource"] == SECRET_ARN
    without_token = documents.model_sync_write_policy(BUCKET_ARN, "models/x", KEY_ARN, "us-east-1", None)["Statement"]
    assert [statement["Sid"] for statement in without_token] == ["WriteModelObjects", "EncryptThroughS3"]


@pytest.mark.parametrize(
    "document",
    [
        documents.model_read_policy(BUCKET_ARN, "models/qwen3-8b", KEY_ARN, "us-east-1"),
        documents.model_read_policy(BUCKET_ARN, "models/qwen3-8b", KEY_ARN, "us-east-1", ("loras/sql",)),
        documents.model_sync_write_policy(BUCKET_ARN, "models/qwen3-8b", KEY_ARN, "us-east-1", SECRET_ARN),
        documents.deny_insecure_transport_bucket_policy(BUCKET_ARN),
        documents.interruption_queue_policy("arn:aws:sqs:us-east-1:123456789012:vllm-eks-prod-karpenter"),
    ],
    ids=["read", "read-with-adapter", "sync-write", "bucket", "queue"],
)
def test_documents_have_no_parliament_findings(document):
    assert findings(document) == []


def test_karpenter_controller_policy_has_only_the_documented_exceptions():
    document = karpenter.controller_policy(
        partition="aws",
        region="us-east-1",
        account_id="123456789012",
        cluster_name="vllm-eks-prod",
        node_role_arn="arn:aws:iam::123456789012:role/karpenter-node",
        queue_arn="arn:aws:sqs:us-east-1:123456789012:vllm-eks-prod-karpenter",
    )
    assert findings_by_action(document) <= KARPENTER_PARLIAMENT_EXCEPTIONS
    assert len(json.dumps(document, separators=(",", ":"))) < 10_240  # inline role policy limit


def test_parliament_catches_too_broad_and_misspelt_documents():
    too_broad = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    assert any(issue == "RESOURCE_STAR" for issue, _ in findings(too_broad))
    misspelt = documents.model_read_policy(BUCKET_ARN, "models/x", KEY_ARN, "us-east-1")
    misspelt["Statement"][0]["Action"] = "s3:GetObjekt"
    assert ("UNKNOWN_ACTION", "Unknown action s3:GetObjekt") in findings(misspelt)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_rendered_policy_document_lints_clean(stack, dev_snapshot, prod_snapshot):
    snapshot = {"dev": dev_snapshot, "prod": prod_snapshot}[stack]
    policy_types = ("aws:iam/rolePolicy:RolePolicy", "aws:s3/bucketPolicy:BucketPolicy", "aws:sqs/queuePolicy:QueuePolicy")
    rendered = [resource for type_token in policy_types for resource in resources_of(snapshot, type_token)]
    assert {"cluster-karpenter-controller-policy", "models-policy", "cluster-interruptions-policy"} <= {r["name"] for r in rendered}
    for resource in rendered:
        policy = resource["props"]["policy"]
        if resource["name"] == "cluster-karpenter-controller-policy":
            assert findings_by_action(policy) <= KARPENTER_PARLIAMENT_EXCEPTIONS
        elif resource["name"].endswith("-node-role-image-import"):
            assert findings_by_action(policy) == IMAGE_IMPORT_PARLIAMENT_EXCEPTIONS
        else:
            assert findings(policy) == [], resource["name"]


def test_interruption_queue_takes_events_from_eventbridge_and_sqs_and_nothing_without_tls():
    """Karpenter docs, "Getting Started with Karpenter" CloudFormation (KarpenterInterruptionQueuePolicy): events.amazonaws.com
    and sqs.amazonaws.com may sqs:SendMessage to the queue; a Deny on aws:SecureTransport false refuses plain HTTP."""
    queue = "arn:aws:sqs:us-east-1:123456789012:vllm-eks-prod-karpenter"
    allow, deny = documents.interruption_queue_policy(queue)["Statement"]
    assert allow == {"Sid": "EventBridgeDelivers", "Effect": "Allow",
                     "Principal": {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]},
                     "Action": "sqs:SendMessage", "Resource": queue}
    assert (deny["Effect"], deny["Principal"], deny["Action"], deny["Resource"], deny["Condition"]) == (
        "Deny", "*", "sqs:*", queue, {"Bool": {"aws:SecureTransport": "false"}})


def test_a_service_role_is_assumable_by_that_aws_service_alone():
    """IAM User Guide, "Creating a role to delegate permissions to an AWS service": Principal Service, sts:AssumeRole."""
    assert documents.service_trust_policy("ec2.amazonaws.com") == {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


# The controller policy of Karpenter v1.14.1, copied from aws/karpenter-provider-aws at tag v1.14.1,
# website/content/en/docs/getting-started/getting-started-with-karpenter/cloudformation.yaml: the `Statement` lists of
# its six AWS::IAM::ManagedPolicy resources (NodeLifecycle, IAMIntegration, EKSIntegration, Interruption, ZonalShift,
# ResourceDiscovery) in file order, with the template's `${...}` substitutions left in place.
KARPENTER_UPSTREAM_STATEMENTS = r"""[
    {"Sid": "AllowScopedEC2InstanceAccessActions", "Effect": "Allow", "Resource": ["arn:${AWS::Partition}:ec2:${AWS::Region}::image/*", "arn:${AWS::Partition}:ec2:${AWS::Region}::snapshot/*", "arn:${AWS::Partition}:ec2:${AWS::Region}:*:security-group/*", "arn:${AWS::Partition}:ec2:${AWS::Region}:*:subnet/*", "arn:${AWS::Partition}:ec2:${AWS::Region}:*:capacity-reservation/*", "arn:${AWS::Partition}:ec2:${AWS::Region}:*:placement-group/*"], "Action": ["ec2:RunInstances", "ec2:CreateFleet"]},
    {"Sid": "AllowScopedEC2LaunchTemplateAccessActions", "Effect": "Allow", "Resource": "arn:${AWS::Partition}:ec2:${AWS::Region}:*:launch-template/*", "Action": ["ec2:RunInstances", "ec2:CreateFleet"], "Condition": {"StringEquals": {"aws:ResourceTag/kubernetes.io/cluster/${ClusterName}": "owned"}, "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"}}},
    {"Sid": "AllowScopedEC2InstanceActionsWithTags", "Effect": "Allow", "Resource": ["arn:${AWS::Partition}:ec2:${AWS::Region}:*:fleet/*", "arn:${AWS::Partition}:ec2:${AWS::Region}:*:instance/*", "arn:${AWS::Partition}:ec2:${AWS::Region}:*:volume/*", "arn:${AWS::Partition}:ec2:${AWS::Region}:*:network-interface/*", "arn:${AWS::Partition}:ec2:${AWS::Region}:*:launch-template/*", "arn:${AWS::Partition}:ec2:${AWS::Region}:*:spot-instances-request/*"], "Action": ["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"], "Condition": {"StringEquals": {"aws:RequestTag/kubernetes.io/cluster/${ClusterName}": "owned", "aws:RequestTag/eks:eks-cluster-name": "${ClusterName}"}, "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"}}},
    {"Sid": "AllowScopedResourceCreationTagging", "Effect": "Allow", "Resource": ["arn:${AWS::Partition}:ec2:${AWS::Region}:*:fleet/*", "arn:${AWS::Partition}:ec2:${AWS::Region}:*:instance/*", "arn:${AWS::Partition}:ec2:${AWS::Region}:*:volume/*", "arn:${AWS::Partition}:ec2:${AWS::Region}:*:network-interface/*", "arn:${AWS::Partition}:ec2:${AWS::Region}:*:launch-template/*", "arn:${AWS::Partition}:ec2:${AWS::Region}:*:spot-instances-request/*"], "Action": "ec2:CreateTags", "Condition": {"StringEquals": {"aws:RequestTag/kubernetes.io/cluster/${ClusterName}": "owned", "aws:RequestTag/eks:eks-cluster-name": "${ClusterName}", "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"]}, "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"}}},
    {"Sid": "AllowScopedResourceTagging", "Effect": "Allow", "Resource": "arn:${AWS::Partition}:ec2:${AWS::Region}:*:instance/*", "Action": "ec2:CreateTags", "Condition": {"StringEquals": {"aws:ResourceTag/kubernetes.io/cluster/${ClusterName}": "owned"}, "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"}, "StringEqualsIfExists": {"aws:RequestTag/eks:eks-cluster-name": "${ClusterName}"}, "ForAllValues:StringEquals": {"aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"]}}},
    {"Sid": "AllowScopedDeletion", "Effect": "Allow", "Resource": ["arn:${AWS::Partition}:ec2:${AWS::Region}:*:instance/*", "arn:${AWS::Partition}:ec2:${AWS::Region}:*:launch-template/*"], "Action": ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"], "Condition": {"StringEquals": {"aws:ResourceTag/kubernetes.io/cluster/${ClusterName}": "owned"}, "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"}}},
    {"Sid": "AllowPassingInstanceRole", "Effect": "Allow", "Resource": "${KarpenterNodeRole.Arn}", "Action": "iam:PassRole", "Condition": {"StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"]}}},
    {"Sid": "AllowScopedInstanceProfileCreationActions", "Effect": "Allow", "Resource": "arn:${AWS::Partition}:iam::${AWS::AccountId}:instance-profile/*", "Action": ["iam:CreateInstanceProfile"], "Condition": {"StringEquals": {"aws:RequestTag/kubernetes.io/cluster/${ClusterName}": "owned", "aws:RequestTag/eks:eks-cluster-name": "${ClusterName}", "aws:RequestTag/topology.kubernetes.io/region": "${AWS::Region}"}, "StringLike": {"aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"}}},
    {"Sid": "AllowScopedInstanceProfileTagActions", "Effect": "Allow", "Resource": "arn:${AWS::Partition}:iam::${AWS::AccountId}:instance-profile/*", "Action": ["iam:TagInstanceProfile"], "Condition": {"StringEquals": {"aws:ResourceTag/kubernetes.io/cluster/${ClusterName}": "owned", "aws:ResourceTag/topology.kubernetes.io/region": "${AWS::Region}", "aws:RequestTag/kubernetes.io/cluster/${ClusterName}": "owned", "aws:RequestTag/eks:eks-cluster-name": "${ClusterName}", "aws:RequestTag/topology.kubernetes.io/region": "${AWS::Region}"}, "StringLike": {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*", "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"}}},
    {"Sid": "AllowScopedInstanceProfileActions", "Effect": "Allow", "Resource": "arn:${AWS::Partition}:iam::${AWS::AccountId}:instance-profile/*", "Action": ["iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile"], "Condition": {"StringEquals": {"aws:ResourceTag/kubernetes.io/cluster/${ClusterName}": "owned", "aws:ResourceTag/topology.kubernetes.io/region": "${AWS::Region}"}, "StringLike": {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*"}}},
    {"Sid": "AllowAPIServerEndpointDiscovery", "Effect": "Allow", "Resource": "arn:${AWS::Partition}:eks:${AWS::Region}:${AWS::AccountId}:cluster/${ClusterName}", "Action": "eks:DescribeCluster"},
    {"Sid": "AllowInterruptionQueueActions", "Effect": "Allow", "Resource": "${KarpenterInterruptionQueue.Arn}", "Action": ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"]},
    {"Sid": "AllowZonalShiftStatusReadOnly", "Effect": "Allow", "Resource": "*", "Action": ["arc-zonal-shift:GetManagedResource"], "Condition": {"StringEquals": {"arc-zonal-shift:ResourceIdentifier": "arn:${AWS::Partition}:eks:${AWS::Region}:${AWS::AccountId}:cluster/${ClusterName}"}}},
    {"Sid": "AllowRegionalReadActions", "Effect": "Allow", "Resource": "*", "Action": ["ec2:DescribeCapacityReservations", "ec2:DescribeImages", "ec2:DescribeInstances", "ec2:DescribeInstanceStatus", "ec2:DescribeInstanceTypeOfferings", "ec2:DescribeInstanceTypes", "ec2:DescribeLaunchTemplates", "ec2:DescribePlacementGroups", "ec2:DescribeSecurityGroups", "ec2:DescribeSpotPriceHistory", "ec2:DescribeSubnets"], "Condition": {"StringEquals": {"aws:RequestedRegion": "${AWS::Region}"}}},
    {"Sid": "AllowSSMReadActions", "Effect": "Allow", "Resource": "arn:${AWS::Partition}:ssm:${AWS::Region}::parameter/aws/service/*", "Action": "ssm:GetParameter"},
    {"Sid": "AllowPricingReadActions", "Effect": "Allow", "Resource": "*", "Action": "pricing:GetProducts"},
    {"Sid": "AllowUnscopedInstanceProfileListAction", "Effect": "Allow", "Resource": "*", "Action": "iam:ListInstanceProfiles"},
    {"Sid": "AllowInstanceProfileReadActions", "Effect": "Allow", "Resource": "arn:${AWS::Partition}:iam::${AWS::AccountId}:instance-profile/*", "Action": "iam:GetInstanceProfile"}
]"""


def _one_action_as_string(statement: dict) -> dict:
    """IAM JSON policy reference, "Action": a one-element array means the same as the string; compare them alike."""
    return {key: value[0] if key == "Action" and isinstance(value, list) and len(value) == 1 else value
            for key, value in statement.items()}


def test_karpenter_controller_policy_is_the_upstream_one_but_zonal_shift_and_china():
    """Every statement of Karpenter's own controller policy (KARPENTER_UPSTREAM_STATEMENTS, above), whole, with two
    documented departures: the ZonalShift statement is left out (the chart's `settings.enableZonalShift` stays false),
    and `iam:PassedToService` names only `ec2.amazonaws.com` (upstream adds `ec2.amazonaws.com.cn`, the China
    partitions' EC2, which no region in the stack's price table is in)."""
    substitutions = {"${AWS::Partition}": "aws-us-gov", "${AWS::Region}": "us-gov-west-1",
                     "${AWS::AccountId}": "210987654321", "${ClusterName}": "vllm-eks-blue",
                     "${KarpenterNodeRole.Arn}": "arn:aws-us-gov:iam::210987654321:role/blue-node",
                     "${KarpenterInterruptionQueue.Arn}": "arn:aws-us-gov:sqs:us-gov-west-1:210987654321:blue-queue"}
    text = KARPENTER_UPSTREAM_STATEMENTS
    for placeholder, value in substitutions.items():
        text = text.replace(placeholder, value)
    upstream = [_one_action_as_string(statement) for statement in json.loads(text)
                if statement["Sid"] != "AllowZonalShiftStatusReadOnly"]
    for statement in upstream:
        if statement["Sid"] == "AllowPassingInstanceRole":
            statement["Condition"] = {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}
    document = karpenter.controller_policy(
        partition="aws-us-gov", region="us-gov-west-1", account_id="210987654321", cluster_name="vllm-eks-blue",
        node_role_arn="arn:aws-us-gov:iam::210987654321:role/blue-node",
        queue_arn="arn:aws-us-gov:sqs:us-gov-west-1:210987654321:blue-queue",
    )
    assert document["Version"] == "2012-10-17"
    assert [_one_action_as_string(statement) for statement in document["Statement"]] == upstream


def test_sync_write_bucket_and_image_import_documents_whole():
    """Each document whole. S3 "Uploading and copying objects using multipart upload" with SSE-KMS: PutObject and
    AbortMultipartUpload on the objects, kms:GenerateDataKey and kms:Decrypt on the key through S3 only; S3 "Bucket
    policy examples": deny every request without aws:SecureTransport; IAM "Policy evaluation logic": an explicit Deny
    of object reads to every principal but the listed roles (aws:PrincipalArn); Amazon ECR "IAM permissions required to
    sync an upstream registry": ecr:BatchImportUpstreamImage and ecr:CreateRepository on the rules' repositories."""
    through_s3 = {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com", "kms:EncryptionContext:aws:s3:arn": BUCKET_ARN}}
    assert documents.model_sync_write_policy(BUCKET_ARN, "models/x", KEY_ARN, "us-east-1", SECRET_ARN) == {
        "Version": "2012-10-17", "Statement": [
            {"Sid": "WriteModelObjects", "Effect": "Allow", "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
             "Resource": f"{BUCKET_ARN}/models/x/*"},
            {"Sid": "EncryptThroughS3", "Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
             "Resource": KEY_ARN, "Condition": through_s3},
            {"Sid": "ReadHuggingFaceToken", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": SECRET_ARN}]}
    readers = ["arn:aws:iam::123456789012:role/read-b", "arn:aws:iam::123456789012:role/read-a"]
    assert documents.model_bucket_policy(BUCKET_ARN, readers) == {"Version": "2012-10-17", "Statement": [
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": [BUCKET_ARN, f"{BUCKET_ARN}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "DenyObjectReadsButModelRoles", "Effect": "Deny", "Principal": "*",
         "Action": ["s3:GetObject", "s3:GetObjectVersion"], "Resource": f"{BUCKET_ARN}/*",
         "Condition": {"StringNotEquals": {"aws:PrincipalArn": sorted(readers)}}}]}
    assert documents.pull_through_import_policy("aws-us-gov", "us-gov-west-1", "210987654321", ["docker-hub", "quay"]) == {
        "Version": "2012-10-17", "Statement": [{
            "Sid": "ImportThroughPullThroughCache", "Effect": "Allow",
            "Action": ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"],
            "Resource": ["arn:aws-us-gov:ecr:us-gov-west-1:210987654321:repository/docker-hub/*",
                         "arn:aws-us-gov:ecr:us-gov-west-1:210987654321:repository/quay/*"]}]}
    assert documents.secret_arn_pattern("aws-us-gov", "us-gov-west-1", "210987654321", "hf/token") == (
        "arn:aws-us-gov:secretsmanager:us-gov-west-1:210987654321:secret:hf/token-??????")
    assert documents.flow_log_trust_policy("aws-us-gov", "us-gov-west-1", "210987654321")["Statement"][0]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "210987654321"},
        "ArnLike": {"aws:SourceArn": "arn:aws-us-gov:ec2:us-gov-west-1:210987654321:vpc-flow-log/*"}}
