"""Every policy answers "cannot judge yet" on an unknown value: no violation, and a not-applicable answer naming it.

On a first preview the engine sends unknowns for every value computed from a resource that does not exist yet
("We only allow unknown property values to be exposed to the provider if we are performing an update preview",
pulumi/pulumi pkg/resource/deploy/step_generator.go); on the wire an unknown is the sentinel string
04da6b54-80e4-46f7-96ec-b56ff0331ba9 (pulumi/pulumi sdk/go/common/resource/plugin/rpc.go UnknownStringValue), also in
place of a whole list or object. Each case below puts one into the field its policy judges. A new policy adds its case
here (test_every_policy_has_an_unknown_case enforces it).
"""

from __future__ import annotations

import copy

import pytest

from .snapshots import UNKNOWN, add, compliant_stack, find, find_all, resource, vllm_containers_of
from .test_policies import EXPECTED_POLICIES

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
EKS_COMPONENT = "eks:index:Cluster"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
SUBNET = "aws:ec2/subnet:Subnet"


def _container(s):
    return next(iter(vllm_containers_of(s)))


def _set(type_, *path, name=None):
    """Put UNKNOWN at props[path...] of one resource (every resource of the type when name is '*')."""
    def mutate(s):
        targets = find_all(s, type_) if name == "*" else [find(s, type_, name)]
        assert targets, type_
        for target in targets:
            node = target["props"]
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = UNKNOWN
    return mutate


def _container_field(*path):
    def mutate(s):
        node = _container(s)
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = UNKNOWN
    return mutate


def _model_bucket_tag_unknown(s):
    bucket = find(s, "aws:s3/bucket:Bucket")
    bucket["props"]["tags"]["vllm-eks:purpose"] = UNKNOWN
    bucket["options"]["protect"] = False  # whether this is the model bucket is not known yet
    bucket["props"]["forceDestroy"] = True  # a verdict only the bucket's purpose decides (false passes any bucket)


def _web_acl_unknown_without_dependency(s):
    distribution = find(s, "aws:cloudfront/distribution:Distribution")
    distribution["props"]["webAclId"] = UNKNOWN
    distribution["propertyDependencies"].pop("webAclId", None)


def _each_integration_timeout_unknown(s):
    for integration in find_all(s, "aws:apigateway/integration:Integration"):
        if integration["props"].get("type") == "HTTP_PROXY":
            integration["props"]["timeoutMilliseconds"] = UNKNOWN


def _router_ingress_sources_unknown(s):
    """The router's NetworkPolicy admits the load balancer's subnets, whose CIDRs a program may take from outputs."""
    policies = [r for r in find_all(s, "kubernetes:networking.k8s.io/v1:NetworkPolicy")
                if r["props"]["metadata"]["name"] == "router-from-alb"]
    assert policies
    for policy in policies:
        policy["props"]["spec"]["ingress"][0]["from"] = UNKNOWN


