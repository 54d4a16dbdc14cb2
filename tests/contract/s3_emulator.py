"""The weights bucket and the pod's IRSA identity, as the stack renders them, on a moto server bound to 127.0.0.1.

Everything comes from a render snapshot (preflight.render): the Deployment's namespace and service account, that
service account's `eks.amazonaws.com/role-arn`, the role's trust policy and its inline read policy (the RolePolicy
whose `role` input depends on that Role), the bucket's versioning and SSE-KMS settings, and `--model s3://<bucket>/<prefix>`.

What moto 5.2.5 emulates here, and what not (sources: moto/iam/access_control.py, moto/iam/policy_conditions.py,
moto/core/authorization.py, moto_launcher.py):
- emulated: SigV4 signatures and session tokens of the assumed role; an identity policy's Action and Resource
  (`s3:GetObject` on `arn:aws:s3:::<bucket>/<prefix>/*`): a GetObject outside the prefix is AccessDenied (403);
  web-identity sign-in against the role's trust policy (provider, `:sub`, `:aud`; see moto_launcher.py).
- not emulated: `StringLike` conditions (moto evaluates only StringEquals; the read policy's `s3:prefix` condition
  on ListBucket is therefore not enforced), KMS key policies and `kms:Decrypt` through S3 (moto's S3 does not call
  KMS as the caller), bucket policies (moto 5.2.5 does not evaluate resource-based policies), the token's signature.
- not applied: the rendered bucket policy (DenyInsecureTransport) — this endpoint is plain HTTP on loopback, so in AWS
  that policy would refuse every request; the streamer's TLS is not what these tests measure.
Only this module's fixtures talk to moto with the admin user; the vLLM process sees only the web-identity variables.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import vllm_server as vs

MOTO_LAUNCHER = vs.HERE / "moto_launcher.py"
ACCOUNT_ID = "123456789012"  # moto's default account, also the account the preflight mocks render ARNs in
ADMIN_USER = "contract-admin"
# What the EKS pod identity webhook injects into a pod whose service account carries eks.amazonaws.com/role-arn
# (aws/amazon-eks-pod-identity-webhook README: AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE, AWS_STS_REGIONAL_ENDPOINTS;
# the projected token's audience defaults to sts.amazonaws.com).
TOKEN_PATH = "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"
# Test-only streamer settings, never rendered. Path-style addressing for an S3-compatible endpoint (docs.vllm.ai, "Loading
# models with Run:ai Model Streamer"). And the web-identity exchange done by boto3 in Python (runai_model_streamer_s3
# credentials.py: RUNAI_STREAMER_NO_BOTO3_SESSION=0 resolves credentials with boto3 and hands them to the C++ reader):
# the default, the C++ SDK's own provider chain, sends AssumeRoleWithWebIdentity to the regional AWS STS endpoint and
# ignores AWS_ENDPOINT_URL(_STS) (measured with 0.17.1: no STS request reached moto, S3 answered 403), so on loopback
# the exchange must run in Python. Same role, same token, same policy; only the process that asks STS differs.
# And a longer no-progress limit for one GET: moto answers each ranged GET by copying the whole object in Python, one
# request per object at a time (moto/s3/responses.py get_object + _handle_range_header; moto/s3/models.py FakeKey.value
# under the key's lock), so on this shared 2-core machine a queued GET can wait more than the streamer's default 1 s
# for its first byte, and the streamer then drops it ("failure to meet throughput minimum", not retried; the limit is
# RUNAI_STREAMER_S3_REQUEST_TIMEOUT_MS, default 1000, run-ai/runai-model-streamer
# cpp/s3/client_configuration/client_configuration.cc). A loopback emulator's pace, not S3's: see README.md.
STREAMER_TEST_SETTINGS = {"RUNAI_STREAMER_S3_USE_VIRTUAL_ADDRESSING": "0", "RUNAI_STREAMER_NO_BOTO3_SESSION": "0",
                          "RUNAI_STREAMER_S3_REQUEST_TIMEOUT_MS": "30000"}
START_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class RenderedIdentity:
    """One model's weights location and read identity, taken from the snapshot."""

    namespace: str
    service_account: str
    role_arn: str
    trust_policy: str
    read_policy: str
    bucket: str
    prefix: str
    kms_key_arn: str  # the mocks' key ARN, as it appears in the rendered policy
    versioning: str
    bucket_key_enabled: bool
    region: str

    @property
    def role_name(self) -> str:
        return self.role_arn.rsplit("/", 1)[1]

    @property
    def oidc_provider_arn(self) -> str:
        return json.loads(self.trust_policy)["Statement"][0]["Principal"]["Federated"]

    @property
    def issuer(self) -> str:
        return self.oidc_provider_arn.split(":oidc-provider/", 1)[1]


def _by_type(snapshot: dict, type_token: str) -> list[dict]:
    return [r for r in snapshot["resources"] if r["type"] == type_token]


