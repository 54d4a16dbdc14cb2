"""Cluster-level policies (policies/security_cluster.py, policies/reliability_cluster.py) through the Analyzer
gRPC protocol: each quiet on the compliant stack and on the rendered stacks, and firing on a made-to-fail one."""

from __future__ import annotations

import copy
import json

import pytest

from preflight.remote_components import offline_only_snapshot

from .snapshots import ECR, UNKNOWN, add, find, mutated, resource

EKS_COMPONENT = "eks:index:Cluster"
POLICY_NAMES = {"vpc-cni-network-policy-enforced", "router-serving-port-from-alb-only", "router-health-check-process-only",
                "volume-claims-name-a-stack-storage-class", "images-from-private-registry"}


def _fired(check, snapshot, policy, policy_config=None) -> list[str]:
    return [v.message for v in check(snapshot, policy_config).by_policy(policy)]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_rendered_stacks_are_quiet(check, dev_snapshot, prod_snapshot, stack):
    snapshot = dev_snapshot if stack == "dev" else prod_snapshot
    fired = [(v.policy_name, v.message) for v in check(snapshot).violations if v.policy_name in POLICY_NAMES]
    assert fired == []


# --- vpc-cni-network-policy-enforced ------------------------------------------------------------------------------


def test_cluster_with_vpc_cni_options_but_no_enforcement_fires(check):
    """pulumi-eks nodejs/eks/addons/cni-addon.ts (mergeConfigurationValues) writes enableNetworkPolicy only when
    vpcCniOptions sets it; AWS "Limit Pod traffic with Kubernetes network policies": enforcement is opt-in."""
    snapshot = mutated(lambda s: find(s, EKS_COMPONENT)["props"].update({"vpcCniOptions": {"warmIpTarget": 5}}))
    [message] = _fired(check, snapshot, "vpc-cni-network-policy-enforced")
    assert "enableNetworkPolicy" in message and "'gpu'" in message


def test_remote_cluster_without_inputs_is_not_failed(check):
    """A real `pulumi preview` shows an eks:index:Cluster with {} (policies/README, unknowns contract item 3): an
    absent vpcCniOptions is judged by the offline pass with pulumi-eks' default, not failed here."""
    snapshot = mutated(lambda s: find(s, EKS_COMPONENT)["props"].pop("vpcCniOptions"))
    assert not _fired(check, snapshot, "vpc-cni-network-policy-enforced")


def test_offline_pass_reads_absent_vpc_cni_options_as_not_enforced(check):
    """preflight/remote_components.py fills pulumi-eks' default for an input the program left out: no
    vpcCniOptions means a VpcCniAddon without enableNetworkPolicy (pulumi-eks nodejs/eks/addons/cni-addon.ts)."""
    def remote(s):
        cluster = find(s, EKS_COMPONENT)
        inputs = dict(cluster["props"])
        inputs.pop("vpcCniOptions")
        cluster.update({"remote": True, "offlineOnlyProgramInputs": inputs, "props": {}})
    offline = offline_only_snapshot(mutated(remote))
    assert offline is not None
    assert _fired(check, offline, "vpc-cni-network-policy-enforced")


@pytest.mark.parametrize("inputs, fires", [
    ({"skipDefaultNodeGroup": False}, True),  # pulumi-eks: nodeAssociatePublicIpAddress ?? true
    ({"skipDefaultNodeGroup": False, "nodeAssociatePublicIpAddress": False}, False),
    ({"skipDefaultNodeGroup": True}, False),  # no default node group, nothing to give an address
])
def test_offline_pass_reads_an_absent_node_public_ip_flag_as_pulumi_eks_default(check, inputs, fires):
    """pulumi-eks nodejs/eks/nodes/nodegroup.ts: the default node group's `nodeAssociatePublicIpAddress` defaults to
    true, so a program that keeps the default node group and says nothing gives its nodes public addresses."""
    def remote(s):
        cluster = find(s, EKS_COMPONENT)
        program_inputs = {k: v for k, v in cluster["props"].items() if k not in ("skipDefaultNodeGroup",)} | inputs
        cluster.update({"remote": True, "offlineOnlyProgramInputs": program_inputs, "props": {}})
    offline = offline_only_snapshot(mutated(remote))
    assert offline is not None
    fired = [v.message.splitlines()[-1] for v in check(offline).by_policy("no-public-node-ips")]
    assert fired == (["nodeAssociatePublicIpAddress is true; set it to false (or skipDefaultNodeGroup: true) so worker "
                      "nodes get no public IPs."] if fires else [])


