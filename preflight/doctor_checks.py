"""The doctor's read-only checks: each takes what the stack needs and the account's clients, and returns findings.

Every call here is a Describe/Get/List call named in `DOCTOR_POLICY` (preflight/doctor.py); nothing is created.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError

from vllm_eks.planning.catalog import (
    CLOUDFRONT_QUOTA_REGION,
    CLOUDFRONT_RESPONSE_TIMEOUT_QUOTA,
    EC2_ELASTIC_IPS_QUOTA,
    EC2_VCPU_QUOTAS,
    EGRESS_IP_URL,
    SPOT_SERVICE_PRINCIPAL,
    VPCS_PER_REGION_QUOTA,
    ServiceQuota,
)

if TYPE_CHECKING:
    import boto3

    from preflight.doctor import StackNeeds

Status = Literal["ok", "warn", "blocker"]


@dataclass(frozen=True)
class Finding:
    """One line of the doctor's report: what was found against what the stack needs, and the fix."""

    check: str
    status: Status
    found: str
    needed: str
    fix: str = ""


@dataclass
class Account:
    """The deployer's view of the account: clients per (service, region) and what every check shares."""

    session: boto3.Session
    region: str
    account_id: str = ""
    caller_arn: str = ""
    deployed: bool = False  # the stack's EKS cluster exists already (a re-deploy, not a first deploy)
    live_endpoint: tuple[bool, tuple[str, ...]] | None = None  # the deployed cluster's public access and CIDRs

    def __post_init__(self) -> None:
        # boto3 clients are generated at run time; without boto3-stubs their type is Any.
        self._clients: dict[tuple[str, str], Any] = {}

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.region)
        if key not in self._clients:
            self._clients[key] = self.session.client(service, region_name=key[1])  # type: ignore[call-overload]
        return self._clients[key]


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def quota_value(account: Account, quota: ServiceQuota, region: str | None = None) -> float:
    """The quota applied to this account; AWS's default when the account never changed it (GetServiceQuota then fails)."""
    quotas = account.client("service-quotas", region)
    try:
        return float(quotas.get_service_quota(ServiceCode=quota.service_code, QuotaCode=quota.quota_code)["Quota"]["Value"])
    except ClientError as error:
        if error_code(error) != "NoSuchResourceException":
            raise
    return float(
        quotas.get_aws_default_service_quota(ServiceCode=quota.service_code, QuotaCode=quota.quota_code)["Quota"]["Value"]
    )


def quota_increase(quota: ServiceQuota, value: float, region: str) -> str:
    return (
        f"aws service-quotas request-service-quota-increase --service-code {quota.service_code} "
        f"--quota-code {quota.quota_code} --desired-value {value:g} --region {region}"
    )


def _quota_finding(check: str, quota: ServiceQuota, found: float, needed: float, unit: str, why: str, region: str) -> Finding:
    found_text = f"{found:g} {unit} ({quota.name}, {quota.quota_code})"
    if needed <= found:
        return Finding(check, "ok", found_text, f"{needed:g} {unit} ({why})")
    return Finding(check, "blocker", found_text, f"{needed:g} {unit} ({why})", quota_increase(quota, needed, region))


# --- identity -----------------------------------------------------------------------------------------------------


def principal_of(caller_arn: str) -> tuple[str, str]:
    """('role'|'user'|..., name) of an STS caller ARN; an assumed-role session is its role."""
    resource = caller_arn.split(":", 5)[-1]
    kind, _, rest = resource.partition("/")
    if kind == "assumed-role":
        return "role", rest.split("/")[0]
    return kind, rest.rsplit("/", 1)[-1]


