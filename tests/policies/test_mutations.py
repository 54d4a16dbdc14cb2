"""Mutation tests on the rendered prod stack: break one promise, the matching policy must catch it.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from preflight.render import render_stack

ROOT = Path(__file__).resolve().parents[2]

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
NODE_SUBNET_TAGS = ("kubernetes.io/role/internal-elb", "karpenter.sh/discovery")


@pytest.fixture(scope="module")
def prod_snapshot():
    return render_stack("prod")


@pytest.fixture(scope="module")
def prod_result(pack, prod_snapshot):
    return pack.check(prod_snapshot)


def _require(found, what: str):
    """A mutation needs its target in the rendered prod stack; a missing target is a failure, never a pass."""
    assert found, f"the rendered prod stack has no {what} to mutate"
    return found


# ---------------------------------------------------------------------------------------------------------------
# Generic helpers: no knowledge of the project's components, only of what the snapshot holds
# ---------------------------------------------------------------------------------------------------------------

def _of_type(snapshot, *types):
    return [r for r in snapshot["resources"] if r["type"] in types]


def _remove(snapshot, *types):
    _require(_of_type(snapshot, *types), " / ".join(types))
    snapshot["resources"] = [r for r in snapshot["resources"] if r["type"] not in types]


def _vllm_containers(snapshot):
    found = []
    for deployment in _of_type(snapshot, DEPLOYMENT):
        template = deployment["props"].get("spec", {}).get("template", {})
        labels = template.get("metadata", {}).get("labels", {}) or {}
        for container in template.get("spec", {}).get("containers", []) or []:
            image = str(container.get("image", ""))
            text = " ".join(str(x) for x in (container.get("command") or []) + (container.get("args") or []))
            if labels.get("app.kubernetes.io/name") == "vllm" or "vllm-openai" in image or "vllm/vllm" in image \
                    or "vllm.entrypoints.openai.api_server" in text:
                found.append(container)
    return _require(found, "vLLM Deployment")


def _set_flag(container, flag, value):
    args = container.setdefault("args", [])
    for index, token in enumerate(args):
        if token == flag:
            args[index + 1] = value
            return
        if token.startswith(flag + "="):
            args[index] = f"{flag}={value}"
            return
    args += [flag, value]


def _documents(snapshot):
    """(holder dict, key) of every IAM policy document in the snapshot, JSON strings or dicts."""
    for r in snapshot["resources"]:
        props = r["props"]
        if r["type"] in ("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy") and "policy" in props:
            yield props, "policy"
        if r["type"] == "aws:iam/role:Role":
            for inline in props.get("inlinePolicies") or []:
                if isinstance(inline, dict) and "policy" in inline:
                    yield inline, "policy"


# ---------------------------------------------------------------------------------------------------------------
# Mutations
# ---------------------------------------------------------------------------------------------------------------

def public_endpoint(s):
    changed = False
    for cluster in _of_type(s, "eks:index:Cluster"):
        cluster["props"].update({"endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]})
        changed = True
    for cluster in _of_type(s, "aws:eks/cluster:Cluster"):
        cluster["props"].setdefault("vpcConfig", {}).update(
            {"endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]})
        changed = True
    _require(changed, "EKS cluster (eks:index:Cluster or aws:eks/cluster:Cluster)")


def startup_probe_60s(s):
    for container in _vllm_containers(s):
        probe = container.setdefault("startupProbe", {"httpGet": {"path": "/health", "port": 8000}})
        probe.update({"failureThreshold": 6, "periodSeconds": 10})


def pdb_removed(s):
    _remove(s, "kubernetes:policy/v1:PodDisruptionBudget")


def s3_star_on_read_role(s):
    changed = False
    for holder, key in list(_documents(s)):
        document = json.loads(holder[key]) if isinstance(holder[key], str) else holder[key]
        for statement in document.get("Statement", []):
            actions = statement.get("Action")
            actions = [actions] if isinstance(actions, str) else (actions or [])
            if statement.get("Effect") == "Allow" and "s3:GetObject" in actions:
                statement["Action"] = ["s3:*"]
                changed = True
        holder[key] = json.dumps(document) if isinstance(holder[key], str) else document
    _require(changed, "IAM policy granting s3:GetObject")


def tp_not_gpus(s):
    for container in _vllm_containers(s):
        gpus = float((container.get("resources", {}).get("limits", {}) or {}).get("nvidia.com/gpu", 1))
        _set_flag(container, "--tensor-parallel-size", str(int(gpus) + 1))


def latest_tag(s):
    for container in _vllm_containers(s):
        repository = str(container["image"]).split("@")[0].rsplit(":", 1)[0]
        container["image"] = f"{repository}:latest"


def scaled_object_removed(s):
    _remove(s, "kubernetes:keda.sh/v1alpha1:ScaledObject")


def bucket_without_versioning(s):
    _remove(s, "aws:s3/bucketVersioning:BucketVersioning")


def subnet_maps_public_ip(s):
    subnets = [r for r in _of_type(s, "aws:ec2/subnet:Subnet")
               if any(tag in (r["props"].get("tags") or {}) for tag in NODE_SUBNET_TAGS)]
    _require(subnets, "node subnet (tagged kubernetes.io/role/internal-elb or karpenter.sh/discovery)")
    subnets[0]["props"]["mapPublicIpOnLaunch"] = True


def network_policy_not_enforced(s):
    for cluster in _require(_of_type(s, "eks:index:Cluster"), "eks:index:Cluster"):
        cluster["props"].pop("vpcCniOptions", None)


def router_admits_node_subnets(s):
    """The internal ALB back in the node subnets, as before issue 14: the router admits every pod's address."""
    policies = [r for r in _of_type(s, "kubernetes:networking.k8s.io/v1:NetworkPolicy")
                if r["props"]["metadata"]["name"] == "router-from-alb"]
    node_cidrs = [r["props"]["cidrBlock"] for r in _of_type(s, "aws:ec2/subnet:Subnet")
                  if any(tag in (r["props"].get("tags") or {}) for tag in NODE_SUBNET_TAGS)]
    for policy in _require(policies, "router NetworkPolicy"):
        policy["props"]["spec"]["ingress"][0]["from"] = [{"ipBlock": {"cidr": cidr}} for cidr in node_cidrs]