def test_cluster_with_enforcement_explicitly_off_fires(check):
    snapshot = mutated(lambda s: find(s, EKS_COMPONENT)["props"].update({"vpcCniOptions": {"enableNetworkPolicy": False}}))
    assert _fired(check, snapshot, "vpc-cni-network-policy-enforced")


def test_vpc_cni_addon_configuration_counts_as_enforcement(check):
    """EKS add-on configuration schema for vpc-cni (describe-addon-configuration): `enableNetworkPolicy` is the
    string "true"/"false"."""
    def addon(s, value):
        find(s, EKS_COMPONENT)["props"].pop("vpcCniOptions")
        add(s, resource("aws:eks/addon:Addon", "gpu-vpc-cni", {
            "clusterName": "gpu", "addonName": "vpc-cni", "configurationValues": json.dumps({"enableNetworkPolicy": value})}))
    assert not _fired(check, mutated(lambda s: addon(s, "true")), "vpc-cni-network-policy-enforced")
    assert _fired(check, mutated(lambda s: addon(s, "false")), "vpc-cni-network-policy-enforced")


def test_unknown_enforcement_is_not_judged(check):
    snapshot = mutated(lambda s: find(s, EKS_COMPONENT)["props"].update({"vpcCniOptions": {"enableNetworkPolicy": UNKNOWN}}))
    assert not _fired(check, snapshot, "vpc-cni-network-policy-enforced")


# --- router-serving-port-from-alb-only ---------------------------------------------------------------------------

ROUTER_LABELS = {"app.kubernetes.io/name": "vllm-router", "app.kubernetes.io/instance": "qwen3-8b"}


def _router_stack(request_peers: list, *, alb_subnets=("net-lb-a-id", "net-lb-b-id"), with_policy=True) -> dict:
    """The compliant stack plus a router, its NetworkPolicy and an internal ALB in two /27 subnets of its own."""
    def build(s):
        for index, zone in enumerate("ab"):
            add(s, resource("aws:ec2/subnet:Subnet", f"net-lb-{zone}", {
                "vpcId": UNKNOWN, "cidrBlock": f"10.0.255.{192 + 32 * index}/27", "availabilityZone": f"us-east-1{zone}",
                "mapPublicIpOnLaunch": False}))
        add(s, resource("aws:lb/loadBalancer:LoadBalancer", "edge-alb", {
            "internal": True, "loadBalancerType": "application", "subnets": list(alb_subnets)}))
        add(s, resource("kubernetes:apps/v1:Deployment", "router", {
            "metadata": {"name": "vllm-router", "namespace": "llm"},
            "spec": {"selector": {"matchLabels": ROUTER_LABELS}, "template": {
                "metadata": {"labels": ROUTER_LABELS},
                "spec": {"securityContext": {"runAsNonRoot": True}, "containers": [{
                    "name": "router", "image": ECR + "/docker-hub/vllm/vllm-router:v0.1.17@sha256:" + "c" * 64,
                    "command": ["vllm-router"], "args": ["--port", "8000", "--prometheus-port", "29000"],
                    "ports": [{"name": "http", "containerPort": 8000.0}, {"name": "metrics", "containerPort": 29000.0}],
                    "livenessProbe": {"httpGet": {"path": "/liveness", "port": "http"}},
                    "readinessProbe": {"httpGet": {"path": "/liveness", "port": "http"}},
                    "securityContext": {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False}}]}}}}))
        group = resource("aws:lb/targetGroup:TargetGroup", "edge-qwen3-8b", {
            "port": 8000.0, "protocol": "HTTP", "targetType": "ip", "healthCheck": {"path": "/liveness", "matcher": "200"}})
        add(s, group, resource("kubernetes:core/v1:Service", "router-service", {
            "metadata": {"name": "vllm-router", "namespace": "llm"},
            "spec": {"selector": ROUTER_LABELS, "ports": [{"port": 8000.0, "targetPort": "http"}]}}))
        add(s, resource("kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding", "router-binding", {
            "metadata": {"name": "vllm-router", "namespace": "llm"},
            "spec": {"serviceRef": {"name": "vllm-router", "port": 8000.0}, "targetType": "ip",
                     "targetGroupARN": UNKNOWN}}, property_dependencies={"spec": [group["urn"]]}))
        if with_policy:
            add(s, resource("kubernetes:networking.k8s.io/v1:NetworkPolicy", "router-from-alb", {
                "metadata": {"name": "router-from-alb", "namespace": "llm"},
                "spec": {"podSelector": {"matchLabels": ROUTER_LABELS}, "policyTypes": ["Ingress", "Egress"],
                         "ingress": [{"from": request_peers, "ports": [{"protocol": "TCP", "port": 8000.0}]},
                                     {"from": [{"podSelector": {"matchLabels": {"app": "prometheus"}}}],
                                      "ports": [{"protocol": "TCP", "port": 29000.0}]}]}}))
    return mutated(build)


