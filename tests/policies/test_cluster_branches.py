"""Every branch of the cluster policies (policies/security_cluster.py) on the small compliant stack (with a router
beside it, test_cluster_policies._router_stack), one change at a time: the "cannot judge yet" answer naming the value
it waits for, and each side branch firing with its whole message or staying quiet.

An unknown is what the engine sends on a first preview for a value computed from a resource not created yet
(pulumi/pulumi sdk/go/common/resource/plugin/rpc.go UnknownStringValue). Only the judged policies are enabled
(pulumi_policy runs no disabled policy), and the pack analyzes only the resources a case changed or added.
"""

from __future__ import annotations

import pytest

from .branch_cases import checked_alone, fired_messages
from .snapshots import UNKNOWN, add, compliant_stack, find, remove, resource
from .test_cluster_policies import LB_PEERS, _router_stack

POLICIES = ("vpc-cni-network-policy-enforced", "router-serving-port-from-alb-only", "images-from-private-registry",
            "router-health-check-process-only", "volume-claims-name-a-stack-storage-class")
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
ADDON = "aws:eks/addon:Addon"
BINDING = "kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
EKS_COMPONENT = "eks:index:Cluster"


def _checked(pack, base, mutation, config=None):
    return checked_alone(pack, base, mutation, POLICIES, config)


def _fence(s):
    return find(s, NETWORK_POLICY, "router-from-alb")["props"]


def _router_deployment(s):
    return find(s, DEPLOYMENT, "router")["props"]


def _router_container(s):
    return _router_deployment(s)["spec"]["template"]["spec"]["containers"][0]


def _vllm_container(s):
    return find(s, DEPLOYMENT, "qwen3-8b-deployment")["props"]["spec"]["template"]["spec"]["containers"][0]


def _put(getter, key, value=UNKNOWN):
    return lambda s: getter(s).__setitem__(key, value)


def _addon(name, values, addon="vpc-cni"):
    """An EKS add-on; vpc-cni's configurationValues JSON carries enableNetworkPolicy ("Amazon VPC CNI" add-on
    configuration schema; AWS, "Limit Pod traffic with Kubernetes network policies")."""
    return lambda s: add(s, resource(ADDON, name, {"addonName": addon, "clusterName": "gpu",
                                                  "configurationValues": values}))


def _cni_component(value):
    """pulumi-eks' VpcCniAddon component (nodejs/eks/addons/cni-addon.ts) with its enableNetworkPolicy input."""
    props = {} if value is None else {"enableNetworkPolicy": value}
    return lambda s: add(s, resource("eks:index:VpcCniAddon", "cni", props))


def _cluster_cni(value):
    return lambda s: find(s, EKS_COMPONENT)["props"]["vpcCniOptions"].__setitem__("enableNetworkPolicy", value)


def _both(*mutations):
    def mutate(s):
        for mutation in mutations:
            mutation(s)
    return mutate


def _service(s):
    return find(s, "kubernetes:core/v1:Service", "router-service")["props"]


def _binding(s):
    return find(s, BINDING, "router-binding")


def _health_path(path):
    return lambda s: find(s, "aws:lb/targetGroup:TargetGroup", "edge-qwen3-8b")["props"]["healthCheck"].__setitem__(
        "path", path)


def _unlinked_binding(s):
    """The binding's link to its target group is not in the engine's property dependencies (an ARN given as text)."""
    _binding(s).pop("propertyDependencies")


def _claim(type_, name, props):
    return lambda s: add(s, resource(type_, name, props))


def _pvc(storage_class=None, spec=None):
    """A PersistentVolumeClaim (Kubernetes docs, "Persistent Volumes": spec.storageClassName)."""
    if spec is None:
        spec = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}}
        if storage_class is not None:
            spec["storageClassName"] = storage_class
    return _claim(PVC, "data", {"metadata": {"name": "data", "namespace": "llm"}, "spec": spec})


