"""The doctor's side branches against moto, each stated whole: an admin of another account, fewer zones than the
stack asks for, a GPU type missing from some of the stack's zones, a re-deployed stack's own API Gateway role, a read
secret pending deletion, a private endpoint of a deployed cluster. moto ships AWS's zone and offering data
(moto/ec2/resources/instance_type_offerings); the other AWS behaviour is named per test."""

from __future__ import annotations

import datetime

import pytest

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


def test_a_fresh_account_report_for_dev_stated_whole(aws):  # noqa: F811
    """moto with nothing created and Service Quotas at a new account's defaults (tests/doctor_support.py: 0 vCPUs for
    G and VT on-demand and Spot, 5 Elastic IPs, 5 VPCs, CloudFront's 120 s response timeout); moto's default VPC
    exists. dev: one g6.2xlarge (8 vCPU) on-demand plus one Spot at maxReplicas, 2 zones, one NAT gateway, CloudFront
    with the example certificate, a private endpoint. Every line names what it found, what dev needs and the fix."""
    from preflight.doctor import run_doctor, stack_needs
    from tests.doctor_support import DoctorSession

    findings = run_doctor(stack_needs("dev", stack_config("dev")), DoctorSession(), lambda: None)
    assert findings == [
        Finding(check='caller', status='ok', found='arn:aws:sts::123456789012:user/moto in account 123456789012', needed='any principal that can deploy', fix=''),
        Finding(check='stack-state', status='ok', found='EKS cluster vllm-eks-dev not deployed (a first deploy)', needed='nothing (it decides what the other checks expect to exist already)', fix=''),
        Finding(check='offering g6.2xlarge', status='ok', found='offered in us-east-1a, us-east-1b of us-east-1a, us-east-1b', needed='every zone of the stack', fix=''),
        Finding(check='vcpu on-demand L-DB2E81BA', status='blocker', found='0 vCPU (Running On-Demand G and VT instances, L-DB2E81BA)', needed='8 vCPU (1x g6.2xlarge at 8 vCPU)', fix='aws service-quotas request-service-quota-increase --service-code ec2 --quota-code L-DB2E81BA --desired-value 8 --region us-east-1'),
        Finding(check='vcpu spot L-3819A6DF', status='blocker', found='0 vCPU (All G and VT Spot Instance Requests, L-3819A6DF)', needed='8 vCPU (1x g6.2xlarge at 8 vCPU)', fix='aws service-quotas request-service-quota-increase --service-code ec2 --quota-code L-3819A6DF --desired-value 8 --region us-east-1'),
        Finding(check='elastic-ips', status='ok', found='5 addresses (EC2-VPC Elastic IPs, L-0263D0A3)', needed='1 addresses (0 allocated + 1 NAT gateways)', fix=''),
        Finding(check='vpcs', status='ok', found='5 VPCs (VPCs per Region, L-F678F1CE)', needed='2 VPCs (1 existing + 1 for this stack)', fix=''),
        Finding(check='interface-endpoints', status='ok', found='all offered in us-east-1', needed='ecr.api, ecr.dkr, sts', fix=''),
        Finding(check='cloudfront-origin-timeout', status='blocker', found='120 s (Response timeout per origin, L-AECE9FA7)', needed='180 s (origin read timeout = edge.maxRequestSeconds + margin; or lower vllm-eks:edge.maxRequestSeconds by 60 s)', fix='aws service-quotas request-service-quota-increase --service-code cloudfront --quota-code L-AECE9FA7 --desired-value 180 --region us-east-1'),
        Finding(check='certificate', status='blocker', found='arn:aws:acm:us-east-1:123456789012:certificate/1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e: ResourceNotFoundException in us-east-1 of 123456789012', needed='an ISSUED certificate for dev.llm.example.com in us-east-1', fix='aws acm request-certificate --domain-name dev.llm.example.com --validation-method DNS --region us-east-1, then set vllm-eks:edge.certificateArn'),
        Finding(check='spot-role', status='blocker', found='no role under /aws-service-role/spot.amazonaws.com/', needed='the Spot service-linked role (a pool uses Spot)', fix='aws iam create-service-linked-role --aws-service-name spot.amazonaws.com'),
        Finding(check='secret ecr-pullthroughcache/docker-hub', status='blocker', found='does not exist', needed='an existing secret the stack reads', fix='aws secretsmanager create-secret --name ecr-pullthroughcache/docker-hub --secret-string file://token.txt --region us-east-1'),
        Finding(check='secret ecr-pullthroughcache/github', status='blocker', found='does not exist', needed='an existing secret the stack reads', fix='aws secretsmanager create-secret --name ecr-pullthroughcache/github --secret-string file://token.txt --region us-east-1'),
        Finding(check='secret vllm-eks-dev/vllm/api-key', status='ok', found='name free', needed='a name the stack can create', fix=''),
        Finding(check='apigateway-account', status='ok', found='no CloudWatch role set', needed="none or this stack's (the stack sets it)", fix=''),
        Finding(check='endpoint-access', status='blocker', found='API endpoint private only (cluster.endpointPublicAccess false); the VPC is created by this deploy, so nothing can reach it', needed='an endpoint the deployer reaches during the first deploy', fix='set cluster.endpointPublicAccess: true and cluster.publicAccessCidrs: [<your egress IP>/32] (curl -s https://checkip.amazonaws.com) for the first deploy'),
    ]