LB_PEERS = [{"ipBlock": {"cidr": "10.0.255.192/27"}}, {"ipBlock": {"cidr": "10.0.255.224/27"}}]


def test_router_admitting_only_the_load_balancer_subnets_is_quiet(check):
    assert _fired(check, _router_stack(LB_PEERS), "router-serving-port-from-alb-only") == []


@pytest.mark.parametrize("peers,expected", [
    ([{"ipBlock": {"cidr": "10.0.0.0/19"}}], "10.0.0.0/19"),  # the node subnet: every pod in it
    ([{"podSelector": {}}], "pods"),
    ([], "every source"),
])
def test_router_admitting_pod_addresses_fires(check, peers, expected):
    """vllm-router 0.1.17: POST /add_worker, /remove_worker, /list_workers answer without authentication on the
    serving port (measured, ../shared/FACTS.md "vLLM router"); VPC CNI pods take node-subnet addresses."""
    [message] = _fired(check, _router_stack(peers), "router-serving-port-from-alb-only")
    assert expected in message and "admin routes" in message


@pytest.mark.parametrize("ports,fires", [
    ([{"protocol": "TCP", "port": 7000.0, "endPort": 9000.0}], True),  # a range around the serving port
    ([{"protocol": "TCP", "port": 8000.0, "endPort": 8000.0}], True),
    ([{"protocol": "TCP", "port": 8001.0, "endPort": 9000.0}], False),  # a range above it
    ([{"protocol": "TCP", "port": 7000.0}], False),  # one other port
    ([{"protocol": "TCP", "port": "http"}], True),  # the container port's name
])
def test_a_rule_admits_the_serving_port_by_number_range_or_name(check, ports, fires):
    """Kubernetes docs "Network Policies", "Targeting a range of ports": `endPort` makes `port` the first of a range
    (both inclusive); without it the rule admits that one port; a named port means the container port of that name."""
    snapshot = _router_stack([{"podSelector": {}}])
    find(snapshot, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "router-from-alb")["props"]["spec"][
        "ingress"][0]["ports"] = ports
    assert len(_fired(check, snapshot, "router-serving-port-from-alb-only")) == int(fires)


def test_load_balancer_in_the_node_subnets_fires(check):
    """The defect of issue 14: the internal ALB sat in the node subnets, so "the ALB's subnets" were every pod's."""
    snapshot = _router_stack([{"ipBlock": {"cidr": "10.0.0.0/19"}}, {"ipBlock": {"cidr": "10.0.32.0/19"}}],
                             alb_subnets=("net-private-a-id", "net-private-b-id"))
    assert len(_fired(check, snapshot, "router-serving-port-from-alb-only")) == 2


@pytest.mark.parametrize("by", ["image", "command"])
def test_a_router_is_known_by_its_image_or_by_its_command(check, by):
    """The image's last path segment (any registry, tag or digest) or the command names vllm-router: either is enough."""
    snapshot = _router_stack([{"podSelector": {}}])
    router = _router(snapshot)
    if by == "image":
        router.pop("command")
    else:
        router["image"] = ECR + "/team/gateway:1.0@sha256:" + "d" * 64
        router["command"] = ["/usr/local/bin/vllm-router"]
    assert len(_fired(check, snapshot, "router-serving-port-from-alb-only")) == 1


