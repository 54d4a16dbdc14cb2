"""Hand-made preflight snapshots for the policy tests: one compliant stack, plus helpers to mutate it.

The compliant stack mixes the ways a policy can link resources (property dependencies, names/ids, parents) and
both forms of EKS a preview can show (the `eks:index:Cluster` component inputs and its `aws:eks/cluster:Cluster`).
"""

from __future__ import annotations

import copy
import json
from typing import Any, Callable, Iterable, Optional

STACK = "test"
PROJECT = "vllm-eks"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
OIDC_ARN = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC123"
ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/ABC123"
ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"  # the account's registry (pull-through cache)


def urn(type_: str, name: str, parent_type: Optional[str] = None) -> str:
    qualified = f"{parent_type}${type_}" if parent_type else type_
    return f"urn:pulumi:{STACK}::{PROJECT}::{qualified}::{name}"


def resource(type_: str, name: str, props: dict, *, parent: Optional[str] = None, parent_type: Optional[str] = None,
             options: Optional[dict] = None, property_dependencies: Optional[dict] = None) -> dict:
    entry = {"urn": urn(type_, name, parent_type), "type": type_, "name": name, "parent": parent,
             "props": props, "options": options or {"protect": False}}
    if property_dependencies:
        entry["propertyDependencies"] = property_dependencies
    return entry


def vllm_container(**overrides) -> dict:
    container = {
        "name": "vllm",
        "image": ECR + "/docker-hub/vllm/vllm-openai:v0.32.0@sha256:" + "b" * 64,
        "command": ["/bin/sh", "-c",
                    'VLLM_API_KEY="$(cat /var/run/secrets/vllm/api-key)" exec python3 -m '
                    'vllm.entrypoints.openai.api_server "$@"', "vllm"],
        "args": ["--model", "s3://vllm-weights-prod/qwen3-8b/", "--served-model-name", "qwen3-8b",
                 "--tensor-parallel-size", "4", "--gpu-memory-utilization", "0.92", "--port", "8000"],
        "resources": {"limits": {"nvidia.com/gpu": "4", "memory": "64Gi"}, "requests": {"nvidia.com/gpu": 4.0}},
        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000.0, "readOnlyRootFilesystem": True,
                            "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        "startupProbe": {"httpGet": {"path": "/health", "port": 8000.0}, "periodSeconds": 10.0,
                         "failureThreshold": 60.0},
        "readinessProbe": {"httpGet": {"path": "/health", "port": 8000.0}, "periodSeconds": 5.0},
        "volumeMounts": [{"name": "api-key", "mountPath": "/var/run/secrets/vllm", "readOnly": True}],
    }
    container.update(overrides)
    return container


def vllm_deployment(name: str = "qwen3-8b", namespace: str = "llm", container: Optional[dict] = None,
                    **spec_overrides) -> dict:
    labels = {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": name}
    spec = {
        "replicas": 1.0,
        "selector": {"matchLabels": labels},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0.0, "maxSurge": 1.0}},
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "serviceAccountName": f"{name}-reader",
                "securityContext": {"runAsNonRoot": True, "fsGroup": 1000.0},
                "initContainers": [{
                    "name": "wait", "image": ECR + "/docker-hub/library/busybox:1.37.0@sha256:" + "a" * 64, "command": ["true"],
                    "securityContext": {"runAsUser": 65534.0, "readOnlyRootFilesystem": True,
                                        "allowPrivilegeEscalation": False},
                }],
                "containers": [container or vllm_container()],
                "volumes": [{"name": "api-key", "secret": {"secretName": f"{name}-api-key"}}],
            },
        },
    }
    spec.update(spec_overrides)
    return resource("kubernetes:apps/v1:Deployment", f"{name}-deployment", {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": spec,
    })


def read_policy(bucket_name: str = "vllm-weights-prod", prefix: str = "qwen3-8b") -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"arn:aws:s3:::{bucket_name}/{prefix}/*"]},
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [f"arn:aws:s3:::{bucket_name}"],
         "Condition": {"StringLike": {"s3:prefix": [f"{prefix}/*"]}}},
        {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": ["arn:aws:kms:us-east-1:123456789012:key/k1"],
         "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}},
    ]})


def trust_policy(sub: Any = "system:serviceaccount:llm:qwen3-8b-reader", aud: Any = "sts.amazonaws.com",
                 operator: str = "StringEquals") -> str:
    condition = {}
    if sub is not None:
        condition[f"{ISSUER}:sub"] = sub
    if aud is not None:
        condition[f"{ISSUER}:aud"] = aud
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity", "Principal": {"Federated": OIDC_ARN},
        "Condition": {operator: condition}}]})


def tls_only_policy(bucket_name: str = "vllm-weights-prod") -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket_name}", f"arn:aws:s3:::{bucket_name}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})