def _storage_class(name="gp3"):
    return lambda s: add(s, resource("kubernetes:storage.k8s.io/v1:StorageClass", name, {
        "metadata": {"name": name}, "provisioner": "ebs.csi.aws.com"}))


def _existing_cluster(s):
    remove(s, EKS_COMPONENT)
    remove(s, "aws:eks/cluster:Cluster")


def _nodes_share_the_lb_subnet(holder):
    """A third, untagged subnet holds the ALB and the nodes of `holder` (a node group's subnetIds, the pulumi-eks
    cluster's privateSubnetIds, or the EKS cluster's vpcConfig.subnetIds); the fence admits that subnet."""
    def mutate(s):
        add(s, resource("aws:ec2/subnet:Subnet", "net-shared", {
            "vpcId": UNKNOWN, "cidrBlock": "10.0.64.0/19", "availabilityZone": "us-east-1a", "mapPublicIpOnLaunch": False}))
        find(s, "aws:lb/loadBalancer:LoadBalancer", "edge-alb")["props"]["subnets"] = ["net-lb-a-id", "net-shared-id"]
        if holder == "subnetIds":
            find(s, "eks:index:ManagedNodeGroup", "gpu-system")["props"]["subnetIds"].append("net-shared-id")
        elif holder == "privateSubnetIds":
            find(s, EKS_COMPONENT)["props"]["privateSubnetIds"].append("net-shared-id")
        else:
            find(s, "aws:eks/cluster:Cluster")["props"]["vpcConfig"]["subnetIds"].append("net-shared-id")
        _fence(s)["spec"]["ingress"][0]["from"] = [{"ipBlock": {"cidr": "10.0.255.192/27"}},
                                                   {"ipBlock": {"cidr": "10.0.64.0/19"}}]
    return mutate


def _load_balancer_first(s):
    balancer = find(s, "aws:lb/loadBalancer:LoadBalancer", "edge-alb")
    s["resources"].remove(balancer)
    s["resources"].insert(0, balancer)


def _ingress_rule(**rule):
    return lambda s: _fence(s)["spec"].__setitem__("ingress", [rule])


ROUTER = _router_stack(LB_PEERS)