def test_router_without_any_ingress_policy_fires(check):
    """With no NetworkPolicy selecting the router (not even the namespace's default deny), every pod reaches it:
    Kubernetes admits all ingress to a pod no policy selects (Kubernetes docs, "Network Policies", isolation)."""
    snapshot = _router_stack([], with_policy=False)
    snapshot["resources"] = [r for r in snapshot["resources"] if r["name"] != "llm-default-deny"]
    [message] = _fired(check, snapshot, "router-serving-port-from-alb-only")
    assert "no NetworkPolicy restricts its ingress" in message


# --- router-health-check-process-only ----------------------------------------------------------------------------

def _router(s):
    return find(s, "kubernetes:apps/v1:Deployment", "router")["props"]["spec"]["template"]["spec"]["containers"][0]


def test_router_checked_on_liveness_is_quiet(check):
    assert _fired(check, _router_stack(LB_PEERS), "router-health-check-process-only") == []


@pytest.mark.parametrize("probe", ["livenessProbe", "readinessProbe"])
def test_router_probe_on_health_fires(check, probe):
    """vllm-router 0.1.17, measured (../shared/FACTS.md "vLLM router"): /health 200 -> 503 with one of two workers
    killed, /liveness stayed 200; a probe on /health restarts every router of the model for one bad replica."""
    snapshot = _router_stack(LB_PEERS)
    _router(snapshot)[probe]["httpGet"]["path"] = "/health"
    [message] = _fired(check, snapshot, "router-health-check-process-only")
    assert probe in message and "/liveness" in message


def test_target_group_of_the_router_checked_on_health_fires(check):
    """Same measurement: an ALB check on /health drains every router target of the model at once."""
    snapshot = _router_stack(LB_PEERS)
    find(snapshot, "aws:lb/targetGroup:TargetGroup", "edge-qwen3-8b")["props"]["healthCheck"]["path"] = "/health"
    [message] = _fired(check, snapshot, "router-health-check-process-only")
    assert "edge-qwen3-8b" in message


def test_unrelated_target_group_on_health_is_quiet(check):
    def other(s):
        add(s, resource("aws:lb/targetGroup:TargetGroup", "other", {"port": 80.0, "healthCheck": {"path": "/health"}}))
    snapshot = mutated(other, _router_stack(LB_PEERS))
    assert _fired(check, snapshot, "router-health-check-process-only") == []


# --- volume-claims-name-a-stack-storage-class --------------------------------------------------------------------

STORAGE_CLASS = resource("kubernetes:storage.k8s.io/v1:StorageClass", "storage-gp3", {
    "metadata": {"name": "gp3-encrypted"}, "provisioner": "ebs.csi.aws.com", "volumeBindingMode": "WaitForFirstConsumer",
    "parameters": {"type": "gp3", "encrypted": "true"}})


def _prometheus_release(claim_spec: dict) -> dict:
    return resource("kubernetes:helm.sh/v3:Release", "kube-prometheus-stack", {
        "chart": "kube-prometheus-stack", "namespace": "monitoring", "values": {"prometheus": {"prometheusSpec": {
            "storageSpec": {"volumeClaimTemplate": {"spec": claim_spec}}}}}})


CLAIM = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "50Gi"}}}


def test_claim_naming_the_stack_class_is_quiet(check):
    snapshot = mutated(lambda s: add(s, STORAGE_CLASS, _prometheus_release({**CLAIM, "storageClassName": "gp3-encrypted"})))
    assert _fired(check, snapshot, "volume-claims-name-a-stack-storage-class") == []


def test_helm_claim_template_without_a_class_fires(check):
    """AWS, "Amazon EKS Kubernetes versions" (1.30): gp2 is no longer the default StorageClass; a claim naming none
    stays Pending (Kubernetes, "Persistent Volumes": no default class, no dynamic provisioning)."""
    snapshot = mutated(lambda s: add(s, STORAGE_CLASS, _prometheus_release(CLAIM)))
    [message] = _fired(check, snapshot, "volume-claims-name-a-stack-storage-class")
    assert "prometheus.prometheusSpec.storageSpec.volumeClaimTemplate" in message and "gp3-encrypted" in message