def check_identity(needs: StackNeeds, account: Account) -> list[Finding]:
    findings = [Finding("caller", "ok", f"{account.caller_arn} in account {account.account_id}", "any principal that can deploy")]
    admin = needs.admin_principal_arn
    if admin is None:
        return findings
    admin_account, admin_resource = admin.split(":")[4], admin.split(":", 5)[-1]
    admin_kind, admin_name = admin_resource.split("/")[0], admin_resource.rsplit("/", 1)[-1]
    if admin_account == account.account_id and (admin_kind, admin_name) == principal_of(account.caller_arn):
        findings.append(
            Finding(
                "admin-entry",
                "blocker",
                f"cluster.adminPrincipalArn {admin} is the deploying principal",
                "a principal other than the cluster creator (EKS already gives the creator an admin access entry; "
                "a second entry for it fails with ResourceInUseException)",
                f"remove vllm-eks:cluster.adminPrincipalArn from Pulumi.{needs.stack}.yaml, or set it to another principal",
            )
        )
    elif admin_account != account.account_id:
        findings.append(
            Finding("admin-entry", "warn", f"{admin} is in account {admin_account}", f"a principal of {account.account_id}",
                    f"set vllm-eks:cluster.adminPrincipalArn to a role of account {account.account_id}")
        )
    else:
        findings.append(Finding("admin-entry", "ok", admin, "a principal other than the deployer"))
    return findings


def check_stack_state(needs: StackNeeds, account: Account) -> list[Finding]:
    try:
        vpc_config = account.client("eks").describe_cluster(name=needs.cluster_name)["cluster"]["resourcesVpcConfig"]
        account.deployed = True
        account.live_endpoint = (bool(vpc_config.get("endpointPublicAccess")), tuple(vpc_config.get("publicAccessCidrs", ())))
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
    state = "deployed (a re-deploy)" if account.deployed else "not deployed (a first deploy)"
    return [Finding("stack-state", "ok", f"EKS cluster {needs.cluster_name} {state}",
                    "nothing (it decides what the other checks expect to exist already)")]


# --- GPU capacity -------------------------------------------------------------------------------------------------


def family_quotas(instance_type: str) -> tuple[ServiceQuota, ServiceQuota]:
    family = instance_type.split(".")[0]
    prefix = max((p for p in EC2_VCPU_QUOTAS if family.startswith(p)), key=len, default=None)
    if prefix is None:
        raise KeyError(f"no vCPU quota known for {instance_type}: add its family to EC2_VCPU_QUOTAS in vllm_eks/planning/catalog.py")
    return EC2_VCPU_QUOTAS[prefix]


def check_gpu_offerings(needs: StackNeeds, account: Account) -> list[Finding]:
    """Each GPU type must be offered in the zones the network picks (the first N available zones by name)."""
    from vllm_eks.network.network import _first_zones

    ec2 = account.client("ec2")
    available = [zone["ZoneName"] for zone in ec2.describe_availability_zones(
        Filters=[{"Name": "state", "Values": ["available"]}])["AvailabilityZones"]]
    try:
        zones = _first_zones(available, needs.availability_zones, needs.region)
    except ValueError as error:
        return [Finding("availability-zones", "blocker", f"{len(available)} zones available in {needs.region}",
                        f"{needs.availability_zones} zones", f"{error}: lower it or pick another aws:region")]
    types = sorted({gpu.instance_type for gpu in needs.gpu})
    offered: dict[str, set[str]] = {instance_type: set() for instance_type in types}
    paginator = ec2.get_paginator("describe_instance_type_offerings")
    filters = [{"Name": "instance-type", "Values": types}, {"Name": "location", "Values": zones}]
    for page in paginator.paginate(LocationType="availability-zone", Filters=filters):
        for offering in page["InstanceTypeOfferings"]:
            offered[offering["InstanceType"]].add(offering["Location"])
    findings = []
    for instance_type in types:
        missing = [zone for zone in zones if zone not in offered[instance_type]]
        found = f"offered in {', '.join(sorted(offered[instance_type])) or 'none'} of {', '.join(zones)}"
        lookup = (f"aws ec2 describe-instance-type-offerings --location-type availability-zone "
                  f"--filters Name=instance-type,Values={instance_type} --region {needs.region}")
        if not offered[instance_type]:
            findings.append(Finding(f"offering {instance_type}", "blocker", found, "at least one of the stack's zones",
                                    f"pick another models[].instanceType or aws:region; where it is offered: {lookup}"))
        elif missing:
            findings.append(Finding(f"offering {instance_type}", "warn", found, "every zone of the stack (GPU nodes "
                                    f"cannot start in {', '.join(missing)})", lookup))
        else:
            findings.append(Finding(f"offering {instance_type}", "ok", found, "every zone of the stack"))
    return findings