CASES = [
    # (policy, base snapshot, mutation putting an unknown where the policy looks)
    ("no-public-node-ips", "compliant", _set(SUBNET, "mapPublicIpOnLaunch", name="net-private-a")),
    ("nodes-in-private-subnets", "compliant", _set("eks:index:ManagedNodeGroup", "subnetIds", name="gpu-system")),
    ("eks-endpoint-private", "compliant", _set(EKS_CLUSTER, "vpcConfig", "endpointPublicAccess", name="gpu-eksCluster")),
    ("irsa-only-model-access", "compliant", _set("aws:iam/role:Role", "assumeRolePolicy", name="models-qwen3-8b-reader")),
    ("irsa-trust-pinned", "compliant", _set("aws:iam/role:Role", "assumeRolePolicy", name="models-qwen3-8b-reader")),
    ("serving-namespace-default-deny", "compliant", _set("kubernetes:networking.k8s.io/v1:NetworkPolicy", "spec",
                                                         name="*")),
    ("no-wildcard-model-actions", "compliant", _set("aws:iam/rolePolicy:RolePolicy", "policy", name="models-qwen3-8b-read")),
    ("model-bucket-encrypted", "compliant", _set(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "rules", name="*")),
    ("model-bucket-versioned", "compliant", _set(
        "aws:s3/bucketVersioning:BucketVersioning", "versioningConfiguration", "status", name="*")),
    ("model-bucket-public-access-blocked", "compliant", _set(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "blockPublicAcls", name="*")),
    ("model-bucket-tls-only", "compliant", _set("aws:s3/bucketPolicy:BucketPolicy", "policy", name="*")),
    ("model-bucket-retained", "compliant", _model_bucket_tag_unknown),
    ("eks-secrets-encrypted", "compliant", _set(EKS_CLUSTER, "encryptionConfig", name="gpu-eksCluster")),
    ("eks-control-plane-logging", "compliant", _set(EKS_CLUSTER, "enabledClusterLogTypes", name="gpu-eksCluster")),
    ("containers-run-as-non-root", "compliant", _container_field("securityContext", "runAsNonRoot")),
    ("containers-read-only-root-filesystem", "compliant", _container_field("securityContext", "readOnlyRootFilesystem")),
    ("containers-no-privilege-escalation", "compliant", _container_field("securityContext", "allowPrivilegeEscalation")),
    ("vllm-api-key-from-secret", "compliant", _container_field("args")),  # an unknown list may hold --api-key
    ("images-pinned", "compliant", _container_field("image")),
    ("images-pinned-by-digest", "compliant", _container_field("image")),
    ("cluster-multi-az", "compliant", _set(SUBNET, "availabilityZone", name="*")),
    ("vllm-startup-probe-budget", "compliant", _container_field("startupProbe", "failureThreshold")),
    ("vllm-pod-disruption-budget", "compliant", _set(
        "kubernetes:policy/v1:PodDisruptionBudget", "spec", "minAvailable", name="*")),
    ("vllm-rolling-update-keeps-ready-pod", "compliant", _set(
        DEPLOYMENT, "spec", "strategy", "rollingUpdate", "maxUnavailable", name="*")),
    # The case: the argument list is built from the bucket name, so on a first preview it is unknown.
    ("vllm-tensor-parallel-matches-gpus", "compliant", _container_field("args")),
    ("vllm-gpu-memory-utilization-range", "compliant", _container_field("args")),
    ("vllm-keda-autoscaling", "compliant", _set(
        "kubernetes:keda.sh/v1alpha1:ScaledObject", "spec", "scaleTargetRef", "name", name="*")),
    ("gpu-on-demand-pool", "compliant", _set(
        "kubernetes:karpenter.sh/v1:NodePool", "spec", "template", "spec", "requirements", name="*")),
    ("s3-gateway-endpoint", "compliant", _set("aws:ec2/vpcEndpoint:VpcEndpoint", "serviceName", name="*")),
    ("vllm-ttft-alert", "compliant", _set("kubernetes:monitoring.coreos.com/v1:PrometheusRule", "spec", "groups",
                                          name="*")),
    ("edge-no-public-lb-to-serving", "dev", _set("aws:lb/loadBalancer:LoadBalancer", "internal", name="*")),
    ("edge-waf-on-public-entry", "dev", _web_acl_unknown_without_dependency),
    ("edge-tls-1-2", "dev", _set("aws:cloudfront/distribution:Distribution", "viewerCertificate",
                                 "minimumProtocolVersion", name="*")),
    ("edge-methods-require-authorizer", "dev", _set("aws:apigateway/method:Method", "authorization", name="*")),
    ("edge-no-unauthenticated-routes", "dev", _set("aws:apigateway/resource:Resource", "pathPart", name="*")),
    ("edge-timeouts-cover-max-request", "dev", _each_integration_timeout_unknown),
    ("vpc-cni-network-policy-enforced", "compliant", _set(EKS_COMPONENT, "vpcCniOptions", "enableNetworkPolicy",
                                                          name="*")),
    ("router-serving-port-from-alb-only", "dev", _router_ingress_sources_unknown),
    ("images-from-private-registry", "compliant", _container_field("image")),
    ("router-health-check-process-only", "dev", _set("aws:lb/targetGroup:TargetGroup", "healthCheck", "path",
                                                     name="*")),
    ("volume-claims-name-a-stack-storage-class", "dev", _set("kubernetes:storage.k8s.io/v1:StorageClass", "metadata",
                                                             "name", name="*")),
    # The streamer's s3:// URL is built from the bucket name: the argument list is unknown on a first preview.
    ("pod-reads-within-role", "compliant", _container_field("args")),
]

