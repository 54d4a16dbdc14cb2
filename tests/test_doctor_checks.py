"""Each doctor check against moto (Service Quotas through botocore's Stubber): a passing and a blocking case, the
blocking line naming its fix. Sources of the AWS behaviour relied on are in tests/doctor_support.py and per test."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from preflight.doctor import run_doctor, stack_needs
from tests.doctor_support import FAKE_ENV, MOTO_CALLER_ARN, DoctorSession, import_certificate, stack_config


@pytest.fixture
def aws(monkeypatch):
    for key, value in FAKE_ENV.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield


def findings_of(stack: str, config: dict, session: DoctorSession | None = None, egress: str | None = None) -> dict:
    needs = stack_needs(stack, config)
    session = session or DoctorSession(needs.region)
    return {finding.check: finding for finding in run_doctor(needs, session, lambda: egress)}


def _session_refusing(monkeypatch, service: str, method: str, code: str, operation: str) -> DoctorSession:
    """A moto-backed session whose `service` client answers `method` with the AWS error `code`."""
    from botocore.exceptions import ClientError

    def refuse(*_args, **_kwargs):
        raise ClientError({"Error": {"Code": code, "Message": "no"}}, operation)

    session = DoctorSession()
    real_client = session.client

    def client(name, region_name=None):
        made = real_client(name, region_name)
        if name == service:
            monkeypatch.setattr(made, method, refuse)
        return made

    monkeypatch.setattr(session, "client", client)
    return session


def test_admin_principal_equal_to_the_caller_is_a_blocker(aws):
    """EKS gives the cluster creator an admin access entry (bootstrapClusterCreatorAdminPermissions, default true); an
    AccessEntry for the same principal fails with ResourceInUseException (EKS API reference, CreateAccessEntry)."""
    same = findings_of("prod", stack_config("prod", cluster={"adminPrincipalArn": MOTO_CALLER_ARN}))
    assert same["admin-entry"].status == "blocker"
    assert "remove vllm-eks:cluster.adminPrincipalArn from Pulumi.prod.yaml" in same["admin-entry"].fix
    other = findings_of("prod", stack_config("prod", cluster={"adminPrincipalArn": "arn:aws:iam::123456789012:role/Admin"}))
    assert other["admin-entry"].status == "ok"
    assert "user/moto in account 123456789012" in same["caller"].found


def test_an_instance_type_not_offered_in_the_stack_zones_is_a_blocker(aws):
    """DescribeInstanceTypeOfferings per availability zone (moto ships AWS's offering data: no g6 in us-west-1)."""
    offered = findings_of("dev", stack_config("dev"))
    assert offered["offering g6.2xlarge"].status == "ok"
    missing = findings_of("dev", {**stack_config("dev"), "aws:region": "us-west-1"})
    assert missing["offering g6.2xlarge"].status == "blocker"
    assert "instanceType or aws:region" in missing["offering g6.2xlarge"].fix


def test_vcpu_quotas_are_compared_per_family_and_market(aws):
    """prod: g5.12xlarge (48 vCPU), 2 on-demand + 6 Spot at maxReplicas 8 -> 96 on-demand, 288 Spot G and VT vCPUs."""
    fresh = findings_of("prod", stack_config("prod"))
    on_demand, spot = fresh["vcpu on-demand L-DB2E81BA"], fresh["vcpu spot L-3819A6DF"]
    assert (on_demand.status, spot.status) == ("blocker", "blocker")
    assert on_demand.fix == ("aws service-quotas request-service-quota-increase --service-code ec2 "
                             "--quota-code L-DB2E81BA --desired-value 96 --region us-east-1")
    assert "--quota-code L-3819A6DF --desired-value 288" in spot.fix
    raised = findings_of("prod", stack_config("prod"), DoctorSession(applied_quotas={"L-DB2E81BA": 96, "L-3819A6DF": 288}))
    assert (raised["vcpu on-demand L-DB2E81BA"].status, raised["vcpu spot L-3819A6DF"].status) == ("ok", "ok")


def test_an_on_demand_only_model_needs_no_spot_quota_and_no_spot_role(aws):
    config = stack_config("dev")
    config["vllm-eks:models"] = [{**config["vllm-eks:models"][0], "capacityType": "on-demand"}]
    findings = findings_of("dev", config)
    assert "vcpu on-demand L-DB2E81BA" in findings and "vcpu spot L-3819A6DF" not in findings
    assert "spot-role" not in findings
    assert "--desired-value 16" in findings["vcpu on-demand L-DB2E81BA"].fix  # 2 x g6.2xlarge at 8 vCPU


def test_elastic_ips_in_use_plus_the_nat_gateways_must_fit_the_quota(aws):
    """One Elastic IP per NAT gateway (prod: perAz x 3); AllocateAddress beyond the quota fails (AddressLimitExceeded)."""
    assert findings_of("prod", stack_config("prod"))["elastic-ips"].status == "ok"  # 0 + 3 <= 5
    ec2 = boto3.client("ec2", region_name="us-east-1")
    for _ in range(3):
        ec2.allocate_address(Domain="vpc")
    crowded = findings_of("prod", stack_config("prod"))["elastic-ips"]
    assert crowded.status == "blocker" and "--quota-code L-0263D0A3 --desired-value 6" in crowded.fix
    assert findings_of("dev", stack_config("dev"))["elastic-ips"].status == "ok"  # single NAT: 3 + 1 <= 5


def test_vpcs_per_region(aws):
    assert findings_of("dev", stack_config("dev"))["vpcs"].status == "ok"  # moto's default VPC + 1 <= 5
    ec2 = boto3.client("ec2", region_name="us-east-1")
    for index in range(4):
        ec2.create_vpc(CidrBlock=f"10.{index + 10}.0.0/16")
    full = findings_of("dev", stack_config("dev"))["vpcs"]
    assert full.status == "blocker" and "--service-code vpc --quota-code L-F678F1CE --desired-value 6" in full.fix


def test_interface_endpoint_services_must_exist_in_the_region(aws):
    """DescribeVpcEndpointServices answers InvalidServiceName for a service the Region does not offer (moto likewise)."""
    import dataclasses

    from preflight.doctor_checks import Account, check_interface_endpoints

    needs = stack_needs("prod", stack_config("prod"))
    account = Account(boto3.Session(region_name="us-east-1"), "us-east-1")
    (offered,) = check_interface_endpoints(needs, account)
    assert offered.status == "ok"
    (missing,) = check_interface_endpoints(dataclasses.replace(needs, interface_endpoints=("sts", "no-such-service")), account)
    assert missing.status == "blocker" and missing.fix == "remove no-such-service from vllm-eks:network.interfaceEndpoints"


def test_cloudfront_origin_timeout_against_the_response_timeout_quota(aws):
    """prod renders origin_read_timeout 605 s (maxRequestSeconds 600 + margin); above the quota CreateDistribution
    fails with InvalidOriginReadTimeout. CloudFront quotas are read and requested in us-east-1."""
    session = DoctorSession()
    default = findings_of("prod", stack_config("prod"), session)["cloudfront-origin-timeout"]
    assert default.status == "blocker"
    assert default.fix == ("aws service-quotas request-service-quota-increase --service-code cloudfront "
                           "--quota-code L-AECE9FA7 --desired-value 605 --region us-east-1")
    assert "us-east-1:L-AECE9FA7" in session.quota_calls
    raised = findings_of("prod", stack_config("prod"), DoctorSession(applied_quotas={"L-AECE9FA7": 605}))
    assert raised["cloudfront-origin-timeout"].status == "ok"
    no_cdn = stack_config("prod", edge={"cloudfront": False})
    del no_cdn["vllm-eks:edge"]["certificateArn"], no_cdn["vllm-eks:edge"]["domainName"]
    assert "cloudfront-origin-timeout" not in findings_of("prod", no_cdn)


def test_certificate_must_be_issued_in_us_east_1_and_cover_the_domain(aws):
    """CloudFront reads ACM certificates from us-east-1 only; a requested certificate stays PENDING_VALIDATION until its
    DNS record exists; an imported one is ISSUED (ACM user guide; moto models both)."""
    assert findings_of("prod", stack_config("prod"))["certificate"].status == "blocker"  # the example ARN: not found
    issued = import_certificate("llm.example.com")
    good = findings_of("prod", stack_config("prod", edge={"certificateArn": issued}))["certificate"]
    assert good.status == "ok", good
    wildcard = import_certificate("*.example.com")
    assert findings_of("prod", stack_config("prod", edge={"certificateArn": wildcard}))["certificate"].status == "ok"
    other = import_certificate("other.example.org")
    wrong = findings_of("prod", stack_config("prod", edge={"certificateArn": other}))["certificate"]
    assert wrong.status == "blocker" and "aws acm request-certificate --domain-name llm.example.com" in wrong.fix
    pending = boto3.client("acm", region_name="us-east-1").request_certificate(
        DomainName="llm.example.com", ValidationMethod="DNS")["CertificateArn"]
    waiting = findings_of("prod", stack_config("prod", edge={"certificateArn": pending}))["certificate"]
    assert waiting.status == "blocker" and "DomainValidationOptions" in waiting.fix


@pytest.mark.parametrize("code, status", [
    ("ResourceNotFoundException", "blocker"), ("InvalidArnException", "blocker"), ("ValidationException", "blocker"),
    ("AccessDeniedException", "warn"), ("ThrottlingException", "warn"),
])
def test_acm_errors_on_the_certificate_are_a_blocker_only_when_they_are_about_the_arn(aws, monkeypatch, code, status):
    """ACM API Reference, DescribeCertificate: its "Errors" InvalidArnException and ResourceNotFoundException and the
    common ValidationException say the ARN is wrong (a blocker); AccessDeniedException (the doctor's policy lacks
    acm:DescribeCertificate) and ThrottlingException say nothing about the certificate: "could not check"."""
    session = _session_refusing(monkeypatch, "acm", "describe_certificate", code, "DescribeCertificate")
    config = stack_config("prod")
    finding = findings_of("prod", config, session)["certificate"]
    arn = config["vllm-eks:edge"]["certificateArn"]
    assert (finding.status, finding.found) == (status, {
        "blocker": f"{arn}: {code} in us-east-1 of 123456789012",
        "warn": f"could not check: {code} on DescribeCertificate"}[status])


def test_spot_service_linked_role(aws):
    """EC2 launches Spot instances only once AWSServiceRoleForEC2Spot exists (path /aws-service-role/spot.amazonaws.com/)."""
    missing = findings_of("dev", stack_config("dev"))["spot-role"]
    assert missing.status == "blocker"
    assert missing.fix == "aws iam create-service-linked-role --aws-service-name spot.amazonaws.com"
    boto3.client("iam").create_service_linked_role(AWSServiceName="spot.amazonaws.com")
    assert findings_of("dev", stack_config("dev"))["spot-role"].status == "ok"


def test_a_secret_name_pending_deletion_blocks_the_secret_the_stack_creates(aws):
    """CreateSecret fails while a secret of that name is scheduled for deletion; DescribeSecret shows DeletedDate."""
    name = "vllm-eks-dev/vllm/api-key"
    assert findings_of("dev", stack_config("dev"))[f"secret {name}"].status == "ok"
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    secrets.create_secret(Name=name, SecretString="old")
    leftover = findings_of("dev", stack_config("dev"))[f"secret {name}"]
    assert leftover.status == "blocker" and "ResourceExistsException" in leftover.needed
    secrets.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    pending = findings_of("dev", stack_config("dev"))[f"secret {name}"]
    assert pending.status == "blocker" and "pending deletion" in pending.found
    assert pending.fix == f"aws secretsmanager delete-secret --secret-id {name} --force-delete-without-recovery --region us-east-1"


def test_a_secret_the_stack_reads_must_exist(aws):
    config = stack_config("dev", cluster={"huggingFaceTokenSecretName": "hf/token"})
    missing = findings_of("dev", config)["secret hf/token"]
    assert missing.status == "blocker" and missing.fix.startswith("aws secretsmanager create-secret --name hf/token")
    boto3.client("secretsmanager", region_name="us-east-1").create_secret(Name="hf/token", SecretString="hf_x")
    assert findings_of("dev", config)["secret hf/token"].status == "ok"


def test_api_gateway_account_role_set_by_someone_else_is_a_warning(aws):
    """The CloudWatch role of API Gateway is one setting per account and Region (UpdateAccount); the last writer wins."""
    assert findings_of("dev", stack_config("dev"))["apigateway-account"].status == "ok"
    boto3.client("apigateway", region_name="us-east-1").update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": "arn:aws:iam::123456789012:role/other"}])
    taken = findings_of("dev", stack_config("dev"))["apigateway-account"]
    assert taken.status == "warn" and "role/other" in taken.found


def test_endpoint_access_plan(aws):
    """`pulumi up` installs charts through the EKS API endpoint; a private-only endpoint of a VPC this deploy creates
    is unreachable from the deployer. The egress lookup is a stub here (no test reaches the internet)."""
    private = findings_of("dev", stack_config("dev"))["endpoint-access"]
    assert private.status == "blocker" and "cluster.endpointPublicAccess: true" in private.fix
    # A runner network named for the first deploy (README, First deploy and destroy) gets 443 on the cluster security
    # group: not a blocker, but the doctor cannot tell whether it runs there.
    runner = stack_config("dev", cluster={"deployerCidrs": ["10.99.0.0/24"]})
    via_runner = findings_of("dev", runner)["endpoint-access"]
    assert via_runner.status == "warn" and "10.99.0.0/24" in via_runner.found
    public = stack_config("dev", cluster={"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]})
    assert findings_of("dev", public, egress="203.0.113.7")["endpoint-access"].status == "ok"
    outside = findings_of("dev", public, egress="198.51.100.9")["endpoint-access"]
    assert outside.status == "blocker" and outside.fix == "add 198.51.100.9/32 to vllm-eks:cluster.publicAccessCidrs"
    unknown = findings_of("dev", public, egress=None)["endpoint-access"]
    assert unknown.status == "warn" and "curl -s https://checkip.amazonaws.com" in unknown.fix


def test_a_refused_call_is_a_warning_naming_the_missing_permission(aws, monkeypatch):
    session = _session_refusing(monkeypatch, "apigateway", "get_account", "AccessDeniedException", "GetAccount")
    refused = findings_of("dev", stack_config("dev"), session)["apigateway-account"]
    assert refused.status == "warn" and "AccessDeniedException on GetAccount" in refused.found


def test_a_redeploy_is_judged_against_the_live_cluster_endpoint(aws):
    """On a re-deploy `pulumi up` talks to the existing cluster: its endpoint settings (DescribeCluster
    resourcesVpcConfig) decide reachability, and the stack's own secret and addresses are expected to exist."""
    eks = boto3.client("eks", region_name="us-east-1")
    eks.create_cluster(name="vllm-eks-dev", roleArn="arn:aws:iam::123456789012:role/cluster",
                       resourcesVpcConfig={"subnetIds": [], "endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]})
    boto3.client("secretsmanager", region_name="us-east-1").create_secret(Name="vllm-eks-dev/vllm/api-key", SecretString="k")
    findings = findings_of("dev", stack_config("dev"), egress="203.0.113.7")
    assert "deployed (a re-deploy)" in findings["stack-state"].found
    # The live cluster is open to the deployer, but the config makes it private: later runs must come from the VPC.
    assert findings["endpoint-access"].status == "warn" and "makes the endpoint private" in findings["endpoint-access"].fix
    public = stack_config("dev", cluster={"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]})
    assert findings_of("dev", public, egress="203.0.113.7")["endpoint-access"].status == "ok"
    assert findings["secret vllm-eks-dev/vllm/api-key"].status == "ok"
    assert findings_of("dev", stack_config("dev"), egress="198.51.100.9")["endpoint-access"].status == "blocker"


@pytest.mark.parametrize("arn, principal", [
    # IAM User Guide, "IAM identifiers" (STS ARNs): an assumed-role session is
    # arn:aws:sts::<account>:assumed-role/<role name>/<session name>; its principal is the role.
    ("arn:aws:sts::123456789012:assumed-role/Admin/alice@example.com", ("role", "Admin")),
    ("arn:aws:iam::123456789012:user/ops/alice", ("user", "alice")),  # a path before the name
    ("arn:aws:iam::123456789012:role/deploy", ("role", "deploy")),
])
def test_the_caller_is_named_by_its_principal(arn, principal):
    from preflight.doctor_checks import principal_of

    assert principal_of(arn) == principal
