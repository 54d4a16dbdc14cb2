"""The doctor's side branches against moto, each stated whole: an admin of another account, fewer zones than the
stack asks for, a GPU type missing from some of the stack's zones, a re-deployed stack's own API Gateway role, a read
secret pending deletion, a private endpoint of a deployed cluster. moto ships AWS's zone and offering data
(moto/ec2/resources/instance_type_offerings); the other AWS behaviour is named per test."""

from __future__ import annotations

import datetime

import boto3

from preflight.doctor_checks import Finding
from test_doctor_checks import aws, findings_of  # noqa: F401 - the fixture
from tests.doctor_support import stack_config

_OFFERINGS = "aws ec2 describe-instance-type-offerings --location-type availability-zone --filters Name=instance-type,Values="


def test_an_admin_principal_of_another_account_is_a_warning_naming_both_accounts(aws):  # noqa: F811
    """EKS access entries name IAM principals of the cluster's own account (EKS API reference, CreateAccessEntry)."""
    admin = "arn:aws:iam::210987654321:role/Admin"
    finding = findings_of("prod", stack_config("prod", cluster={"adminPrincipalArn": admin}))["admin-entry"]
    assert finding == Finding("admin-entry", "warn", f"{admin} is in account 210987654321", "a principal of 123456789012",
                              "set vllm-eks:cluster.adminPrincipalArn to a role of account 123456789012")


def test_more_zones_than_the_region_has_is_a_blocker_naming_the_setting(aws):  # noqa: F811
    """eu-west-1 has three Availability Zones (EC2 DescribeAvailabilityZones; moto's region data)."""
    config = {**stack_config("prod", network={"availabilityZones": 4}), "aws:region": "eu-west-1"}
    findings = findings_of("prod", config)
    assert findings["availability-zones"] == Finding(
        "availability-zones", "blocker", "3 zones available in eu-west-1", "4 zones",
        "network.availabilityZones: got 4, expected at most 3 (zones available in eu-west-1): lower it or pick another "
        "aws:region")
    assert not any(check.startswith("offering ") for check in findings)


def test_a_gpu_type_missing_from_some_zones_is_a_warning_naming_them_and_present_in_all_is_ok(aws):  # noqa: F811
    """AWS's offerings (moto's copy): g5.12xlarge in us-west-2a/b/c but not us-west-2d."""
    four = findings_of("prod", {**stack_config("prod", network={"availabilityZones": 4}), "aws:region": "us-west-2"})
    zones = "us-west-2a, us-west-2b, us-west-2c, us-west-2d"
    assert four["offering g5.12xlarge"] == Finding(
        "offering g5.12xlarge", "warn", f"offered in us-west-2a, us-west-2b, us-west-2c of {zones}",
        "every zone of the stack (GPU nodes cannot start in us-west-2d)", f"{_OFFERINGS}g5.12xlarge --region us-west-2")
    three = findings_of("prod", {**stack_config("prod"), "aws:region": "us-west-2"})
    assert three["offering g5.12xlarge"] == Finding(
        "offering g5.12xlarge", "ok", "offered in us-west-2a, us-west-2b, us-west-2c of us-west-2a, us-west-2b, us-west-2c",
        "every zone of the stack")


def test_a_redeployed_stacks_own_api_gateway_role_is_ok(aws):  # noqa: F811
    """The Edge names its API Gateway CloudWatch role edge-api-logs-<suffix> (vllm_eks/edge/edge_api.py); on a
    re-deploy (the cluster exists: EKS DescribeCluster) the account setting pointing at it is this stack's."""
    role = "arn:aws:iam::123456789012:role/edge-api-logs-1a2b3c4"
    boto3.client("apigateway", region_name="us-east-1").update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role}])
    assert findings_of("dev", stack_config("dev"))["apigateway-account"].status == "warn"  # a first deploy: someone else's
    boto3.client("eks", region_name="us-east-1").create_cluster(
        name="vllm-eks-dev", roleArn="arn:aws:iam::123456789012:role/cluster",
        resourcesVpcConfig={"subnetIds": [], "endpointPublicAccess": False})
    findings = findings_of("dev", stack_config("dev"))
    assert findings["apigateway-account"] == Finding("apigateway-account", "ok", f"CloudWatch role {role}", "this stack's role")
    # A private endpoint on a re-deploy: reachable only from inside the VPC, which the doctor cannot see.
    assert findings["endpoint-access"] == Finding(
        "endpoint-access", "warn", "API endpoint private only (the live cluster)",
        "pulumi up running inside the VPC (or a network joined to it)",
        "run pulumi up from a host in the VPC, or open the public endpoint to your address")


def test_a_read_secret_pending_deletion_is_a_blocker_with_the_restore_command(aws):  # noqa: F811
    """Secrets Manager DeleteSecret with a recovery window sets DeletedDate; RestoreSecret cancels it (Secrets Manager
    API reference)."""
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    secrets.create_secret(Name="hf/token", SecretString="hf_x")
    secrets.delete_secret(SecretId="hf/token", RecoveryWindowInDays=7)
    deleted = secrets.describe_secret(SecretId="hf/token")["DeletedDate"]
    finding = findings_of("dev", stack_config("dev", cluster={"huggingFaceTokenSecretName": "hf/token"}))["secret hf/token"]
    assert finding == Finding("secret hf/token", "blocker", f"pending deletion ({deleted:%Y-%m-%d})", "a live secret",
                              "aws secretsmanager restore-secret --secret-id hf/token --region us-east-1")
    assert isinstance(deleted, datetime.datetime)