@pytest.mark.parametrize("claim", [
    resource("kubernetes:core/v1:PersistentVolumeClaim", "data", {"metadata": {"name": "data"}, "spec": {**CLAIM, "storageClassName": "gp2"}}),
    resource("kubernetes:apps/v1:StatefulSet", "db", {"metadata": {"name": "db"}, "spec": {
        "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {**CLAIM, "storageClassName": "gp2"}}]}}),
    resource("kubernetes:helm.sh/v3:Release", "shards", {"chart": "some-db", "namespace": "db", "values": {"shards": [
        {"name": "a", "volumeClaimTemplate": {"spec": {**CLAIM, "storageClassName": "gp2"}}}]}}),
], ids=["pvc", "statefulset", "helm-values-list"])
def test_claim_naming_a_class_nobody_creates_fires(check, claim):
    snapshot = mutated(lambda s: add(s, STORAGE_CLASS, copy.deepcopy(claim)))
    [message] = _fired(check, snapshot, "volume-claims-name-a-stack-storage-class")
    assert "'gp2'" in message


# --- images-from-private-registry ---------------------------------------------------------------------------------

def _set_vllm_image(image: str):
    def mutate(s):
        find(s, "kubernetes:apps/v1:Deployment")["props"]["spec"]["template"]["spec"]["containers"][0]["image"] = image
    return mutated(mutate)


@pytest.mark.parametrize("image", [
    "vllm/vllm-openai:v0.32.0@sha256:" + "b" * 64,  # Docker Hub, implicitly
    "docker.io/vllm/vllm-openai:v0.32.0",
    "public.ecr.aws/aws-cli/aws-cli:2.27.9",
    "111122223333.dkr.ecr.us-east-1.amazonaws.com.evil.example/vllm:1",
])
def test_image_from_outside_the_account_registry_fires(check, image):
    """Docker, "Docker Hub usage and limits": 10 anonymous pulls an hour per IPv4 address, and all nodes share the
    NAT's; ECR pull-through cache (AWS, "Sync an upstream registry with an Amazon ECR private registry") avoids it."""
    [message] = _fired(check, _set_vllm_image(image), "images-from-private-registry")
    assert image in message


def test_allowed_registry_and_exempt_namespace_are_quiet(check):
    snapshot = _set_vllm_image("mirror.example.com/vllm/vllm-openai:v0.32.0")
    assert _fired(check, snapshot, "images-from-private-registry")
    assert not _fired(check, snapshot, "images-from-private-registry",
                      {"images-from-private-registry": {"allowedRegistries": ["mirror.example.com"]}})
    def system(s):
        add(s, resource("kubernetes:apps/v1:DaemonSet", "agent", {"metadata": {"namespace": "kube-system"},
            "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "nvcr.io/nvidia/agent:1"}]}}}}))
    assert not _fired(check, mutated(system), "images-from-private-registry")


# Docker's reference rules (distribution/reference, normalize.go): the first path segment is a registry host only if
# it holds a '.' or a ':' (a port) or is 'localhost'; otherwise the image is on Docker Hub.
@pytest.mark.parametrize("image, registry", [
    ("mirror.example.com/vllm/vllm-openai:v0.32.0", "mirror.example.com"),
    ("registry:5000/vllm/vllm-openai:v0.32.0", "registry:5000"),
    ("localhost/vllm/vllm-openai:v0.32.0", "localhost"),
    ("vllmproject/vllm-openai:v0.32.0", "docker.io"),
    ("vllm-openai:v0.32.0", "docker.io"),
])
def test_the_registry_of_an_image_follows_dockers_rules(check, image, registry):
    [message] = _fired(check, _set_vllm_image(image), "images-from-private-registry")
    assert f"pulls {image} from {registry}," in message
    allowed = {"images-from-private-registry": {"allowedRegistries": [registry]}}
    assert not _fired(check, _set_vllm_image(image), "images-from-private-registry", allowed)


def test_init_container_from_docker_hub_fires(check):
    def mutate(s):
        find(s, "kubernetes:apps/v1:Deployment")["props"]["spec"]["template"]["spec"]["initContainers"][0]["image"] = "busybox:1.37.0"
    [message] = _fired(check, mutated(mutate), "images-from-private-registry")
    assert "initContainers[wait]" in message and "docker.io" in message