def router_target_group_on_health(s):
    groups = _require(_of_type(s, "aws:lb/targetGroup:TargetGroup"), "target group")
    groups[0]["props"]["healthCheck"]["path"] = "/health"


def prometheus_claim_without_class(s):
    releases = [r for r in _of_type(s, "kubernetes:helm.sh/v3:Release") if r["props"].get("chart") == "kube-prometheus-stack"]
    for release in _require(releases, "kube-prometheus-stack release"):
        spec = release["props"]["values"]["prometheus"]["prometheusSpec"]["storageSpec"]["volumeClaimTemplate"]["spec"]
        spec.pop("storageClassName")


def vllm_image_from_docker_hub(s):
    for container in _vllm_containers(s):
        container["image"] = "docker.io/vllm/vllm-openai:v0.32.0"


MUTATIONS = [
    (public_endpoint, "eks-endpoint-private"),
    (startup_probe_60s, "vllm-startup-probe-budget"),
    (pdb_removed, "vllm-pod-disruption-budget"),
    (s3_star_on_read_role, "no-wildcard-model-actions"),
    (tp_not_gpus, "vllm-tensor-parallel-matches-gpus"),
    (latest_tag, "images-pinned"),
    (scaled_object_removed, "vllm-keda-autoscaling"),
    (bucket_without_versioning, "model-bucket-versioned"),
    (subnet_maps_public_ip, "no-public-node-ips"),
    (network_policy_not_enforced, "vpc-cni-network-policy-enforced"),
    (router_admits_node_subnets, "router-serving-port-from-alb-only"),
    (router_target_group_on_health, "router-health-check-process-only"),
    (prometheus_claim_without_class, "volume-claims-name-a-stack-storage-class"),
    (vllm_image_from_docker_hub, "images-from-private-registry"),
]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_rendered_stack_has_no_mandatory_violations(pack, stack):
    result = pack.check(render_stack(stack))
    mandatory = [(v.policy_name, v.resource_name, v.message) for v in result.violations
                 if v.enforcement_level == "mandatory"]
    assert not mandatory, mandatory


@pytest.mark.parametrize("mutation,policy", MUTATIONS, ids=[m.__name__ for m, _ in MUTATIONS])
def test_mutation_is_caught(pack, prod_snapshot, prod_result, mutation, policy):
    assert not prod_result.by_policy(policy), f"{policy} already fires on the unmutated prod stack"
    snapshot = copy.deepcopy(prod_snapshot)
    mutation(snapshot)
    result = pack.check(snapshot)
    assert result.by_policy(policy), f"{mutation.__name__} not caught by {policy}; got {sorted(result.policy_names())}"


CHECK_COMMAND = [sys.executable, "-m", "preflight", "check"]


@pytest.mark.parametrize("mutation,policy", [(public_endpoint, "eks-endpoint-private"),
                                             (latest_tag, "images-pinned"),
                                             (pdb_removed, "vllm-pod-disruption-budget")],
                         ids=["public_endpoint", "latest_tag", "pdb_removed"])
def test_preflight_check_cli_exits_1_on_mutation(tmp_path, prod_snapshot, mutation, policy):
    snapshot = copy.deepcopy(prod_snapshot)
    mutation(snapshot)
    path = tmp_path / "prod.json"
    path.write_text(json.dumps(snapshot))
    completed = subprocess.run(CHECK_COMMAND + ["--snapshot", str(path)], cwd=ROOT, capture_output=True,
                               text=True, timeout=120)
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert policy in completed.stdout
    assert "Elapsed" in completed.stdout