UNKNOWN_CASES = [
    ("vpc-cni-network-policy-enforced", "compliant", _addon("cni", UNKNOWN), "aws:eks/addon:Addon 'cni' enableNetworkPolicy"),
    ("vpc-cni-network-policy-enforced", "compliant", _cni_component(UNKNOWN),
     "eks:index:VpcCniAddon 'cni' enableNetworkPolicy"),
    ("vpc-cni-network-policy-enforced", "compliant", _cluster_cni(UNKNOWN),
     "eks:index:Cluster 'gpu' vpcCniOptions.enableNetworkPolicy"),
    ("router-serving-port-from-alb-only", "router", _put(
        lambda s: find(s, "aws:lb/loadBalancer:LoadBalancer", "edge-alb")["props"], "subnets"), "load balancer subnets"),
    ("router-serving-port-from-alb-only", "router", _put(
        lambda s: find(s, "aws:ec2/subnet:Subnet", "net-lb-a")["props"], "cidrBlock"), "load balancer subnets"),
    ("router-serving-port-from-alb-only", "router", _put(lambda s: _router_deployment(s)["metadata"], "namespace"),
     "kubernetes:apps/v1:Deployment 'router' labels/namespace"),
    ("router-serving-port-from-alb-only", "router", _put(
        lambda s: _router_deployment(s)["spec"]["template"]["metadata"], "labels"),
     "kubernetes:apps/v1:Deployment 'router' labels/namespace"),
    ("router-serving-port-from-alb-only", "router", _put(_router_container, "args"),
     "kubernetes:apps/v1:Deployment 'router' serving port"),
    ("router-serving-port-from-alb-only", "router", _put(lambda s: _fence(s)["spec"], "podSelector"),
     "kubernetes:networking.k8s.io/v1:NetworkPolicy 'router-from-alb' namespace/podSelector/policyTypes"),
    ("router-serving-port-from-alb-only", "router", _put(lambda s: _fence(s)["spec"], "policyTypes"),
     "kubernetes:networking.k8s.io/v1:NetworkPolicy 'router-from-alb' namespace/podSelector/policyTypes"),
    ("router-serving-port-from-alb-only", "router", _put(lambda s: _fence(s)["metadata"], "namespace"),
     "kubernetes:networking.k8s.io/v1:NetworkPolicy 'router-from-alb' namespace/podSelector/policyTypes"),
    ("router-serving-port-from-alb-only", "router", _put(lambda s: _fence(s)["spec"], "ingress"),
     "kubernetes:networking.k8s.io/v1:NetworkPolicy 'router-from-alb' spec.ingress"),
    ("router-serving-port-from-alb-only", "router", _put(lambda s: _fence(s)["spec"]["ingress"][0], "from"),
     "kubernetes:networking.k8s.io/v1:NetworkPolicy 'router-from-alb' spec.ingress[0]"),
    ("router-health-check-process-only", "router", _put(_service, "spec", {"selector": UNKNOWN}),
     "kubernetes:core/v1:Service 'router-service' selector/namespace/name"),
    ("router-health-check-process-only", "router", _put(lambda s: _service(s)["metadata"], "namespace"),
     "kubernetes:core/v1:Service 'router-service' selector/namespace/name"),
    ("router-health-check-process-only", "router", _put(lambda s: _service(s)["metadata"], "name"),
     "kubernetes:core/v1:Service 'router-service' selector/namespace/name"),
    ("router-health-check-process-only", "router", _both(_unlinked_binding, _put(
        lambda s: _binding(s)["props"]["metadata"], "namespace")),
     "kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding 'router-binding' serviceRef/namespace"),
    ("router-health-check-process-only", "router", _both(_health_path("/health"), _put(
        lambda s: _binding(s)["props"]["spec"]["serviceRef"], "name")),
     "kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding 'router-binding' serviceRef/namespace"),
    ("router-health-check-process-only", "router", _put(lambda s: _router_container(s)["livenessProbe"]["httpGet"],
                                                        "path"), "kubernetes:apps/v1:Deployment 'router' livenessProbe"),
    ("router-health-check-process-only", "router", _health_path(UNKNOWN),
     "aws:lb/targetGroup:TargetGroup 'edge-qwen3-8b' healthCheck.path"),
    ("volume-claims-name-a-stack-storage-class", "compliant", _pvc(spec=UNKNOWN),
     "kubernetes:core/v1:PersistentVolumeClaim 'data' spec"),
    ("volume-claims-name-a-stack-storage-class", "compliant", _pvc(storage_class=UNKNOWN),
     "kubernetes:core/v1:PersistentVolumeClaim 'data' spec"),
    ("volume-claims-name-a-stack-storage-class", "compliant", _claim(STATEFUL_SET, "db", {
        "metadata": {"name": "db", "namespace": "llm"}, "spec": {"volumeClaimTemplates": UNKNOWN}}),
     "kubernetes:apps/v1:StatefulSet 'db' spec.volumeClaimTemplates"),
    ("volume-claims-name-a-stack-storage-class", "compliant", _both(_storage_class(), _put(
        lambda s: find(s, "kubernetes:storage.k8s.io/v1:StorageClass")["props"]["metadata"], "name")),
     "kubernetes:storage.k8s.io/v1:StorageClass 'gp3' metadata.name"),
    ("images-from-private-registry", "compliant", _put(lambda s: find(s, DEPLOYMENT)["props"]["spec"]["template"]["spec"],
                                                       "containers"), "pod spec containers"),
    ("images-from-private-registry", "compliant", _put(_vllm_container, "image"), "containers[vllm].image"),
    ("images-from-private-registry", "compliant", _put(
        lambda s: find(s, DEPLOYMENT)["props"]["spec"]["template"]["spec"], "ephemeralContainers"), "pod spec containers"),
]