def test_acm_name_matching_and_the_quota_of_each_gpu_family():
    """ACM User Guide, "Wildcard names": *.example.com covers one leftmost label (a.example.com), not example.com nor
    a.b.example.com; names compare case-insensitively (DNS). EC2 vCPU quotas per family (catalog EC2_VCPU_QUOTAS): the
    longest prefix wins, so p5 has its own Spot quota."""
    from preflight.doctor_checks import covers, family_quotas
    from vllm_eks.planning.catalog import EC2_VCPU_QUOTAS

    assert covers(["*.example.com"], "LLM.Example.com") and covers(["llm.example.com"], "llm.example.com")
    assert not covers(["*.example.com"], "example.com") and not covers(["*.example.com"], "a.b.example.com")
    assert not covers(["*.example.com"], "aexample.com") and not covers([], "llm.example.com")
    assert not covers(["*example.com"], "a.example.com")
    assert family_quotas("p5.48xlarge") == EC2_VCPU_QUOTAS["p5"] and family_quotas("p4d.24xlarge") == EC2_VCPU_QUOTAS["p"]
    assert family_quotas("g6e.xlarge") == EC2_VCPU_QUOTAS["g"] and family_quotas("trn1.2xlarge") == EC2_VCPU_QUOTAS["trn"]
    with pytest.raises(KeyError, match="no vCPU quota known for x9.large: add its family to EC2_VCPU_QUOTAS in "
                                       "vllm_eks/planning/catalog.py"):
        family_quotas("x9.large")


def test_a_redeployed_stack_counts_only_the_allocated_elastic_ips(aws):  # noqa: F811
    """A deployed stack's NAT gateways already hold their Elastic IPs (Amazon VPC User Guide, "NAT gateways": a public
    NAT gateway is created with an Elastic IP), so a re-deploy (the cluster exists: EKS DescribeCluster) adds no
    address and no VPC. Five allocated addresses fill the new account's quota of 5 exactly ("Amazon VPC quotas" /
    "Elastic IP addresses": EC2-VPC Elastic IPs, L-0263D0A3, default 5 per Region) and still fit it."""
    ec2 = boto3.client("ec2", region_name="us-east-1")
    for _ in range(5):
        ec2.allocate_address(Domain="vpc")
    boto3.client("eks", region_name="us-east-1").create_cluster(
        name="vllm-eks-dev", roleArn="arn:aws:iam::123456789012:role/cluster",
        resourcesVpcConfig={"subnetIds": [], "endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]})
    findings = findings_of("dev", stack_config("dev"), egress="203.0.113.7")
    assert findings["elastic-ips"] == Finding(
        "elastic-ips", "ok", "5 addresses (EC2-VPC Elastic IPs, L-0263D0A3)", "5 addresses (5 allocated + 0 NAT gateways)")
    assert findings["vpcs"] == Finding("vpcs", "ok", "5 VPCs (VPCs per Region, L-F678F1CE)",
                                       "1 VPCs (1 existing + 0 for this stack)")
