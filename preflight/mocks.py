"""Pulumi mocks that answer like AWS would, and a monitor that records every registration as the engine sees it."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc

ACCOUNT_ID = "123456789012"
# The entries of S3's managed prefix list com.amazonaws.us-east-1.s3 (AWS ip-ranges.json, service S3, us-east-1).
S3_PREFIX_LIST_CIDRS = ["3.5.0.0/19", "16.182.0.0/16", "18.34.0.0/19", "18.34.232.0/21", "52.216.0.0/15", "54.231.0.0/16"]
AVAILABILITY_ZONES = {
    "us-east-1": ["use1-az1", "use1-az2", "use1-az4", "use1-az6", "use1-az3", "use1-az5"],
    "us-west-2": ["usw2-az1", "usw2-az2", "usw2-az3", "usw2-az4"],
    "eu-west-1": ["euw1-az1", "euw1-az2", "euw1-az3"],
    "eu-central-1": ["euc1-az1", "euc1-az2", "euc1-az3"],
}
_ZONE_LETTERS = "abcdef"


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


class UnansweredInvoke(LookupError):
    """The program called a data source the offline mocks have no realistic answer for."""


class AwsLikeMocks(pulumi.runtime.Mocks):
    """Invokes answered with realistic values; resources echo their inputs plus the outputs AWS would compute.

    With `preview=True` they answer as a first `pulumi preview` of a new stack does: nothing exists yet, so the
    provider's Create preview returns the inputs and leaves every computed output (ids, ARNs, generated names,
    endpoints) unknown; the SDK then hands the program unknowns for them (pulumi/pulumi
    pkg/resource/deploy/step_generator.go, "We only allow unknown property values ... if we are performing an
    update preview"; sdk/go/common/resource/plugin/provider_plugin.go Create with preview).
    """

    def __init__(self, region: str, *, preview: bool = False):
        self.region = region
        self.preview = preview

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        # An empty failure list: pulumi's MockMonitor iterates it (None, though the annotation allows it, would fail).
        return self._answer(args), []

    def _answer(self, args: pulumi.runtime.MockCallArgs) -> dict:
        token = args.token
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            zone_ids = AVAILABILITY_ZONES.get(self.region, [f"{self.region}-az{i}" for i in range(1, 4)])
            names = [f"{self.region}{letter}" for letter in _ZONE_LETTERS[: len(zone_ids)]]
            return {"names": names, "zoneIds": zone_ids, "state": "available", "id": self.region}
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            # A deployer role's session, as STS GetCallerIdentity answers it (STS API Reference, example
            # "assumed-role"): the session ARN, and the role's unique id (AROA...) joined to the session name.
            return {
                "accountId": ACCOUNT_ID,
                "arn": f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/deployer/pulumi-up",
                "userId": "AROAEXAMPLEDEPLOYER:pulumi-up",
                "id": ACCOUNT_ID,
            }
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
        if token == "aws:ec2/getManagedPrefixList:getManagedPrefixList":
            # S3's prefix list in us-east-1 (pl-63a5400a) as `aws ec2 get-managed-prefix-list-entries` lists it.
            name = args.args["name"]
            cidrs = S3_PREFIX_LIST_CIDRS if name == f"com.amazonaws.{self.region}.s3" else []
            return {"id": "pl-63a5400a", "name": name, "entries": [{"cidr": cidr, "description": ""} for cidr in cidrs],
                    "addressFamily": "IPv4", "maxEntries": len(cidrs), "ownerId": "AWS", "version": 1, "tags": {}}
        if token == "aws:secretsmanager/getSecret:getSecret":
            # An existing secret looked up by name: Secrets Manager appends six random characters to its ARN.
            name = args.args["name"]
            arn = f"arn:aws:secretsmanager:{self.region}:{ACCOUNT_ID}:secret:{name}-{_short_hash(name)[:6]}"
            return {"arn": arn, "name": name, "id": arn}
        raise UnansweredInvoke(f"the offline mocks do not answer the invoke {token}; add its answer to preflight/mocks.py")

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        physical = f"{args.name}-{_short_hash(args.typ + args.name)}"
        state = dict(args.inputs)
        computed = {"arn": self._arn(args.typ, physical), **_computed_outputs(args.typ, physical, args.inputs, self.region)}
        if self.preview:
            # An output the program gave as an input is known in preview; everything computed is not, id included.
            for key in computed:
                state.setdefault(key, rpc.UNKNOWN)
            return "", state
        state.setdefault("arn", computed.pop("arn"))
        state.update(computed)
        return f"{physical}-id", state

    def _arn(self, type_token: str, physical: str) -> str:
        service = type_token.split(":")[1].split("/")[0]
        return f"arn:aws:{service}:{self.region}:{ACCOUNT_ID}:{physical}"


def _computed_outputs(type_token: str, physical: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
    """Outputs the provider computes that the program reads back (ids, ARNs, endpoints)."""
    if type_token == "aws:s3/bucket:Bucket":
        bucket = inputs.get("bucket") or f"{inputs.get('bucketPrefix', '')}{_short_hash(physical)}"
        return {"bucket": bucket, "arn": f"arn:aws:s3:::{bucket}", "region": region}
    if type_token == "aws:iam/role:Role":
        return {"arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{inputs.get('name', physical)}", "name": inputs.get("name", physical)}
    if type_token == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
        return {"arn": f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{inputs.get('url', '').removeprefix('https://')}"}
    if type_token == "aws:kms/key:Key":
        key_id = f"{_short_hash(physical)}-0000-4000-8000-{_short_hash(physical + 'k')}0000"
        return {"keyId": key_id, "arn": f"arn:aws:kms:{region}:{ACCOUNT_ID}:key/{key_id}"}
    if type_token == "aws:sqs/queue:Queue":
        name = inputs.get("name", physical)
        return {"name": name, "arn": f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{name}", "url": f"https://sqs.{region}.amazonaws.com/{ACCOUNT_ID}/{name}"}
    if type_token == "aws:secretsmanager/secret:Secret":
        return {"arn": f"arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:{inputs.get('name', physical)}-AbCdEf"}
    if type_token == "aws:cloudwatch/logGroup:LogGroup":
        return {"arn": f"arn:aws:logs:{region}:{ACCOUNT_ID}:log-group:{inputs.get('name', physical)}"}
    if type_token == "aws:ec2/launchTemplate:LaunchTemplate":
        return {"latestVersion": 1, "defaultVersion": 1}
    if type_token == "eks:index:Cluster":
        return _eks_cluster_outputs(physical, inputs, region)
    if type_token in _EDGE_OUTPUTS:
        return _EDGE_OUTPUTS[type_token](physical, inputs, region)
    if type_token.startswith("random:"):
        return {"result": f"mock-{_short_hash(physical)}{_short_hash(physical + 'r')}", "hex": _short_hash(physical)}
    return {}


def _rest_api_outputs(physical: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
    api_id = _short_hash(physical + "api")[:10]
    return {
        "id": api_id,
        "rootResourceId": _short_hash(physical + "root")[:10],
        "executionArn": f"arn:aws:execute-api:{region}:{ACCOUNT_ID}:{api_id}",
        "arn": f"arn:aws:apigateway:{region}::/restapis/{api_id}",
    }


def _stage_outputs(physical: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
    api_id, stage = inputs.get("restApi", "api"), inputs.get("stageName", "stage")
    return {
        "invokeUrl": f"https://{api_id}.execute-api.{region}.amazonaws.com/{stage}",
        "arn": f"arn:aws:apigateway:{region}::/restapis/{api_id}/stages/{stage}",
        "executionArn": f"arn:aws:execute-api:{region}:{ACCOUNT_ID}:{api_id}/{stage}",
    }


def _load_balancer_outputs(physical: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
    suffix = f"app/{physical[:32]}/{_short_hash(physical)}{_short_hash(physical + 'lb')}"
    return {
        "arn": f"arn:aws:elasticloadbalancing:{region}:{ACCOUNT_ID}:loadbalancer/{suffix}",
        "arnSuffix": suffix,
        "dnsName": f"internal-{physical[:32]}.{region}.elb.amazonaws.com",
    }


def _target_group_outputs(physical: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
    suffix = f"targetgroup/{physical[:32]}/{_short_hash(physical)}{_short_hash(physical + 'tg')}"
    return {"arn": f"arn:aws:elasticloadbalancing:{region}:{ACCOUNT_ID}:{suffix}", "arnSuffix": suffix}


def _lambda_outputs(physical: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
    arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{inputs.get('name', physical)}"
    return {
        "arn": arn,
        "name": inputs.get("name", physical),
        "invokeArn": f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations",
    }


def _distribution_outputs(physical: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
    distribution_id = "E" + _short_hash(physical).upper() + "X"
    return {
        "domainName": f"d{_short_hash(physical)}.cloudfront.net",
        "arn": f"arn:aws:cloudfront::{ACCOUNT_ID}:distribution/{distribution_id}",
    }


# Edge resources whose computed outputs the program reads back (Edge component, docs/request-path.md).
_EDGE_OUTPUTS = {
    "aws:apigateway/restApi:RestApi": _rest_api_outputs,
    "aws:apigateway/stage:Stage": _stage_outputs,
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer_outputs,
    "aws:lb/targetGroup:TargetGroup": _target_group_outputs,
    "aws:lambda/function:Function": _lambda_outputs,
    "aws:cloudfront/distribution:Distribution": _distribution_outputs,
}


def _eks_cluster_outputs(physical: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
    """What the pulumi_eks remote component would return: the cluster, its OIDC provider and a kubeconfig."""
    name = inputs.get("name", physical)
    issuer = f"oidc.eks.{region}.amazonaws.com/id/{_short_hash(physical).upper()}{_short_hash(name).upper()}"
    endpoint = f"https://{_short_hash(name).upper()}.gr7.{region}.eks.amazonaws.com"
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": endpoint, "certificate-authority-data": "bW9jaw=="}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
        "users": [{"name": name, "user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws", "args": ["eks", "get-token", "--cluster-name", name]}}}],
    }
    return {
        "kubeconfig": kubeconfig,
        "kubeconfigJson": json.dumps(kubeconfig),
        "oidcProviderArn": f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{issuer}",
        "oidcProviderUrl": f"https://{issuer}",
        "oidcIssuer": issuer,
        "clusterSecurityGroupId": f"sg-{_short_hash(name + 'cluster')}",
        "nodeSecurityGroupId": f"sg-{_short_hash(name + 'cluster')}",
        # No `eksCluster`/`core`: the SDK types them as resource references and rejects plain dicts, which fails
        # every output of the component. With skipDefaultSecurityGroups both group ids are the EKS-created one.
    }


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The mock monitor, keeping what the engine would know of each registration: parent, options, the outputs the
    provider answered with, and the outputs a component registers at its end."""

    def __init__(self, mocks: pulumi.runtime.Mocks):
        super().__init__(mocks)
        self.registrations: list[dict[str, Any]] = []
        self.registered_outputs: dict[str, Any] = {}

    def RegisterResourceOutputs(self, request):  # noqa: N802 - gRPC method name
        self.registered_outputs[request.urn] = request.outputs
        return super().RegisterResourceOutputs(request)

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.registrations.append(
                {
                    "urn": response.urn,
                    "type": request.type,
                    "name": request.name,
                    "parent": request.parent or None,
                    "custom": request.custom,
                    "request": request,
                    "response": response,
                }
            )
        return response