@pytest.mark.parametrize("policy, base, mutation, waits_for", UNKNOWN_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(UNKNOWN_CASES)])
def test_an_unknown_value_is_not_judged_and_named(pack, policy, base, mutation, waits_for):
    result = _checked(pack, ROUTER if base == "router" else compliant_stack(), mutation)
    assert fired_messages(result, POLICIES) == {}
    assert [item["reason"] for item in result.not_applicable if item["policy"] == policy] == [
        f"unknown during preview: {waits_for}"]


NOT_ENFORCED = ("{}: the VPC CNI does not enforce NetworkPolicy, so every NetworkPolicy of the stack is ignored and any "
                "pod reaches vLLM's keyless routes. Set vpcCniOptions.enableNetworkPolicy: true (or the vpc-cni add-on's "
                'configurationValues {{"enableNetworkPolicy": "true"}}).')
ADMITS = ("kubernetes:networking.k8s.io/v1:NetworkPolicy 'router-from-alb' ingress[0] admits {} to the router's serving "
          "port of kubernetes:apps/v1:Deployment 'router', which also serves its unauthenticated admin routes; admit "
          "only the load balancer's own subnets (subnets no node or pod uses).")
UNFENCED = ("kubernetes:apps/v1:Deployment 'router' runs a router whose admin routes have no authentication, and no "
            "NetworkPolicy restricts its ingress: every pod can add or remove its workers.")
PODS = [{"podSelector": {}}]
SHARED = "ipBlock 10.0.64.0/19 (not within the load balancer's own subnets)"
DOCKER_HUB = ("containers[vllm] pulls {} from {}, not from the account's ECR: anonymous upstream pulls through one NAT "
              "address hit rate limits (Docker Hub: 10 an hour) in a crash loop or a scale-out. Pull through an ECR "
              "pull-through cache rule, or list the registry in allowedRegistries.")


def _without_default_deny(s):
    remove(s, NETWORK_POLICY, "llm-default-deny")