def check_vcpu_quotas(needs: StackNeeds, account: Account) -> list[Finding]:
    """vCPUs at maxReplicas per family quota: the on-demand share against on-demand, the Spot share against Spot."""
    demand: dict[tuple[str, ServiceQuota], list[tuple[str, int, int]]] = {}
    for gpu in needs.gpu:
        on_demand, spot = family_quotas(gpu.instance_type)
        for market, quota, count in (("on-demand", on_demand, gpu.on_demand_instances), ("spot", spot, gpu.spot_instances)):
            if count:
                demand.setdefault((market, quota), []).append((gpu.instance_type, count, gpu.vcpu_per_instance))
    findings = []
    for (market, quota), parts in demand.items():
        needed = sum(count * vcpu for _, count, vcpu in parts)
        why = " + ".join(f"{count}x {instance_type} at {vcpu} vCPU" for instance_type, count, vcpu in parts)
        found = quota_value(account, quota)
        findings.append(_quota_finding(f"vcpu {market} {quota.quota_code}", quota, found, needed, "vCPU", why, needs.region))
    return findings


# --- network ------------------------------------------------------------------------------------------------------


def check_network_quotas(needs: StackNeeds, account: Account) -> list[Finding]:
    """Elastic IPs (one per NAT gateway) and VPCs: what exists plus what a first deploy adds, against the quotas."""
    ec2 = account.client("ec2")
    addresses = len(ec2.describe_addresses(Filters=[{"Name": "domain", "Values": ["vpc"]}])["Addresses"])
    vpcs = sum(len(page["Vpcs"]) for page in ec2.get_paginator("describe_vpcs").paginate())
    new_addresses, new_vpcs = (0, 0) if account.deployed else (needs.nat_gateways, 1)
    return [
        _quota_finding("elastic-ips", EC2_ELASTIC_IPS_QUOTA, quota_value(account, EC2_ELASTIC_IPS_QUOTA),
                       addresses + new_addresses, "addresses", f"{addresses} allocated + {new_addresses} NAT gateways",
                       needs.region),
        _quota_finding("vpcs", VPCS_PER_REGION_QUOTA, quota_value(account, VPCS_PER_REGION_QUOTA), vpcs + new_vpcs,
                       "VPCs", f"{vpcs} existing + {new_vpcs} for this stack", needs.region),
    ]


def check_interface_endpoints(needs: StackNeeds, account: Account) -> list[Finding]:
    ec2 = account.client("ec2")
    missing = []
    for service in needs.interface_endpoints:
        try:
            ec2.describe_vpc_endpoint_services(ServiceNames=[f"com.amazonaws.{needs.region}.{service}"])
        except ClientError as error:
            if error_code(error) != "InvalidServiceName":
                raise
            missing.append(service)
    wanted = ", ".join(needs.interface_endpoints)
    if missing:
        return [Finding("interface-endpoints", "blocker", f"not offered in {needs.region}: {', '.join(missing)}",
                        wanted, f"remove {', '.join(missing)} from vllm-eks:network.interfaceEndpoints")]
    return [Finding("interface-endpoints", "ok", f"all offered in {needs.region}", wanted)]


# --- edge ---------------------------------------------------------------------------------------------------------


def check_cloudfront_origin_timeout(needs: StackNeeds, account: Account) -> list[Finding]:
    if needs.cloudfront_origin_timeout_seconds is None:
        return []
    quota = CLOUDFRONT_RESPONSE_TIMEOUT_QUOTA
    found = quota_value(account, quota, CLOUDFRONT_QUOTA_REGION)
    needed = needs.cloudfront_origin_timeout_seconds
    why = (f"origin read timeout = edge.maxRequestSeconds + margin; or lower vllm-eks:edge.maxRequestSeconds by "
           f"{needed - found:g} s")
    return [_quota_finding("cloudfront-origin-timeout", quota, found, needed, "s", why, CLOUDFRONT_QUOTA_REGION)]