def _one(items: list[dict], what: str) -> dict:
    assert len(items) == 1, f"expected exactly one {what} in the snapshot, found {len(items)}"
    return items[0]


def rendered_identity(snapshot: dict, deployment_name: str) -> RenderedIdentity:
    """Follow the rendered chain Deployment -> ServiceAccount -> role ARN -> Role -> RolePolicy, and the bucket."""
    deployment = _one([r for r in _by_type(snapshot, vs.VLLM_DEPLOYMENT_TYPE)
                       if r["props"]["metadata"]["name"] == deployment_name], f"Deployment {deployment_name}")
    namespace = deployment["props"]["metadata"]["namespace"]
    pod = deployment["props"]["spec"]["template"]["spec"]
    account_name = pod["serviceAccountName"]
    account = _one([r for r in _by_type(snapshot, "kubernetes:core/v1:ServiceAccount")
                    if r["props"]["metadata"]["name"] == account_name and r["props"]["metadata"]["namespace"] == namespace],
                   f"ServiceAccount {namespace}/{account_name}")  # fmt: skip
    role_arn = account["props"]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    role_urns = [u for u in account["propertyDependencies"]["metadata"] if "aws:iam/role:Role" in u]
    role = _one([r for r in _by_type(snapshot, "aws:iam/role:Role") if r["urn"] in role_urns], "role of the service account")
    policy = _one([r for r in _by_type(snapshot, "aws:iam/rolePolicy:RolePolicy")
                   if role["urn"] in r["propertyDependencies"].get("role", [])], f"RolePolicy of {role['name']}")
    vllm = next(c for c in pod["containers"] if c["name"] == vs.VLLM_CONTAINER_NAME)
    location = vs.flag_value(vllm["args"], "--model") or ""
    fetch = next((c for c in pod.get("initContainers", []) if c["name"] == "fetch-weights"), None)
    if location.startswith("s3://"):
        bucket, _, prefix = location.removeprefix("s3://").partition("/")
    else:  # s3-sync: the init container's `aws s3 sync "s3://$WEIGHTS_BUCKET/<prefix>" <dir>`
        assert fetch is not None, f"{deployment_name}: --model {location} but no fetch-weights init container"
        bucket = next(e["value"] for e in fetch["env"] if e["name"] == "WEIGHTS_BUCKET")
        prefix = shlex.split(fetch["command"][2].split("aws s3 sync", 1)[1])[-2].split("$WEIGHTS_BUCKET/", 1)[1]
    encryption = _one(_by_type(snapshot, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"),
                      "bucket encryption")["props"]["rules"][0]  # fmt: skip
    versioning = _one(_by_type(snapshot, "aws:s3/bucketVersioning:BucketVersioning"), "bucket versioning")
    return RenderedIdentity(
        namespace=namespace,
        service_account=account_name,
        role_arn=role_arn,
        trust_policy=role["props"]["assumeRolePolicy"],
        read_policy=policy["props"]["policy"],
        bucket=bucket,
        prefix=prefix.rstrip("/"),
        kms_key_arn=encryption["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"],
        versioning=versioning["props"]["versioningConfiguration"]["status"],
        bucket_key_enabled=bool(encryption.get("bucketKeyEnabled")),
        region=snapshot["region"],
    )


def web_identity_token(identity: RenderedIdentity, namespace: str | None = None, service_account: str | None = None) -> str:
    """A projected service-account token's claims (iss, sub, aud) in JWT form; unsigned (moto checks no signature)."""

    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    claims = {
        "iss": f"https://{identity.issuer}",
        "sub": f"system:serviceaccount:{namespace or identity.namespace}:{service_account or identity.service_account}",
        "aud": ["sts.amazonaws.com"],
        "exp": int(time.time()) + 3600,
    }
    return f"{part({'alg': 'RS256', 'kid': 'contract'})}.{part(claims)}.unsigned"


class MotoServer:
    """moto (S3, STS, IAM, KMS) in its own process group on 127.0.0.1, stopped by PID at teardown."""

    def __init__(self, python: Path, work_dir: Path):
        self.python = python
        self.work_dir = work_dir
        self.port = vs.free_port()
        self.log_file = work_dir / "moto.log"
        self.process: subprocess.Popen | None = None
        self.admin: dict[str, str] | None = None
        self.key_arn = ""

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        with self.log_file.open("w") as handle:
            self.process = subprocess.Popen([str(self.python), str(MOTO_LAUNCHER), "127.0.0.1", str(self.port)],
                                            stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            env=env, cwd=self.work_dir, start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto exited with {self.process.returncode}:\n{self.log_file.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=2):
                    return
            except OSError:
                time.sleep(0.3)
        raise TimeoutError(f"moto did not answer on {self.endpoint} within {START_TIMEOUT_SECONDS}s")

    def stop(self) -> None:
        if self.process is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout=10)
                return
            except subprocess.TimeoutExpired:
                continue

    def enforce_iam(self) -> None:
        """From now on every request is authenticated and authorised (moto's `/moto-api/reset-auth`, count 0)."""
        # A form content type would make moto's Flask app swallow the body.
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset-auth", data=b"0", method="POST",
                                         headers={"Content-Type": "application/octet-stream"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert json.loads(answer.read())["status"] == "ok"

    def client(self, service: str, credentials: dict[str, str] | None = None, region: str = "us-east-1"):
        import boto3

        keys = credentials or self.admin or {"aws_access_key_id": "bootstrap", "aws_secret_access_key": "bootstrap"}
        return boto3.client(service, endpoint_url=self.endpoint, region_name=region, **keys)

    def provision(self, identity: RenderedIdentity) -> str:
        """Bucket, key, OIDC provider, role and its rendered policies, an admin user; returns the emulator's key ARN.

        Runs before enforce_iam (moto's documented bootstrap: the first requests go unauthenticated)."""
        kms, iam, s3 = self.client("kms", region=identity.region), self.client("iam"), self.client("s3", region=identity.region)
        key_arn = kms.create_key(Description="Model weights (S3 SSE-KMS)")["KeyMetadata"]["Arn"]
        iam.create_open_id_connect_provider(Url=f"https://{identity.issuer}", ClientIDList=["sts.amazonaws.com"],
                                            ThumbprintList=["0" * 40])  # fmt: skip
        assert iam.list_open_id_connect_providers()["OpenIDConnectProviderList"][0]["Arn"] == identity.oidc_provider_arn
        role = iam.create_role(RoleName=identity.role_name, AssumeRolePolicyDocument=identity.trust_policy)["Role"]
        assert role["Arn"] == identity.role_arn, (role["Arn"], identity.role_arn)
        self.put_read_policy(identity, key_arn, identity.read_policy)
        s3.create_bucket(Bucket=identity.bucket)
        s3.put_bucket_versioning(Bucket=identity.bucket, VersioningConfiguration={"Status": identity.versioning})
        s3.put_bucket_encryption(Bucket=identity.bucket, ServerSideEncryptionConfiguration={"Rules": [{
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
            "BucketKeyEnabled": identity.bucket_key_enabled}]})  # fmt: skip
        s3.put_public_access_block(Bucket=identity.bucket, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
        iam.create_user(UserName=ADMIN_USER)
        iam.put_user_policy(UserName=ADMIN_USER, PolicyName="admin", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        created = iam.create_access_key(UserName=ADMIN_USER)["AccessKey"]
        self.admin = {"aws_access_key_id": created["AccessKeyId"], "aws_secret_access_key": created["SecretAccessKey"]}
        self.key_arn = key_arn
        return key_arn

    def add_model_role(self, identity: RenderedIdentity) -> None:
        """Another model's rendered read role, as the admin once IAM is enforced: same bucket, key and OIDC provider
        (one stack), its own trust (its service account) and its own prefix."""
        assert self.admin is not None and self.key_arn, "provision() first"
        role = self.client("iam").create_role(RoleName=identity.role_name, AssumeRolePolicyDocument=identity.trust_policy)
        assert role["Role"]["Arn"] == identity.role_arn, (role["Role"]["Arn"], identity.role_arn)
        self.put_read_policy(identity, self.key_arn, identity.read_policy)

    def put_read_policy(self, identity: RenderedIdentity, key_arn: str, document: str) -> None:
        """The role's inline read policy: a rendered document with the mocks' key ARN swapped for the emulator's."""
        assert identity.kms_key_arn in document, "the read policy does not name the bucket's key"
        self.client("iam").put_role_policy(RoleName=identity.role_name, PolicyName="read",
                                           PolicyDocument=document.replace(identity.kms_key_arn, key_arn))

    def upload(self, bucket: str, prefix: str, directory: Path, region: str = "us-east-1") -> int:
        """The checkpoint in `directory` under `prefix/` (not the builder's own description), replacing what was there;
        returns the bytes uploaded."""
        s3 = self.client("s3", region=region)
        existing = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/").get("Contents", [])
        for item in existing:
            s3.delete_object(Bucket=bucket, Key=item["Key"])
        total = 0
        for path in sorted(p for p in directory.iterdir() if p.is_file() and p.name != "tiny-model.json"):
            s3.upload_file(str(path), bucket, f"{prefix}/{path.name}")
            total += path.stat().st_size
        return total

    def pod_environment(self, identity: RenderedIdentity, token_file: Path) -> dict[str, str]:
        """What the pod identity webhook adds, plus the loopback endpoint; never a static key."""
        return {
            "AWS_ROLE_ARN": identity.role_arn,
            "AWS_WEB_IDENTITY_TOKEN_FILE": str(token_file),
            "AWS_STS_REGIONAL_ENDPOINTS": "regional",
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_EC2_METADATA_DISABLED": "true",
            **STREAMER_TEST_SETTINGS,
        }


def scrubbed_environment(base: dict[str, str]) -> dict[str, Any]:
    """This machine's environment without any AWS credential or profile that could stand in for the pod's role."""
    return {k: v for k, v in base.items() if not k.startswith("AWS_")}