SIDE_CASES = [
    # vpc-cni-network-policy-enforced
    ("addon-on-beats-component-off", "compliant", _both(_cluster_cni(False), _addon("cni", {"enableNetworkPolicy": "true"})),
     None, {}),
    ("addon-values-not-json", "compliant", _addon("cni", "{enableNetworkPolicy: true"), None,
     {"vpc-cni-network-policy-enforced": [NOT_ENFORCED.format("aws:eks/addon:Addon 'cni'")]}),
    ("other-addon-ignored", "compliant", _addon("dns", "not json", addon="coredns"), None, {}),
    ("cni-component-off", "compliant", _cni_component(False), None,
     {"vpc-cni-network-policy-enforced": [NOT_ENFORCED.format("eks:index:VpcCniAddon 'cni'")]}),
    ("cni-component-on", "compliant", _both(_cluster_cni(False), _cni_component("true")), None, {}),
    ("cni-component-without-input", "compliant", _cni_component(None), None, {}),
    ("cluster-cni-off", "compliant", _cluster_cni(False), None,
     {"vpc-cni-network-policy-enforced": [NOT_ENFORCED.format("eks:index:Cluster 'gpu'")]}),
    # A plain aws.eks.Cluster without a vpc-cni add-on: EKS's self-managed VPC CNI, which enforces nothing.
    ("plain-eks-cluster", "compliant", lambda s: remove(s, EKS_COMPONENT), None,
     {"vpc-cni-network-policy-enforced": [NOT_ENFORCED.format("aws:eks/cluster:Cluster 'gpu-eksCluster'")]}),
    # router-serving-port-from-alb-only (Kubernetes docs, "Network Policies": a rule without ports admits every port,
    # a port entry without `port` every port of its protocol; no policyTypes means Ingress)
    ("rule-without-ports", "router", _ingress_rule(**{"from": PODS}), None,
     {"router-serving-port-from-alb-only": [ADMITS.format("pods (podSelector/namespaceSelector)")]}),
    ("port-entry-without-port", "router", _ingress_rule(**{"from": PODS, "ports": [{"protocol": "TCP"}]}), None,
     {"router-serving-port-from-alb-only": [ADMITS.format("pods (podSelector/namespaceSelector)")]}),
    # argparse reads `--port=9000` like `--port 9000`: the rule admitting 9000 admits the serving port.
    ("port-flag-with-equals", "router", _both(_put(_router_container, "args", ["--port=9000", "--prometheus-port", "29000"]),
                                              _ingress_rule(**{"from": PODS, "ports": [{"port": 9000.0}]})), None,
     {"router-serving-port-from-alb-only": [ADMITS.format("pods (podSelector/namespaceSelector)")]}),
    ("lb-subnet-holds-node-group", "router", _nodes_share_the_lb_subnet("subnetIds"), None,
     {"router-serving-port-from-alb-only": [ADMITS.format(SHARED)]}),
    ("lb-subnet-holds-cluster-nodes", "router", _nodes_share_the_lb_subnet("privateSubnetIds"), None,
     {"router-serving-port-from-alb-only": [ADMITS.format(SHARED)]}),
    ("lb-subnet-holds-the-eks-cluster", "router", _nodes_share_the_lb_subnet("vpcConfig"), None,
     {"router-serving-port-from-alb-only": [ADMITS.format(SHARED)]}),
    # The engine sends resources in registration order: a load balancer registered before the node group.
    ("lb-registered-first", "router", _both(_nodes_share_the_lb_subnet("subnetIds"), _load_balancer_first), None,
     {"router-serving-port-from-alb-only": [ADMITS.format(SHARED)]}),
    ("ipblock-not-a-network", "router", _ingress_rule(**{"from": [{"ipBlock": {"cidr": "alb"}}]}), None,
     {"router-serving-port-from-alb-only": [ADMITS.format("ipBlock alb")]}),
    ("ipblock-wider-than-lb-subnet", "router", _ingress_rule(**{"from": [{"ipBlock": {"cidr": "10.0.255.0/24"}}]}), None,
     {"router-serving-port-from-alb-only": [ADMITS.format(
         "ipBlock 10.0.255.0/24 (not within the load balancer's own subnets)")]}),
    ("ipv6-block", "router", _ingress_rule(**{"from": [{"ipBlock": {"cidr": "fd00::/64"}}]}), None,
     {"router-serving-port-from-alb-only": [ADMITS.format(
         "ipBlock fd00::/64 (not within the load balancer's own subnets)")]}),
    ("no-policy-selects-router", "router", _both(_without_default_deny, _put(
        lambda s: _fence(s)["spec"], "podSelector", {"matchLabels": {"app": "other"}})), None,
     {"router-serving-port-from-alb-only": [UNFENCED]}),
    ("egress-only-policy", "router", _both(_without_default_deny, _put(
        lambda s: _fence(s)["spec"], "policyTypes", ["Egress"]), _ingress_rule(**{"from": PODS})), None,
     {"router-serving-port-from-alb-only": [UNFENCED]}),
    ("no-policy-types-means-ingress", "router", _both(_without_default_deny, _put(
        lambda s: _fence(s)["spec"], "policyTypes", []), _ingress_rule(**{"from": PODS})), None,
     {"router-serving-port-from-alb-only": [ADMITS.format("pods (podSelector/namespaceSelector)")]}),
    ("policy-in-other-namespace", "router", _both(_without_default_deny, _put(
        lambda s: _fence(s)["metadata"], "namespace", "other")), None,
     {"router-serving-port-from-alb-only": [UNFENCED]}),
    # The load balancer in an existing VPC's subnets (ids of no subnet here): an ipBlock is judged where that VPC is.
    ("external-lb-subnets", "router", _put(lambda s: find(s, "aws:lb/loadBalancer:LoadBalancer", "edge-alb")["props"],
                                           "subnets", ["subnet-0a1b2c3d4e5f60001"]), None, {}),
    ("external-lb-subnets-pods", "router", _both(_put(
        lambda s: find(s, "aws:lb/loadBalancer:LoadBalancer", "edge-alb")["props"], "subnets",
        ["subnet-0a1b2c3d4e5f60001"]), _ingress_rule(**{"from": PODS + LB_PEERS[:1]})), None,
     {"router-serving-port-from-alb-only": [ADMITS.format("pods (podSelector/namespaceSelector)")]}),
    # router-health-check-process-only (vllm-router 0.1.17, ../shared/FACTS.md: /health is 503 once any worker is)
    ("router-readiness-on-health", "router", _put(lambda s: _router_container(s)["readinessProbe"]["httpGet"], "path",
                                                  "/health"), None,
     {"router-health-check-process-only": [
         "kubernetes:apps/v1:Deployment 'router' containers[router] readinessProbe asks for /health, which fails as "
         "soon as any one worker is unhealthy; use the router's own /liveness."]}),
    ("target-group-on-health", "router", _health_path("/health"), None, {"router-health-check-process-only": [
        "aws:lb/targetGroup:TargetGroup 'edge-qwen3-8b' checks the router of kubernetes:apps/v1:Deployment 'router' on "
        "/health, which fails as soon as any one worker is unhealthy and would take every router of the model out of "
        "the target group; check /liveness."]}),
    ("target-group-on-own-forbidden-path", "router", _health_path("/liveness"),
     {"router-health-check-process-only": {"forbiddenPaths": ["/liveness"]}}, {"router-health-check-process-only": [
         "kubernetes:apps/v1:Deployment 'router' containers[router] livenessProbe asks for /liveness, which fails as "
         "soon as any one worker is unhealthy; use the router's own /liveness.",
         "kubernetes:apps/v1:Deployment 'router' containers[router] readinessProbe asks for /liveness, which fails as "
         "soon as any one worker is unhealthy; use the router's own /liveness.",
         "aws:lb/targetGroup:TargetGroup 'edge-qwen3-8b' checks the router of kubernetes:apps/v1:Deployment 'router' on "
         "/liveness, which fails as soon as any one worker is unhealthy and would take every router of the model out "
         "of the target group; check /liveness."]}),
    # Its namespace unknown, but the binding's target group (linked by the engine) checks an allowed path: no verdict
    # waits on it.
    ("binding-namespace-unknown-allowed-path", "router", _put(lambda s: _binding(s)["props"]["metadata"], "namespace"),
     None, {}),
    # An empty selector selects no pod (Kubernetes Service spec.selector: none means endpoints are managed elsewhere).
    ("service-selects-nothing", "router", _both(_health_path("/health"), _put(_service, "spec", {
        "selector": {}, "ports": [{"port": 8000.0, "targetPort": "http"}]})), None, {}),
    # The binding's Service name is unknown on a first preview, but the engine's dependency names the Service.
    ("binding-bound-by-dependency", "router", _both(_health_path("/health"), _put(
        lambda s: _binding(s)["props"]["spec"]["serviceRef"], "name"), lambda s: _binding(s)["propertyDependencies"][
        "spec"].append(find(s, "kubernetes:core/v1:Service", "router-service")["urn"])), None,
     {"router-health-check-process-only": [
         "aws:lb/targetGroup:TargetGroup 'edge-qwen3-8b' checks the router of kubernetes:apps/v1:Deployment 'router' on "
         "/health, which fails as soon as any one worker is unhealthy and would take every router of the model out of "
         "the target group; check /liveness."]}),
    ("service-in-other-namespace", "router", _both(_health_path("/health"), _put(
        lambda s: _service(s)["metadata"], "namespace", "other")), None, {}),
    # volume-claims-name-a-stack-storage-class (AWS, "Amazon EKS Kubernetes versions" 1.30: no default StorageClass)
    ("pvc-without-class-no-classes", "compliant", _pvc(), None, {"volume-claims-name-a-stack-storage-class": [
        "kubernetes:core/v1:PersistentVolumeClaim 'data' spec names no storageClassName: no class is default on EKS "
        "(1.30 and later), so the claim stays Pending. Name a StorageClass the stack creates."]}),
    ("pvc-without-class", "compliant", _both(_storage_class(), _pvc()), None, {"volume-claims-name-a-stack-storage-class": [
        "kubernetes:core/v1:PersistentVolumeClaim 'data' spec names no storageClassName: no class is default on EKS "
        "(1.30 and later), so the claim stays Pending. Name a StorageClass the stack creates (gp3)."]}),
    ("pvc-other-class", "compliant", _both(_storage_class(), _pvc("gp2")), None, {"volume-claims-name-a-stack-storage-class": [
        "kubernetes:core/v1:PersistentVolumeClaim 'data' spec names storageClassName 'gp2', which the stack does not "
        "create (it creates: gp3); the claim would stay Pending."]}),
    ("pvc-class-none-created", "compliant", _pvc("gp2"), None, {"volume-claims-name-a-stack-storage-class": [
        "kubernetes:core/v1:PersistentVolumeClaim 'data' spec names storageClassName 'gp2', which the stack does not "
        "create (it creates: none); the claim would stay Pending."]}),
    ("pvc-stack-class", "compliant", _both(_storage_class(), _pvc("gp3")), None, {}),
    ("stateful-set-template-without-class", "compliant", _both(_storage_class(), _claim(STATEFUL_SET, "db", {
        "metadata": {"name": "db", "namespace": "llm"}, "spec": {"volumeClaimTemplates": [
            {"spec": {"storageClassName": "gp3"}}, {"spec": {"accessModes": ["ReadWriteOnce"]}}]}})), None,
     {"volume-claims-name-a-stack-storage-class": [
         "kubernetes:apps/v1:StatefulSet 'db' spec.volumeClaimTemplates[1] names no storageClassName: no class is "
         "default on EKS (1.30 and later), so the claim stays Pending. Name a StorageClass the stack creates (gp3)."]}),
    # kube-prometheus-stack values: prometheus.prometheusSpec.storageSpec.volumeClaimTemplate (one template, no index)
    ("helm-values-template", "compliant", _both(_storage_class(), _claim("kubernetes:helm.sh/v3:Release", "monitoring", {
        "values": {"prometheus": {"prometheusSpec": {"storageSpec": {"volumeClaimTemplate": {"spec": {
            "storageClassName": "standard"}}}}}}})), None, {"volume-claims-name-a-stack-storage-class": [
        "kubernetes:helm.sh/v3:Release 'monitoring' values.prometheus.prometheusSpec.storageSpec.volumeClaimTemplate "
        "names storageClassName 'standard', which the stack does not create (it creates: gp3); the claim would stay "
        "Pending."]}),
    ("existing-cluster-class", "compliant", _both(_existing_cluster, _pvc("gp2")), None, {}),
    # images-from-private-registry (AWS, "Amazon ECR private registry": <account>.dkr.ecr[-fips].<region>.amazonaws.com
    # [.cn]; Docker's reference rules: a first segment without a dot, colon or localhost is a Docker Hub path)
    ("docker-hub-image", "compliant", _put(_vllm_container, "image", "vllm/vllm-openai:v0.32.0"), None,
     {"images-from-private-registry": [DOCKER_HUB.format("vllm/vllm-openai:v0.32.0", "docker.io")]}),
    ("public-ecr-image", "compliant", _put(_vllm_container, "image", "public.ecr.aws/vllm/vllm-openai:v0.32.0"), None,
     {"images-from-private-registry": [DOCKER_HUB.format("public.ecr.aws/vllm/vllm-openai:v0.32.0", "public.ecr.aws")]}),
    ("registry-with-port", "compliant", _put(_vllm_container, "image", "mirror:5000/vllm:1"),
     {"images-from-private-registry": {"allowedRegistries": ["mirror:5000"]}}, {}),
    ("localhost-registry", "compliant", _put(_vllm_container, "image", "localhost/vllm:1"), None,
     {"images-from-private-registry": [DOCKER_HUB.format("localhost/vllm:1", "localhost")]}),
    ("fips-ecr-in-china", "compliant", _put(_vllm_container, "image",
                                            "123456789012.dkr.ecr-fips.cn-north-1.amazonaws.com.cn/vllm:1"), None, {}),
    ("other-account-lookalike", "compliant", _put(_vllm_container, "image",
                                                  "12345678901.dkr.ecr.us-east-1.amazonaws.com/vllm:1"), None,
     {"images-from-private-registry": [DOCKER_HUB.format("12345678901.dkr.ecr.us-east-1.amazonaws.com/vllm:1",
                                                         "12345678901.dkr.ecr.us-east-1.amazonaws.com")]}),
    ("init-container-docker-hub", "compliant", _put(
        lambda s: find(s, DEPLOYMENT)["props"]["spec"]["template"]["spec"]["initContainers"][0], "image", "busybox:1.37.0"),
     None, {"images-from-private-registry": [DOCKER_HUB.replace("containers[vllm]", "initContainers[wait]").format(
         "busybox:1.37.0", "docker.io")]}),
    ("ephemeral-container-docker-hub", "compliant", _put(
        lambda s: find(s, DEPLOYMENT)["props"]["spec"]["template"]["spec"], "ephemeralContainers",
        [{"name": "debug", "image": "busybox:1.37.0"}]),
     None, {"images-from-private-registry": [DOCKER_HUB.replace("containers[vllm]", "ephemeralContainers[debug]").format(
         "busybox:1.37.0", "docker.io")]}),
    ("exempt-namespace", "compliant", _both(
        _put(_vllm_container, "image", "vllm/vllm-openai:v0.32.0"),
        _put(lambda s: find(s, DEPLOYMENT)["props"]["metadata"], "namespace", "kube-system")), None, {}),
    ("own-exempt-namespaces", "compliant", _put(_vllm_container, "image", "vllm/vllm-openai:v0.32.0"),
     {"images-from-private-registry": {"exemptNamespaces": ["llm"]}}, {}),
]