def _added(type_, name, props):
    return lambda s: add(s, resource(type_, name, props))


def _deployment_field(*path):
    def mutate(s):
        node = find(s, DEPLOYMENT)["props"]
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = UNKNOWN
    return mutate


def _default_node_group_flag(key):
    """The cluster's default node group is kept (skipDefaultNodeGroup false), with `key` not known yet."""
    def mutate(s):
        props = find(s, EKS_COMPONENT)["props"]
        props.update({"skipDefaultNodeGroup": False, "nodeAssociatePublicIpAddress": False, key: UNKNOWN})
    return mutate


NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"

# The other values each policy reads, one unknown at a time: every "cannot judge" branch answers "not applicable".
FURTHER_CASES = [
    ("no-public-node-ips", _added("aws:ec2/launchTemplate:LaunchTemplate", "gpu-nodes",
                                  {"networkInterfaces": [{"associatePublicIpAddress": UNKNOWN}]})),
    ("no-public-node-ips", _added("aws:ec2/launchConfiguration:LaunchConfiguration", "gpu-default",
                                  {"associatePublicIpAddress": UNKNOWN})),
    ("no-public-node-ips", _default_node_group_flag("skipDefaultNodeGroup")),
    ("no-public-node-ips", _default_node_group_flag("nodeAssociatePublicIpAddress")),
    ("no-public-node-ips", _set(NODE_CLASS, "spec", "associatePublicIPAddress", name="gpu-nodeclass")),
    ("nodes-in-private-subnets", _set(NODE_CLASS, "spec", "subnetSelectorTerms", name="gpu-nodeclass")),
    ("nodes-in-private-subnets", lambda s: find(s, NODE_CLASS, "gpu-nodeclass")["props"]["spec"].update(
        {"subnetSelectorTerms": [{"tags": UNKNOWN}]})),
    ("eks-secrets-encrypted", _set(EKS_COMPONENT, "encryptionConfigKeyArn", name="gpu")),
    ("eks-secrets-encrypted", lambda s: find(s, EKS_CLUSTER, "gpu-eksCluster")["props"].update(
        {"encryptionConfig": [{"resources": UNKNOWN, "provider": {"keyArn": "arn:aws:kms:us-east-1:123456789012:key/k1"}}]})),
    ("vllm-startup-probe-budget", _container_field("startupProbe")),
    ("vllm-rolling-update-keeps-ready-pod", _deployment_field("spec", "replicas")),
    ("vllm-rolling-update-keeps-ready-pod", _deployment_field("spec", "strategy", "type")),
    ("vllm-api-key-from-secret", _container_field("env")),
    ("serving-namespace-default-deny", _deployment_field("metadata", "namespace")),
    # A whole object unknown (the engine sends one sentinel in place of an object built from outputs).
    ("containers-run-as-non-root", _container_field("securityContext")),
    ("containers-run-as-non-root", _deployment_field("spec", "template", "spec", "securityContext")),
    ("containers-read-only-root-filesystem", _container_field("securityContext")),
    ("containers-no-privilege-escalation", _container_field("securityContext")),
    ("vllm-rolling-update-keeps-ready-pod", _deployment_field("spec", "strategy")),
    ("eks-endpoint-private", _set(EKS_CLUSTER, "vpcConfig", name="gpu-eksCluster")),
    ("vllm-keda-autoscaling", _set("kubernetes:keda.sh/v1alpha1:ScaledObject", "spec", "scaleTargetRef", name="*")),
    ("edge-no-public-lb-to-serving", _added("kubernetes:core/v1:Service", "exposed", {
        "metadata": {"name": "exposed", "namespace": "llm", "annotations": UNKNOWN}, "spec": {"type": "LoadBalancer"}})),
    ("edge-no-public-lb-to-serving", _added("kubernetes:networking.k8s.io/v1:Ingress", "exposed", {
        "metadata": {"name": "exposed", "namespace": "llm", "annotations": UNKNOWN}})),
    ("images-from-private-registry", _deployment_field("metadata", "namespace")),  # an exempt namespace or not
]