def covers(names: list[str], domain: str) -> bool:
    """ACM name matching: exact, or a wildcard standing for exactly one leftmost label."""
    domain = domain.lower()
    for name in (n.lower() for n in names):
        if name == domain or (name.startswith("*.") and domain.partition(".")[2] == name[2:] and "." in domain):
            return True
    return False


def check_certificate(needs: StackNeeds, account: Account) -> list[Finding]:
    if needs.certificate_arn is None:
        return []
    arn, domain = needs.certificate_arn, needs.domain_name or ""
    acm = account.client("acm", "us-east-1")
    request = (f"aws acm request-certificate --domain-name {domain} --validation-method DNS --region us-east-1, "
               f"then set vllm-eks:edge.certificateArn")
    try:
        certificate = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    except ClientError as error:
        # The ARN is wrong: DescribeCertificate's own errors and a malformed input (ACM API Reference). A refusal
        # (AccessDeniedException) or a throttle is the doctor's problem, reported as "could not check".
        if error_code(error) not in ("ResourceNotFoundException", "InvalidArnException", "ValidationException"):
            raise
        return [Finding("certificate", "blocker", f"{arn}: {error_code(error)} in us-east-1 of {account.account_id}",
                        f"an ISSUED certificate for {domain} in us-east-1", request)]
    names = [certificate.get("DomainName", "")] + certificate.get("SubjectAlternativeNames", [])
    status = certificate.get("Status", "")
    found = f"{status}, covers {', '.join(sorted(set(names)))}"
    if status != "ISSUED":
        return [Finding("certificate", "blocker", found, f"ISSUED for {domain}",
                        f"finish DNS validation: aws acm describe-certificate --certificate-arn {arn} --region us-east-1 "
                        f"--query Certificate.DomainValidationOptions (or {request})")]
    if not covers(names, domain):
        return [Finding("certificate", "blocker", found, f"a name covering {domain}", request)]
    return [Finding("certificate", "ok", found, f"ISSUED for {domain} in us-east-1")]


def check_apigateway_account(needs: StackNeeds, account: Account) -> list[Finding]:
    """API Gateway's CloudWatch role is one setting per account and Region; the stack's `aws.apigateway.Account` sets it."""
    role = account.client("apigateway").get_account().get("cloudwatchRoleArn")
    if not role:
        return [Finding("apigateway-account", "ok", "no CloudWatch role set", "none or this stack's (the stack sets it)")]
    if account.deployed and role.rsplit("/", 1)[-1].startswith("edge-api-logs"):
        return [Finding("apigateway-account", "ok", f"CloudWatch role {role}", "this stack's role")]
    return [Finding("apigateway-account", "warn", f"CloudWatch role {role} (set by another stack or tool)",
                    "one owner: this stack replaces it, the last deploy wins, and destroying the owner leaves the "
                    "others' access logs without a role",
                    "keep one stack per account and Region as owner of the API Gateway account setting")]


# --- Spot, secrets --------------------------------------------------------------------------------------------------


def check_spot_role(needs: StackNeeds, account: Account) -> list[Finding]:
    if not needs.uses_spot:
        return []
    prefix = f"/aws-service-role/{SPOT_SERVICE_PRINCIPAL}/"
    roles = account.client("iam").list_roles(PathPrefix=prefix)["Roles"]
    if roles:
        return [Finding("spot-role", "ok", roles[0]["Arn"], "the Spot service-linked role (a pool uses Spot)")]
    return [Finding("spot-role", "blocker", f"no role under {prefix}", "the Spot service-linked role (a pool uses Spot)",
                    f"aws iam create-service-linked-role --aws-service-name {SPOT_SERVICE_PRINCIPAL}")]


def _describe_secret(account: Account, name: str) -> dict | None:
    try:
        return account.client("secretsmanager").describe_secret(SecretId=name)
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
        return None


