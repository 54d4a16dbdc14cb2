"""What the doctor tests share: a fake-credential moto account, Service Quotas through botocore's Stubber, stack configs.

moto (5.2.5) implements STS, IAM service-linked roles, ACM, EC2 offerings/addresses/VPCs/endpoint services, Secrets
Manager, API Gateway's account and EKS, but not Service Quotas for EC2, VPC or CloudFront (FACTS.md, "Measured on this
machine"). Those answers come from botocore's Stubber with the response shape of the Service Quotas API reference
(GetServiceQuota / GetAWSDefaultServiceQuota: {"Quota": {ServiceCode, QuotaCode, QuotaName, Value, Unit, Adjustable,
GlobalQuota}}; a quota the account never changed answers NoSuchResourceException to GetServiceQuota), which the Stubber
validates against botocore's service model.
"""

from __future__ import annotations

import datetime
import os

import functools

import boto3
import botocore.session
from botocore.stub import Stubber

from vllm_eks.planning.catalog import (
    CLOUDFRONT_RESPONSE_TIMEOUT_QUOTA,
    EC2_ELASTIC_IPS_QUOTA,
    EC2_VCPU_QUOTAS,
    VPCS_PER_REGION_QUOTA,
)
from preflight.render import read_stack_config

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    # boto3 would otherwise end its credential search at the instance-metadata address (not loopback).
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",  # the doctor reads no AMI; loading moto's catalogue only costs time
}
ACCOUNT_ID = "123456789012"  # moto's default account
MOTO_CALLER_ARN = f"arn:aws:iam::{ACCOUNT_ID}:user/moto"  # what moto's STS answers GetCallerIdentity with

# A new account's quota values (AWS defaults): 0 vCPUs for the accelerated families ("new accounts start at 0",
# https://docs.aws.amazon.com/ec2/latest/instancetypes/ec2-instance-quotas.html), 5 Elastic IPs and 5 VPCs per Region
# (https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html), 120 s CloudFront response timeout per
# origin (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html).
NEW_ACCOUNT_QUOTAS: dict[str, float] = {
    **{quota.quota_code: 0.0 for pair in EC2_VCPU_QUOTAS.values() for quota in pair},
    EC2_ELASTIC_IPS_QUOTA.quota_code: 5.0,
    VPCS_PER_REGION_QUOTA.quota_code: 5.0,
    CLOUDFRONT_RESPONSE_TIMEOUT_QUOTA.quota_code: 120.0,
}
_QUOTAS = {quota.quota_code: quota for pair in EC2_VCPU_QUOTAS.values() for quota in pair} | {
    quota.quota_code: quota for quota in (EC2_ELASTIC_IPS_QUOTA, VPCS_PER_REGION_QUOTA, CLOUDFRONT_RESPONSE_TIMEOUT_QUOTA)
}


def _quota_response(code: str, value: float, region: str) -> dict:
    quota = _QUOTAS[code]
    return {
        "Quota": {
            "ServiceCode": quota.service_code,
            "QuotaArn": f"arn:aws:servicequotas:{region}:{ACCOUNT_ID}:{quota.service_code}/{code}",
            "QuotaCode": code,
            "QuotaName": quota.name,
            "Value": value,
            "Unit": "None",
            "Adjustable": True,
            "GlobalQuota": False,
        }
    }


class StubbedQuotas:
    """A Service Quotas client: each call is answered by a fresh client under a Stubber that expects exactly that call.

    `applied` are quotas the account changed; any other code answers NoSuchResourceException and then AWS's default.
    """

    def __init__(self, region: str, applied: dict[str, float], calls: list[str]):
        self._region, self._applied, self.calls = region, applied, calls

    def _stubbed(self, method: str, code: str, response: dict | None, error: str | None = None):
        client = _quotas_client(self._region)
        stubber = Stubber(client)
        params = {"ServiceCode": _QUOTAS[code].service_code, "QuotaCode": code}
        if error:
            stubber.add_client_error(method, service_error_code=error, http_status_code=400, expected_params=params)
        else:
            stubber.add_response(method, response, expected_params=params)
        with stubber:
            return getattr(client, method)(**params)

    def get_service_quota(self, ServiceCode: str, QuotaCode: str) -> dict:  # noqa: N803 - boto3's parameter names
        self.calls.append(f"{self._region}:{QuotaCode}")
        if QuotaCode in self._applied:
            return self._stubbed("get_service_quota", QuotaCode, _quota_response(QuotaCode, self._applied[QuotaCode], self._region))
        return self._stubbed("get_service_quota", QuotaCode, None, "NoSuchResourceException")

    def get_aws_default_service_quota(self, ServiceCode: str, QuotaCode: str) -> dict:  # noqa: N803
        response = _quota_response(QuotaCode, NEW_ACCOUNT_QUOTAS[QuotaCode], self._region)
        return self._stubbed("get_aws_default_service_quota", QuotaCode, response)


@functools.lru_cache(maxsize=1)
def _botocore_session() -> botocore.session.Session:
    # One loader for every test: parsing botocore's service models (EC2's is large) is most of a fresh client's cost.
    return botocore.session.get_session()


@functools.lru_cache(maxsize=None)
def _quotas_client(region: str):
    # Never sends a request: every call runs under a Stubber, which answers before the HTTP layer.
    return boto3.Session(botocore_session=_botocore_session()).client("service-quotas", region_name=region)


class DoctorSession:
    """boto3.Session for the doctor: moto for every API moto implements, StubbedQuotas for Service Quotas."""

    def __init__(self, region: str = "us-east-1", applied_quotas: dict[str, float] | None = None):
        self._session = boto3.Session(region_name=region, botocore_session=_botocore_session())
        self.applied_quotas = dict(applied_quotas or {})
        self.quota_calls: list[str] = []

    def get_credentials(self):
        return self._session.get_credentials()

    def client(self, service: str, region_name: str | None = None):
        if service == "service-quotas":
            return StubbedQuotas(region_name or "us-east-1", self.applied_quotas, self.quota_calls)
        return self._session.client(service, region_name=region_name)  # type: ignore[call-overload]


def stack_config(stack: str, **overrides: dict) -> dict:
    """A shipped stack's `config:` mapping with some sections' keys replaced (`cluster={...}` merges into vllm-eks:cluster)."""
    config = read_stack_config(stack)
    for section, values in overrides.items():
        key = section if ":" in section else f"vllm-eks:{section}"
        config[key] = {**(config.get(key) or {}), **values}
    return config


def self_signed_certificate(domain: str) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) for ACM ImportCertificate; an imported certificate is ISSUED at once."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


def import_certificate(domain: str) -> str:
    certificate, key = self_signed_certificate(domain)
    return boto3.client("acm", region_name="us-east-1").import_certificate(Certificate=certificate, PrivateKey=key)[
        "CertificateArn"
    ]
