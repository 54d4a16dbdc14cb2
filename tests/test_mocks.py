"""The offline stand-in for AWS (`preflight/mocks.py`): each canned answer stated whole, with the AWS document it
mirrors. The rendered stacks read these values back (zone ids into subnets, the S3 prefix list into NetworkPolicies,
ARNs into IAM documents), so a wrong answer here is a wrong picture of a real deploy."""

from __future__ import annotations

import hashlib
import json

import pytest
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs

from preflight.mocks import AwsLikeMocks, UnansweredInvoke

ACCOUNT = "123456789012"


def sha8(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def invoke(token: str, region: str = "us-east-1", **args) -> dict:
    answer, failures = AwsLikeMocks(region).call(MockCallArgs(token, args, ""))
    assert failures == []
    return answer


def create(typ: str, name: str, inputs: dict | None = None, region: str = "us-east-1", preview: bool = False):
    return AwsLikeMocks(region, preview=preview).new_resource(MockResourceArgs(typ, name, dict(inputs or {})))


@pytest.mark.parametrize("region, zone_ids", [
    ("us-east-1", ["use1-az1", "use1-az2", "use1-az4", "use1-az6", "use1-az3", "use1-az5"]),
    ("us-west-2", ["usw2-az1", "usw2-az2", "usw2-az3", "usw2-az4"]),
    ("eu-west-1", ["euw1-az1", "euw1-az2", "euw1-az3"]),
    ("eu-central-1", ["euc1-az1", "euc1-az2", "euc1-az3"]),
])
def test_availability_zones_answer_the_regions_zone_ids_with_lettered_names(region, zone_ids):
    """AWS RAM User Guide, "AZ IDs for your AWS resources": zone ids (use1-az1 ...) are the same in every account,
    zone names (us-east-1a ...) are letters mapped per account; us-east-1 has six zones, us-west-2 four, eu-west-1 and
    eu-central-1 three (EC2 User Guide, "Regions and Zones")."""
    letters = "abcdef"[: len(zone_ids)]
    assert invoke("aws:index/getAvailabilityZones:getAvailabilityZones", region) == {
        "names": [f"{region}{letter}" for letter in letters], "zoneIds": zone_ids, "state": "available", "id": region}


def test_a_region_the_mocks_do_not_list_answers_three_zones():
    """EC2 User Guide, "Regions and Zones": every region has at least three Availability Zones."""
    assert invoke("aws:index/getAvailabilityZones:getAvailabilityZones", "ap-south-2") == {
        "names": ["ap-south-2a", "ap-south-2b", "ap-south-2c"],
        "zoneIds": ["ap-south-2-az1", "ap-south-2-az2", "ap-south-2-az3"], "state": "available", "id": "ap-south-2"}


def test_caller_identity_is_an_assumed_role_session():
    """STS API Reference, GetCallerIdentity, example for an assumed role: Arn
    arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION, UserId the role's unique id (AROA...) ':' the session name."""
    assert invoke("aws:index/getCallerIdentity:getCallerIdentity") == {
        "accountId": ACCOUNT, "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/pulumi-up",
        "userId": "AROAEXAMPLEDEPLOYER:pulumi-up", "id": ACCOUNT}


def test_partition_is_the_commercial_one():
    """AWS General Reference, "Amazon Resource Names": partition `aws`, DNS suffix amazonaws.com for commercial regions."""
    assert invoke("aws:index/getPartition:getPartition") == {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}


def test_the_s3_prefix_list_holds_s3s_us_east_1_ranges_and_another_name_none():
    """VPC User Guide, "AWS-managed prefix lists": com.amazonaws.<region>.s3 is owned by AWS, IPv4; its entries as
    `aws ec2 get-managed-prefix-list-entries --prefix-list-id pl-63a5400a` lists them (AWS ip-ranges.json, S3, us-east-1)."""
    cidrs = ["3.5.0.0/19", "16.182.0.0/16", "18.34.0.0/19", "18.34.232.0/21", "52.216.0.0/15", "54.231.0.0/16"]
    name = "com.amazonaws.us-east-1.s3"
    assert invoke("aws:ec2/getManagedPrefixList:getManagedPrefixList", name=name) == {
        "id": "pl-63a5400a", "name": name, "entries": [{"cidr": cidr, "description": ""} for cidr in cidrs],
        "addressFamily": "IPv4", "maxEntries": 6, "ownerId": "AWS", "version": 1, "tags": {}}
    other = invoke("aws:ec2/getManagedPrefixList:getManagedPrefixList", name="com.amazonaws.us-east-1.dynamodb")
    assert (other["entries"], other["maxEntries"]) == ([], 0)
    assert invoke("aws:ec2/getManagedPrefixList:getManagedPrefixList", "us-west-2", name=name)["entries"] == []


def test_an_existing_secret_has_six_random_characters_after_its_name():
    """Secrets Manager User Guide, "Secret ARN": the ARN ends in the name, a hyphen and six random characters."""
    assert invoke("aws:secretsmanager/getSecret:getSecret", "eu-west-1", name="hf-token") == {
        "arn": f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:hf-token-{sha8('hf-token')[:6]}",
        "name": "hf-token", "id": f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:hf-token-{sha8('hf-token')[:6]}"}


def test_an_invoke_without_a_canned_answer_fails_naming_it():
    with pytest.raises(UnansweredInvoke, match=r"^the offline mocks do not answer the invoke aws:ec2/getVpc:getVpc; "
                                               r"add its answer to preflight/mocks\.py$"):
        invoke("aws:ec2/getVpc:getVpc")


def test_a_created_resource_echoes_its_inputs_with_an_arn_in_its_service_and_region():
    """AWS General Reference, "Amazon Resource Names": arn:partition:service:region:account-id:resource."""
    physical = f"q-{sha8('aws:ec2/vpc:Vpcq')}"
    assert create("aws:ec2/vpc:Vpc", "q", {"cidrBlock": "10.0.0.0/16"}, "eu-west-1") == (
        f"{physical}-id", {"cidrBlock": "10.0.0.0/16", "arn": f"arn:aws:ec2:eu-west-1:{ACCOUNT}:{physical}"})


def test_a_first_preview_leaves_every_computed_output_unknown_and_the_id_empty():
    """pulumi/pulumi pkg/resource/deploy/step_generator.go: a create in preview returns the inputs, computed outputs
    unknown."""
    resource_id, state = create("aws:sqs/queue:Queue", "jobs", {"name": "jobs"}, preview=True)
    assert (resource_id, state) == ("", {"name": "jobs", "arn": rpc.UNKNOWN, "url": rpc.UNKNOWN})


def _outputs(typ: str, name: str, inputs: dict | None = None, region: str = "us-east-1") -> tuple[str, dict]:
    physical = f"{name}-{sha8(typ + name)}"
    return physical, create(typ, name, inputs, region)[1]


def test_s3_iam_kms_sqs_secrets_and_logs_answer_their_documented_arns():
    """ARN formats from the Service Authorization Reference "Resource types" tables: S3 bucket arn:aws:s3:::NAME
    (no region or account), IAM role arn:aws:iam::ACCOUNT:role/NAME and OIDC provider .../oidc-provider/HOST, KMS
    key arn:aws:kms:REGION:ACCOUNT:key/KEY_ID (a UUID), SQS arn:aws:sqs:REGION:ACCOUNT:NAME with the queue URL
    https://sqs.REGION.amazonaws.com/ACCOUNT/NAME (SQS Developer Guide, "Queue and message identifiers"), Secrets
    Manager ...:secret:NAME-6 chars, CloudWatch Logs arn:aws:logs:REGION:ACCOUNT:log-group:NAME; a new launch
    template's latest and default version is 1 (EC2 API Reference, CreateLaunchTemplate)."""
    physical, bucket = _outputs("aws:s3/bucket:Bucket", "weights", {"bucketPrefix": "w-"})
    assert bucket == {"bucketPrefix": "w-", "bucket": f"w-{sha8(physical)}", "arn": f"arn:aws:s3:::w-{sha8(physical)}",
                      "region": "us-east-1"}
    assert _outputs("aws:s3/bucket:Bucket", "named", {"bucket": "b1"})[1]["arn"] == "arn:aws:s3:::b1"
    assert _outputs("aws:iam/role:Role", "r", {"name": "reader"})[1] == {
        "name": "reader", "arn": f"arn:aws:iam::{ACCOUNT}:role/reader"}
    physical, role = _outputs("aws:iam/role:Role", "r")
    assert role == {"name": physical, "arn": f"arn:aws:iam::{ACCOUNT}:role/{physical}"}
    assert _outputs("aws:iam/openIdConnectProvider:OpenIdConnectProvider", "o", {"url": "https://oidc.example/id/A"})[1][
        "arn"] == f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.example/id/A"
    physical, key = _outputs("aws:kms/key:Key", "k", region="eu-west-1")
    key_id = f"{sha8(physical)}-0000-4000-8000-{sha8(physical + 'k')}0000"
    assert key == {"keyId": key_id, "arn": f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{key_id}"}
    assert _outputs("aws:sqs/queue:Queue", "q", {"name": "events"}, "eu-west-1")[1] == {
        "name": "events", "arn": f"arn:aws:sqs:eu-west-1:{ACCOUNT}:events",
        "url": f"https://sqs.eu-west-1.amazonaws.com/{ACCOUNT}/events"}
    assert _outputs("aws:secretsmanager/secret:Secret", "s", {"name": "key"})[1]["arn"] == (
        f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:key-AbCdEf")
    assert _outputs("aws:cloudwatch/logGroup:LogGroup", "l", {"name": "/aws/x"})[1]["arn"] == (
        f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/x")
    physical, template = _outputs("aws:ec2/launchTemplate:LaunchTemplate", "lt")
    assert template == {"arn": f"arn:aws:ec2:us-east-1:{ACCOUNT}:{physical}", "latestVersion": 1, "defaultVersion": 1}
    physical, random = _outputs("random:index/randomPassword:RandomPassword", "p")
    random.pop("arn")  # not an AWS resource: nothing reads its ARN
    assert random == {"result": f"mock-{sha8(physical)}{sha8(physical + 'r')}", "hex": sha8(physical)}


def test_the_edge_resources_answer_their_documented_ids_arns_and_endpoints():
    """API Gateway Developer Guide, "Invoking a REST API": https://API_ID.execute-api.REGION.amazonaws.com/STAGE, a
    10-character API id, execute-api ARNs arn:aws:execute-api:REGION:ACCOUNT:API_ID/STAGE and apigateway ARNs
    arn:aws:apigateway:REGION::/restapis/API_ID; ELB User Guide: load balancer ARNs ...:loadbalancer/app/NAME/ID with
    the arn suffix app/NAME/ID, names of at most 32 characters, internal DNS names internal-NAME...elb.amazonaws.com,
    target group ARNs ...:targetgroup/NAME/ID; Lambda's API Gateway integration URI
    arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/FUNCTION_ARN/invocations; CloudFront distribution
    ARNs arn:aws:cloudfront::ACCOUNT:distribution/ID (global, no region) and domains such as
    d111111abcdef8.cloudfront.net (the CloudFront Developer Guide's example)."""
    long_name = "a-very-long-load-balancer-name-over-32-characters"
    physical, api = _outputs("aws:apigateway/restApi:RestApi", "api", region="eu-west-1")
    api_id = hashlib.sha256((physical + "api").encode()).hexdigest()[:8]
    assert api == {"id": api_id, "rootResourceId": sha8(physical + "root"),
                   "executionArn": f"arn:aws:execute-api:eu-west-1:{ACCOUNT}:{api_id}",
                   "arn": f"arn:aws:apigateway:eu-west-1::/restapis/{api_id}"}
    assert _outputs("aws:apigateway/stage:Stage", "st", {"restApi": "abc123", "stageName": "v1"}, "eu-west-1")[1] == {
        "restApi": "abc123", "stageName": "v1", "invokeUrl": "https://abc123.execute-api.eu-west-1.amazonaws.com/v1",
        "arn": "arn:aws:apigateway:eu-west-1::/restapis/abc123/stages/v1",
        "executionArn": f"arn:aws:execute-api:eu-west-1:{ACCOUNT}:abc123/v1"}
    physical, lb = _outputs("aws:lb/loadBalancer:LoadBalancer", long_name)
    suffix = f"app/{physical[:32]}/{sha8(physical)}{sha8(physical + 'lb')}"
    assert physical[:32] == "a-very-long-load-balancer-name-o"
    assert lb == {"arn": f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:loadbalancer/{suffix}", "arnSuffix": suffix,
                  "dnsName": "internal-a-very-long-load-balancer-name-o.us-east-1.elb.amazonaws.com"}
    physical, tg = _outputs("aws:lb/targetGroup:TargetGroup", long_name)
    suffix = f"targetgroup/a-very-long-load-balancer-name-o/{sha8(physical)}{sha8(physical + 'tg')}"
    assert tg == {"arn": f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:{suffix}", "arnSuffix": suffix}
    function_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:auth"
    assert _outputs("aws:lambda/function:Function", "f", {"name": "auth"})[1] == {
        "name": "auth", "arn": function_arn,
        "invokeArn": f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{function_arn}/invocations"}
    physical, cdn = _outputs("aws:cloudfront/distribution:Distribution", "cdn")
    assert cdn == {"domainName": f"d{sha8(physical)}.cloudfront.net",
                   "arn": f"arn:aws:cloudfront::{ACCOUNT}:distribution/E{sha8(physical).upper()}X"}


def test_the_eks_cluster_answers_an_oidc_issuer_endpoint_and_an_exec_kubeconfig():
    """EKS User Guide, "Create an IAM OIDC provider for your cluster": issuer oidc.eks.REGION.amazonaws.com/id/ID and
    provider ARN arn:aws:iam::ACCOUNT:oidc-provider/ISSUER; endpoints https://ID.gr7.REGION.eks.amazonaws.com; the
    kubeconfig `aws eks update-kubeconfig` writes uses the exec plugin client.authentication.k8s.io/v1beta1 running
    `aws eks get-token --cluster-name NAME` (EKS User Guide, "Connect kubectl to an EKS cluster")."""
    physical, cluster = _outputs("eks:index:Cluster", "c", {"name": "vllm"}, "us-west-2")
    cluster.pop("arn")  # the component's own ARN output is not read: the program reads the outputs below
    issuer = f"oidc.eks.us-west-2.amazonaws.com/id/{sha8(physical).upper()}{sha8('vllm').upper()}"
    kubeconfig = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "vllm", "cluster": {"server": f"https://{sha8('vllm').upper()}.gr7.us-west-2.eks.amazonaws.com",
                                                   "certificate-authority-data": "bW9jaw=="}}],
        "contexts": [{"name": "vllm", "context": {"cluster": "vllm", "user": "vllm"}}],
        "current-context": "vllm",
        "users": [{"name": "vllm", "user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws",
                                                     "args": ["eks", "get-token", "--cluster-name", "vllm"]}}}],
    }
    assert cluster == {
        "name": "vllm", "kubeconfig": kubeconfig,
        "kubeconfigJson": json.dumps(kubeconfig), "oidcProviderArn": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{issuer}",
        "oidcProviderUrl": f"https://{issuer}", "oidcIssuer": issuer,
        "clusterSecurityGroupId": f"sg-{sha8('vllmcluster')}", "nodeSecurityGroupId": f"sg-{sha8('vllmcluster')}"}


def test_without_a_name_input_each_resource_is_named_by_its_physical_name():
    """Pulumi auto-naming ("Resource names"): a resource without an explicit name gets `<logical name>-<suffix>`; the
    stand-in uses its physical name wherever AWS would put the name."""
    physical, role = _outputs("aws:iam/role:Role", "r")
    assert role["name"] == physical
    physical, queue = _outputs("aws:sqs/queue:Queue", "q")
    assert queue == {"name": physical, "arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:{physical}",
                     "url": f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/{physical}"}
    physical, secret = _outputs("aws:secretsmanager/secret:Secret", "s")
    assert secret["arn"] == f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:{physical}-AbCdEf"
    physical, group = _outputs("aws:cloudwatch/logGroup:LogGroup", "l")
    assert group["arn"] == f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{physical}"
    physical, function = _outputs("aws:lambda/function:Function", "f")
    assert function["name"] == physical and function["arn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{physical}"
    physical, bucket = _outputs("aws:s3/bucket:Bucket", "b")
    assert bucket["bucket"] == sha8(physical)  # no prefix given
    assert _outputs("aws:iam/openIdConnectProvider:OpenIdConnectProvider", "o")[1]["arn"] == (
        f"arn:aws:iam::{ACCOUNT}:oidc-provider/")
    stage = _outputs("aws:apigateway/stage:Stage", "st")[1]
    assert stage["invokeUrl"] == "https://api.execute-api.us-east-1.amazonaws.com/stage"
    physical, cluster = _outputs("eks:index:Cluster", "c")
    assert cluster["oidcIssuer"] == f"oidc.eks.us-east-1.amazonaws.com/id/{sha8(physical).upper()}{sha8(physical).upper()}"
    assert _outputs("aws:ec2/subnet:Subnet", "s")[1] == {"arn": f"arn:aws:ec2:us-east-1:{ACCOUNT}:s-{sha8('aws:ec2/subnet:Subnets')}"}


def test_an_arn_the_program_gives_is_kept():
    assert create("aws:iam/role:Role", "r", {"arn": "arn:given", "name": "x"})[1]["arn"] == "arn:given"