@pytest.mark.parametrize("base, mutation, config, expected", [c[1:] for c in SIDE_CASES], ids=[c[0] for c in SIDE_CASES])
def test_each_side_branch_fires_with_its_message_or_stays_quiet(pack, base, mutation, config, expected):
    result = _checked(pack, ROUTER if base == "router" else compliant_stack(), mutation, config)
    assert fired_messages(result, POLICIES) == {policy: sorted(messages) for policy, messages in expected.items()}


def test_a_class_of_an_existing_cluster_is_judged_where_that_cluster_is(pack):
    """On a cluster the stack does not create, its StorageClasses are another program's: "not applicable" here."""
    result = _checked(pack, compliant_stack(), _both(_existing_cluster, _pvc("gp2")))
    assert [i["reason"] for i in result.not_applicable if i["policy"] == "volume-claims-name-a-stack-storage-class"] == [
        "not in this stack, judge it where it is created: StorageClass 'gp2' of the existing cluster "
        "(kubernetes:core/v1:PersistentVolumeClaim 'data' spec)"]


def test_an_existing_vpcs_load_balancer_subnets_leave_ip_blocks_to_that_vpc(pack):
    """The ipBlocks of a router's fence are judged where the existing VPC's subnets are made: "not applicable" here,
    naming each block."""
    result = _checked(pack, ROUTER, _put(lambda s: find(s, "aws:lb/loadBalancer:LoadBalancer", "edge-alb")["props"],
                                         "subnets", ["subnet-0a1b2c3d4e5f60001"]))
    assert [i["reason"] for i in result.not_applicable if i["policy"] == "router-serving-port-from-alb-only"] == [
        "not in this stack, judge it where it is created: " + ", ".join(
            f"kubernetes:networking.k8s.io/v1:NetworkPolicy 'router-from-alb' ingress[0] ipBlock {cidr} against the "
            "existing VPC's load-balancer subnets" for cidr in ("10.0.255.192/27", "10.0.255.224/27"))]