@pytest.mark.parametrize("policy, mutation", FURTHER_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(FURTHER_CASES)])
def test_every_further_unknown_value_cannot_be_judged_yet(pack, policy, mutation):
    snapshot = compliant_stack()
    mutation(snapshot)
    result = pack.check(snapshot)
    assert not result.by_policy(policy), [v.message for v in result.by_policy(policy)]
    reasons = [item["reason"] for item in result.not_applicable if item["policy"] == policy]
    assert any(reason.startswith("unknown during preview") for reason in reasons), (policy, reasons)


# These judge a resource's type alone, which a preview always knows: an unknown property changes nothing.
TYPE_ONLY = {"no-pod-identity", "no-iam-users"}


# These judge resource options (ignoreChanges), which the engine always knows, never a property value.
OPTIONS_ONLY = {"code-is-the-source-of-truth"}


def test_every_policy_has_an_unknown_case():
    assert {policy for policy, _, _ in CASES} | TYPE_ONLY | OPTIONS_ONLY == set(EXPECTED_POLICIES)


@pytest.mark.parametrize("policy, base, mutation", CASES, ids=[c[0] for c in CASES])
def test_unknown_value_cannot_be_judged_yet(pack, request, policy, base, mutation):
    snapshot = copy.deepcopy(compliant_stack() if base == "compliant" else request.getfixturevalue("dev_snapshot"))
    mutation(snapshot)
    result = pack.check(snapshot)
    assert not result.by_policy(policy), [v.message for v in result.by_policy(policy)]
    reasons = [item["reason"] for item in result.not_applicable if item["policy"] == policy]
    assert any(reason.startswith("unknown during preview") for reason in reasons), (policy, reasons)


def test_a_violation_beside_an_unknown_is_reported_alone(pack):
    """The unknown could not make a failing resource pass: the violation is the verdict, with no "not applicable"."""
    snapshot = compliant_stack()
    [deployment] = [d for d in find_all(snapshot, "kubernetes:apps/v1:Deployment")
                    if d["props"]["spec"]["template"]["spec"]["containers"][0]["name"] == "vllm"][:1]
    pod = deployment["props"]["spec"]["template"]["spec"]
    pod["containers"][0]["securityContext"]["runAsUser"] = 0
    pod["containers"].append({**pod["containers"][0], "name": "sidecar",
                              "securityContext": {**pod["containers"][0]["securityContext"], "runAsNonRoot": UNKNOWN}})
    result = pack.check(snapshot)
    assert result.by_policy("containers-run-as-non-root")
    assert [item for item in result.not_applicable if item["policy"] == "containers-run-as-non-root"] == []