def check_secrets(needs: StackNeeds, account: Account) -> list[Finding]:
    findings, region = [], needs.region
    for name in needs.read_secrets:
        secret = _describe_secret(account, name)
        if secret is None:
            findings.append(Finding(f"secret {name}", "blocker", "does not exist", "an existing secret the stack reads",
                                    f"aws secretsmanager create-secret --name {name} --secret-string file://token.txt --region {region}"))
        elif secret.get("DeletedDate"):
            findings.append(Finding(f"secret {name}", "blocker", f"pending deletion ({secret['DeletedDate']:%Y-%m-%d})",
                                    "a live secret", f"aws secretsmanager restore-secret --secret-id {name} --region {region}"))
        else:
            findings.append(Finding(f"secret {name}", "ok", "exists", "an existing secret the stack reads"))
    for name in needs.created_secrets:
        secret = _describe_secret(account, name)
        force_delete = f"aws secretsmanager delete-secret --secret-id {name} --force-delete-without-recovery --region {region}"
        if secret is None:
            findings.append(Finding(f"secret {name}", "ok", "name free", "a name the stack can create"))
        elif secret.get("DeletedDate"):
            findings.append(Finding(f"secret {name}", "blocker",
                                    f"pending deletion until {secret['DeletedDate']:%Y-%m-%d} (a destroyed stack's)",
                                    "a name the stack can create (CreateSecret fails while it is pending deletion)",
                                    force_delete))
        elif account.deployed:
            findings.append(Finding(f"secret {name}", "ok", "exists (this deployed stack's)", "the stack's own secret"))
        else:
            findings.append(Finding(f"secret {name}", "blocker", "exists, but the stack is not deployed",
                                    "a name the stack can create (CreateSecret fails with ResourceExistsException)",
                                    f"import it (pulumi import) or delete it: {force_delete}"))
    return findings


# --- where the deployer runs ----------------------------------------------------------------------------------------


def check_endpoint_access(needs: StackNeeds, account: Account, egress_ip: Callable[[], str | None]) -> list[Finding]:
    """`pulumi up` installs charts through the cluster's API endpoint, so the deployer must reach it: the live
    cluster's endpoint on a re-deploy, the configured one on a first deploy."""
    public, cidrs = account.live_endpoint or (needs.endpoint_public_access, needs.public_access_cidrs)
    if not public:
        found = f"API endpoint private only ({'the live cluster' if account.live_endpoint else 'cluster.endpointPublicAccess false'})"
        if needs.deployer_networks:
            # Private addresses or security groups: nothing the doctor can compare its caller with.
            return [Finding("endpoint-access", "warn", f"{found}; 443 open to {', '.join(needs.deployer_networks)}",
                            "pulumi up running from one of those networks",
                            "run pulumi up from a host in cluster.deployerCidrs or with a deployerSecurityGroupIds group")]
        if account.deployed:
            return [Finding("endpoint-access", "warn", found, "pulumi up running inside the VPC (or a network joined to it)",
                            "run pulumi up from a host in the VPC, or open the public endpoint to your address")]
        return [Finding("endpoint-access", "blocker", f"{found}; the VPC is created by this deploy, so nothing can reach it",
                        "an endpoint the deployer reaches during the first deploy",
                        "set cluster.endpointPublicAccess: true and cluster.publicAccessCidrs: [<your egress IP>/32] "
                        f"(curl -s {EGRESS_IP_URL}) for the first deploy")]
    listed = ", ".join(cidrs)
    address = egress_ip()
    if address is None:
        return [Finding("endpoint-access", "warn", "egress address unknown", f"your egress address within {listed}",
                        f"compare `curl -s {EGRESS_IP_URL}` with {listed}")]
    if any(ipaddress.ip_address(address) in ipaddress.ip_network(cidr, strict=False) for cidr in cidrs):
        if account.live_endpoint and not needs.endpoint_public_access:
            return [Finding("endpoint-access", "warn", f"egress {address} within the live endpoint's {listed}",
                            "an endpoint that stays reachable for the whole run",
                            "this deploy makes the endpoint private (cluster.endpointPublicAccess false): later "
                            "Kubernetes changes must run from inside the VPC")]
        return [Finding("endpoint-access", "ok", f"egress {address}", f"within {listed}")]
    return [Finding("endpoint-access", "blocker", f"egress {address}", f"within {listed}",
                    f"add {address}/32 to vllm-eks:cluster.publicAccessCidrs")]