def compliant_stack() -> dict:
    """A small stack every policy is quiet about (zero violations, advisory included)."""
    store_type = "vllm-eks:index:ModelStore"
    store_urn = urn(store_type, "models")
    bucket = resource("aws:s3/bucket:Bucket", "models-weights", {
        "bucket": "vllm-weights-prod", "forceDestroy": False,
        "tags": {"vllm-eks:purpose": "model-weights"},
    }, parent=store_urn, parent_type=store_type, options={"protect": False, "retainOnDelete": True})
    eks_type = "eks:index:Cluster"
    eks_urn = urn(eks_type, "gpu")
    resources = [
        resource("pulumi:pulumi:Stack", f"{PROJECT}-{STACK}", {}),
        resource("aws:ec2/vpc:Vpc", "net-vpc", {"cidrBlock": "10.0.0.0/16", "enableDnsHostnames": True}),
    ]
    for index, zone in enumerate(["us-east-1a", "us-east-1b"]):
        resources.append(resource("aws:ec2/subnet:Subnet", f"net-private-{zone[-1]}", {
            "vpcId": UNKNOWN, "cidrBlock": f"10.0.{index * 32}.0/19", "availabilityZone": zone,
            "mapPublicIpOnLaunch": False,
            "tags": {"kubernetes.io/role/internal-elb": "1", "karpenter.sh/discovery": "gpu"},
        }))
        resources.append(resource("aws:ec2/subnet:Subnet", f"net-public-{zone[-1]}", {
            "vpcId": UNKNOWN, "cidrBlock": f"10.0.{128 + index * 16}.0/20", "availabilityZone": zone,
            "mapPublicIpOnLaunch": True, "tags": {"kubernetes.io/role/elb": "1"},
        }))
    resources += [
        resource("aws:ec2/vpcEndpoint:VpcEndpoint", "net-s3", {
            "vpcId": UNKNOWN, "serviceName": "com.amazonaws.us-east-1.s3", "vpcEndpointType": "Gateway"}),
        resource(eks_type, "gpu", {
            "vpcId": "net-vpc-id", "privateSubnetIds": ["net-private-a-id", "net-private-b-id"],
            "publicSubnetIds": ["net-public-a-id", "net-public-b-id"],
            "endpointPrivateAccess": True, "endpointPublicAccess": False,
            "enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
            "encryptionConfigKeyArn": "arn:aws:kms:us-east-1:123456789012:key/k1",
            "skipDefaultNodeGroup": True, "createOidcProvider": True, "authenticationMode": "API",
            "vpcCniOptions": {"enableNetworkPolicy": True},
        }),
        resource("aws:eks/cluster:Cluster", "gpu-eksCluster", {
            "vpcConfig": {"subnetIds": ["net-private-a-id", "net-private-b-id", "net-public-a-id",
                                        "net-public-b-id"],
                          "endpointPrivateAccess": True, "endpointPublicAccess": False},
            "encryptionConfig": {"provider": {"keyArn": "arn:aws:kms:us-east-1:123456789012:key/k1"},
                                 "resources": ["secrets"]},
            "enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
        }, parent=eks_urn, parent_type=eks_type),
        resource("aws:ec2/launchTemplate:LaunchTemplate", "gpu-system-lt", {
            "networkInterfaces": [{"associatePublicIpAddress": "false", "deleteOnTermination": "true"}],
            "metadataOptions": {"httpTokens": "required"}}),
        resource("eks:index:ManagedNodeGroup", "gpu-system", {
            "subnetIds": ["net-private-a-id", "net-private-b-id"], "instanceTypes": ["m7i.large"],
            "amiType": "BOTTLEROCKET_x86_64"}),
        resource("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass", "gpu-nodeclass", {
            "apiVersion": "karpenter.k8s.aws/v1", "kind": "EC2NodeClass", "metadata": {"name": "gpu"},
            "spec": {"amiSelectorTerms": [{"alias": "bottlerocket@latest"}],
                     "subnetSelectorTerms": [{"tags": {"karpenter.sh/discovery": "gpu"}}],
                     "securityGroupSelectorTerms": [{"tags": {"karpenter.sh/discovery": "gpu"}}],
                     "metadataOptions": {"httpTokens": "required"}}}),
        resource("kubernetes:karpenter.sh/v1:NodePool", "gpu-ondemand", {
            "apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": "gpu-on-demand"},
            "spec": {"template": {"spec": {
                "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "gpu"},
                "requirements": [
                    {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]},
                    {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": ["g5", "g6"]},
                ],
                "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]}}}}),
        resource(store_type, "models", {}),
        bucket,
        resource("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                 "models-weights-sse", {
                     "bucket": UNKNOWN,
                     "rules": [{"applyServerSideEncryptionByDefault": {
                         "sseAlgorithm": "aws:kms", "kmsMasterKeyId": "arn:aws:kms:us-east-1:123456789012:key/k1"},
                         "bucketKeyEnabled": True}]},
                 parent=store_urn, parent_type=store_type,
                 property_dependencies={"bucket": [bucket["urn"]]}),
        resource("aws:s3/bucketVersioning:BucketVersioning", "models-weights-versioning", {
            "bucket": "models-weights-id", "versioningConfiguration": {"status": "Enabled"}},
            parent=store_urn, parent_type=store_type),
        resource("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "models-weights-pab", {
            "bucket": "vllm-weights-prod", "blockPublicAcls": True, "blockPublicPolicy": True,
            "ignorePublicAcls": True, "restrictPublicBuckets": True}, parent=store_urn, parent_type=store_type),
        resource("aws:s3/bucketPolicy:BucketPolicy", "models-weights-policy", {
            "bucket": UNKNOWN, "policy": tls_only_policy()}, parent=store_urn, parent_type=store_type),
        resource("aws:iam/role:Role", "models-qwen3-8b-reader", {
            "assumeRolePolicy": trust_policy(), "name": "vllm-qwen3-8b-reader"},
            parent=store_urn, parent_type=store_type),
        resource("aws:iam/rolePolicy:RolePolicy", "models-qwen3-8b-read", {
            "role": "vllm-qwen3-8b-reader", "policy": read_policy()}, parent=store_urn, parent_type=store_type),
        resource("kubernetes:core/v1:Namespace", "llm", {"metadata": {"name": "llm"}}),
        resource("kubernetes:networking.k8s.io/v1:NetworkPolicy", "llm-default-deny", {
            "metadata": {"name": "default-deny", "namespace": "llm"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}),
        vllm_deployment(),
        resource("kubernetes:policy/v1:PodDisruptionBudget", "qwen3-8b-pdb", {
            "metadata": {"name": "qwen3-8b", "namespace": "llm"},
            "spec": {"minAvailable": 1.0, "selector": {"matchLabels": {
                "app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": "qwen3-8b"}}}}),
        resource("kubernetes:keda.sh/v1alpha1:ScaledObject", "qwen3-8b-scaler", {
            "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
            "metadata": {"name": "qwen3-8b", "namespace": "llm"},
            "spec": {"scaleTargetRef": {"name": "qwen3-8b"}, "minReplicaCount": 0.0, "maxReplicaCount": 4.0,
                     "triggers": [{"type": "prometheus", "metadata": {
                         "serverAddress": "http://prometheus.monitoring:9090", "threshold": "10",
                         "query": 'sum(vllm:num_requests_waiting{model_name="qwen3-8b"})'}}]}}),
        resource("kubernetes:monitoring.coreos.com/v1:PrometheusRule", "vllm-alerts", {
            "metadata": {"name": "vllm", "namespace": "monitoring"},
            "spec": {"groups": [{"name": "vllm", "rules": [{
                "alert": "VllmSlowFirstToken",
                "expr": "histogram_quantile(0.95, sum by (le, model_name) "
                        "(rate(vllm:time_to_first_token_seconds_bucket[5m]))) > 2",
                "for": "10m"}]}]}}),
    ]
    return {"stack": STACK, "resources": resources}


# ---------------------------------------------------------------------------------------------------------------
# Mutation helpers
# ---------------------------------------------------------------------------------------------------------------

def find(snapshot: dict, type_: str, name: Optional[str] = None) -> dict:
    for r in snapshot["resources"]:
        if r["type"] == type_ and (name is None or r["name"] == name):
            return r
    raise KeyError(f"{type_} {name or ''} not in snapshot")


def find_all(snapshot: dict, type_: str) -> list[dict]:
    return [r for r in snapshot["resources"] if r["type"] == type_]


def remove(snapshot: dict, type_: str, name: Optional[str] = None) -> dict:
    snapshot["resources"] = [r for r in snapshot["resources"]
                             if not (r["type"] == type_ and (name is None or r["name"] == name))]
    return snapshot


def add(snapshot: dict, *items: dict) -> dict:
    snapshot["resources"].extend(items)
    return snapshot


def mutated(mutation: Callable[[dict], Any], base: Optional[dict] = None) -> dict:
    snapshot = copy.deepcopy(base if base is not None else compliant_stack())
    result = mutation(snapshot)
    return result if isinstance(result, dict) and "resources" in result else snapshot


def vllm_containers_of(snapshot: dict) -> Iterable[dict]:
    for r in find_all(snapshot, "kubernetes:apps/v1:Deployment"):
        for c in r["props"]["spec"]["template"]["spec"]["containers"]:
            yield c