# Every sentinel the engine may use for a value it does not know yet, one per kind (pulumi/pulumi
# sdk/go/common/resource/plugin/rpc.go: UnknownBoolValue, UnknownNumberValue, UnknownStringValue, UnknownArrayValue,
# UnknownAssetValue, UnknownArchiveValue, UnknownObjectValue).
ENGINE_UNKNOWNS = ["1c4a061d-8072-4f0a-a4cb-0ff528b18fe7", "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
                   "04da6b54-80e4-46f7-96ec-b56ff0331ba9", "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
                   "030794c1-ac77-496b-92df-f27374a8bd58", "e48ece36-62e2-4504-bad9-02848725956a",
                   "dd056dcd-154b-4c76-9bd3-c8f88648b5ff"]


@pytest.mark.parametrize("sentinel", ENGINE_UNKNOWNS)
def test_every_engine_sentinel_is_unknown_and_the_reason_names_the_value(pack, sentinel):
    """What a reviewer reads in the preview: which value the policy waits for, not only that it waits."""
    snapshot = compliant_stack()
    for endpoint in find_all(snapshot, "aws:ec2/vpcEndpoint:VpcEndpoint"):
        endpoint["props"]["serviceName"] = sentinel
    result = pack.check(snapshot)
    assert not result.by_policy("s3-gateway-endpoint")
    reasons = [item["reason"] for item in result.not_applicable if item["policy"] == "s3-gateway-endpoint"]
    assert reasons == ["unknown during preview: VpcEndpoint serviceName"]


@pytest.mark.parametrize("policy", sorted(TYPE_ONLY))
def test_type_only_policies_fire_whatever_the_properties(check, policy):
    type_ = {"no-pod-identity": "aws:eks/podIdentityAssociation:PodIdentityAssociation",
             "no-iam-users": "aws:iam/user:User"}[policy]
    snapshot = compliant_stack()
    snapshot["resources"].append({"urn": f"urn:pulumi:test::vllm-eks::{type_}::x", "type": type_, "name": "x",
                                  "parent": None, "props": {"name": UNKNOWN}, "options": {}})
    assert check(snapshot).by_policy(policy)


VLLM_POLICIES = ["vllm-tensor-parallel-matches-gpus", "vllm-gpu-memory-utilization-range", "vllm-startup-probe-budget",
                 "vllm-rolling-update-keeps-ready-pod", "vllm-pod-disruption-budget", "vllm-keda-autoscaling",
                 "vllm-ttft-alert", "gpu-on-demand-pool"]


def test_a_deployment_whose_pod_template_is_unknown_may_be_vllm(check):
    """A pod template built from a computed value is unknown as a whole at preview: whether it serves vLLM cannot
    be told, so no vLLM policy passes or fails it (and stack policies do not read it as "no vLLM here")."""
    snapshot = compliant_stack()
    deployment = find(snapshot, DEPLOYMENT)
    deployment["props"]["spec"]["template"] = UNKNOWN
    deployment["props"]["metadata"].pop("labels")
    find(snapshot, "kubernetes:karpenter.sh/v1:NodePool")["props"]["spec"]["template"]["spec"]["requirements"] = []
    result = check(snapshot)
    assert not [v for v in result.violations if v.policy_name in VLLM_POLICIES], result.violations
    skipped = {item["policy"] for item in result.not_applicable if item["reason"].startswith("unknown during preview")}
    assert set(VLLM_POLICIES) <= skipped, set(VLLM_POLICIES) - skipped


def test_a_rule_set_not_known_yet_does_not_hide_a_known_ttft_alert(pack):
    """One PrometheusRule computed at preview, another with the P95 TTFT alert: the known alert passes the policy."""
    snapshot = compliant_stack()
    known = find(snapshot, "kubernetes:monitoring.coreos.com/v1:PrometheusRule")
    pending = copy.deepcopy(known)
    pending["name"], pending["urn"] = "pending-rules", known["urn"] + "-pending"
    pending["props"]["spec"]["groups"] = UNKNOWN
    snapshot["resources"].insert(snapshot["resources"].index(known), pending)
    result = pack.check(snapshot)
    assert not result.by_policy("vllm-ttft-alert")
    assert [item for item in result.not_applicable if item["policy"] == "vllm-ttft-alert"] == []
