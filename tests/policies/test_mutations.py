"""Mutation tests on the rendered prod stack: break one promise, the matching policy must catch it.

The mutation table MUTATIONS is the pack's mutation score: each entry, applied alone to the rendered prod stack and
judged as `preflight check --stack prod` judges it (applied and offline-only passes, policies/config/prod.json), must
fail the gate with its policy named as a mandatory violation.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from concurrent import futures
from pathlib import Path

import pytest

from preflight.gate import run_gate
from preflight.policy_config import load_policy_pack_config
from preflight.render import render_stack

from .conftest import strict_pack_session

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


def _eks_inputs(s):
    """The program's inputs to the remote eks:index:Cluster, judged by the gate's offline-only pass."""
    clusters = _require(_of_type(s, "eks:index:Cluster"), "eks:index:Cluster")
    return _require(clusters[0].get("offlineOnlyProgramInputs"), "eks:index:Cluster program inputs")


def _named(s, type_, name):
    return _require([r for r in _of_type(s, type_) if r["name"] == name], f"{type_} {name}")[0]


def _trust(s, role_name):
    return _named(s, "aws:iam/role:Role", role_name)["props"]


def _loosen_sub(s, role_name):
    props = _trust(s, role_name)
    document = json.loads(props["assumeRolePolicy"])
    condition = document["Statement"][0]["Condition"]
    sub = next(k for k in condition["StringEquals"] if k.endswith(":sub"))
    condition["StringLike"] = {sub: condition["StringEquals"].pop(sub).rsplit(":", 1)[0] + ":*"}
    props["assumeRolePolicy"] = json.dumps(document)


def _drop_aud(s, role_name):
    props = _trust(s, role_name)
    document = json.loads(props["assumeRolePolicy"])
    equals = document["Statement"][0]["Condition"]["StringEquals"]
    for key in [k for k in equals if k.endswith(":aud")]:
        del equals[key]
    props["assumeRolePolicy"] = json.dumps(document)


def single_az(s):
    for subnet in _require(_of_type(s, "aws:ec2/subnet:Subnet"), "subnet"):
        subnet["props"]["availabilityZone"] = "us-east-1a"


def pdb_min_available_zero(s):
    for pdb in _require(_of_type(s, "kubernetes:policy/v1:PodDisruptionBudget"), "PodDisruptionBudget"):
        pdb["props"]["spec"]["minAvailable"] = 0


def rolling_update_max_unavailable_one(s):
    for deployment in _of_type(s, DEPLOYMENT):
        strategy = deployment["props"]["spec"].setdefault("strategy", {})
        strategy.setdefault("rollingUpdate", {})["maxUnavailable"] = 1


def iam_user_with_access_key(s):
    s["resources"].append({"urn": f"urn:pulumi:{s['stack']}::vllm-eks::aws:iam/user:User::weights-reader",
                           "type": "aws:iam/user:User", "name": "weights-reader", "parent": None,
                           "props": {"name": "weights-reader"}, "options": {}})


def pod_identity_association(s):
    s["resources"].append({
        "urn": f"urn:pulumi:{s['stack']}::vllm-eks::aws:eks/podIdentityAssociation:PodIdentityAssociation::reader",
        "type": "aws:eks/podIdentityAssociation:PodIdentityAssociation", "name": "reader", "parent": None,
        "props": {"clusterName": "vllm-eks-prod", "namespace": "vllm-qwen3-8b", "serviceAccount": "qwen3-8b",
                  "roleArn": "arn:aws:iam::123456789012:role/reader"}, "options": {}})


def model_reader_trust_any_service_account(s):
    _loosen_sub(s, "models-qwen3-8b-read")


def api_key_in_argv(s):
    for container in _vllm_containers(s):
        _set_flag(container, "--api-key", "sk-literal-key")


def api_key_env_literal(s):
    for container in _vllm_containers(s):
        container.setdefault("env", []).append({"name": "VLLM_API_KEY", "value": "sk-literal-key"})


def karpenter_trust_stringlike(s):
    _loosen_sub(s, "cluster-karpenter-controller")


def lb_controller_trust_without_aud(s):
    _drop_aud(s, "edge-lb-controller")


def waf_removed(s):
    _remove(s, "aws:wafv2/webAcl:WebAcl")
    for distribution in _of_type(s, "aws:cloudfront/distribution:Distribution"):
        distribution["props"].pop("webAclId", None)
        distribution.get("propertyDependencies", {}).pop("webAclId", None)


def alb_internet_facing(s):
    for load_balancer in _require(_of_type(s, "aws:lb/loadBalancer:LoadBalancer"), "load balancer"):
        load_balancer["props"]["internal"] = False


def default_deny_removed(s):
    policies = [r for r in _of_type(s, "kubernetes:networking.k8s.io/v1:NetworkPolicy")
                if r["props"].get("spec", {}).get("podSelector") in ({}, None)]
    _require(policies, "default-deny NetworkPolicy")
    s["resources"] = [r for r in s["resources"] if r not in policies]


def pod_security_context_removed(s):
    for container in _vllm_containers(s):
        container.pop("securityContext", None)
    for deployment in _of_type(s, DEPLOYMENT):
        deployment["props"]["spec"]["template"]["spec"].pop("securityContext", None)


def bucket_encryption_removed(s):
    _remove(s, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")


def eks_secrets_unencrypted(s):
    _eks_inputs(s).pop("encryptionConfigKeyArn")


def gpu_memory_utilization_099(s):
    for container in _vllm_containers(s):
        _set_flag(container, "--gpu-memory-utilization", "0.99")


def keda_scales_on_cpu(s):
    for scaled_object in _require(_of_type(s, "kubernetes:keda.sh/v1alpha1:ScaledObject"), "ScaledObject"):
        scaled_object["props"]["spec"]["triggers"] = [
            {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "60"}}]


def spot_only_gpu_pools(s):
    for pool in _require(_of_type(s, "kubernetes:karpenter.sh/v1:NodePool"), "NodePool"):
        for requirement in pool["props"]["spec"]["template"]["spec"]["requirements"]:
            if requirement["key"] == "karpenter.sh/capacity-type":
                requirement["values"] = ["spot"]


def s3_gateway_endpoint_removed(s):
    endpoints = [r for r in _of_type(s, "aws:ec2/vpcEndpoint:VpcEndpoint")
                 if str(r["props"].get("serviceName", "")).endswith(".s3")]
    _require(endpoints, "S3 VPC endpoint")
    s["resources"] = [r for r in s["resources"] if r not in endpoints]


def ttft_alert_removed(s):
    _remove(s, "kubernetes:monitoring.coreos.com/v1:PrometheusRule")


def ttft_alert_threshold_30s(s):
    changed = False
    for rule_resource in _of_type(s, "kubernetes:monitoring.coreos.com/v1:PrometheusRule"):
        for group in rule_resource["props"]["spec"]["groups"]:
            for rule in group["rules"]:
                if "time_to_first_token" in rule.get("expr", ""):
                    rule["expr"] = rule["expr"].rsplit(">", 1)[0] + "> 30"
                    changed = True
    _require(changed, "time-to-first-token alert")


def control_plane_logs_partial(s):
    _eks_inputs(s)["enabledClusterLogTypes"] = ["api", "audit"]


def trust_changes_ignored(s):
    _named(s, "aws:iam/role:Role", "models-qwen3-8b-read").setdefault("options", {})["ignoreChanges"] = [
        "assumeRolePolicy"]


def every_hop_at_29s(s):
    """Lower every hop together: a relative check alone would pass; the stack's own 600 s must not."""
    for integration in _of_type(s, "aws:apigateway/integration:Integration"):
        if integration["props"].get("type") == "HTTP_PROXY":
            integration["props"]["timeoutMilliseconds"] = 29000
    for distribution in _of_type(s, "aws:cloudfront/distribution:Distribution"):
        for origin in distribution["props"]["origins"]:
            origin.setdefault("customOriginConfig", {})["originReadTimeout"] = 29
            origin["responseCompletionTimeout"] = 29
    for load_balancer in _of_type(s, "aws:lb/loadBalancer:LoadBalancer"):
        load_balancer["props"]["idleTimeout"] = 29
    for group in _of_type(s, "aws:lb/targetGroup:TargetGroup"):
        group["props"]["deregistrationDelay"] = 29
    for deployment in _of_type(s, DEPLOYMENT):
        for container in deployment["props"]["spec"]["template"]["spec"]["containers"]:
            if "--request-timeout-secs" in (container.get("args") or []):
                _set_flag(container, "--request-timeout-secs", "29")


def integrations_stop_streaming(s):
    integrations = [i for i in _of_type(s, "aws:apigateway/integration:Integration")
                    if i["props"].get("responseTransferMode") == "STREAM"]
    _require(integrations, "streaming API Gateway integration")
    for integration in integrations:
        integration["props"].pop("responseTransferMode")


# The pack's mutation table: (mutation, the policy that must stop it). One line per mutation; a policy added to the
# pack adds its own line here (test_mutation_score asserts every one exits 1 with the policy named).

def network_policy_not_enforced(s):
    _eks_inputs(s).pop("vpcCniOptions", None)


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
    # today's nine
    (public_endpoint, "eks-endpoint-private"),
    (startup_probe_60s, "vllm-startup-probe-budget"),
    (pdb_removed, "vllm-pod-disruption-budget"),
    (s3_star_on_read_role, "no-wildcard-model-actions"),
    (tp_not_gpus, "vllm-tensor-parallel-matches-gpus"),
    (latest_tag, "images-pinned"),
    (scaled_object_removed, "vllm-keda-autoscaling"),
    (bucket_without_versioning, "model-bucket-versioned"),
    (subnet_maps_public_ip, "no-public-node-ips"),
    # the seed checklist, pillar by pillar (issue 15)
    (single_az, "cluster-multi-az"),
    (pdb_min_available_zero, "vllm-pod-disruption-budget"),
    (rolling_update_max_unavailable_one, "vllm-rolling-update-keeps-ready-pod"),
    (iam_user_with_access_key, "no-iam-users"),
    (pod_identity_association, "no-pod-identity"),
    (model_reader_trust_any_service_account, "irsa-only-model-access"),
    (api_key_in_argv, "vllm-api-key-from-secret"),
    (api_key_env_literal, "vllm-api-key-from-secret"),
    (gpu_memory_utilization_099, "vllm-gpu-memory-utilization-range"),
    (keda_scales_on_cpu, "vllm-keda-autoscaling"),
    (spot_only_gpu_pools, "gpu-on-demand-pool"),
    (s3_gateway_endpoint_removed, "s3-gateway-endpoint"),
    (ttft_alert_removed, "vllm-ttft-alert"),
    (ttft_alert_threshold_30s, "vllm-ttft-alert"),
    (control_plane_logs_partial, "eks-control-plane-logging"),
    (trust_changes_ignored, "code-is-the-source-of-truth"),
    # every IRSA trust, not only the model readers
    (karpenter_trust_stringlike, "irsa-trust-pinned"),
    (lb_controller_trust_without_aud, "irsa-trust-pinned"),
    # the six security layers, each removed on its own
    (waf_removed, "edge-waf-on-public-entry"),                      # edge firewall
    (alb_internet_facing, "edge-no-public-lb-to-serving"),          # network boundary
    (subnet_maps_public_ip, "nodes-in-private-subnets"),            # private subnet
    (default_deny_removed, "serving-namespace-default-deny"),       # access controls between pods
    (pod_security_context_removed, "containers-run-as-non-root"),   # pod restrictions
    (bucket_encryption_removed, "model-bucket-encrypted"),          # encrypted storage
    (eks_secrets_unencrypted, "eks-secrets-encrypted"),             # encrypted storage (Kubernetes Secrets)
    # the stack's own thresholds: lowering every hop together still fails
    (every_hop_at_29s, "edge-timeouts-cover-max-request"),
    (integrations_stop_streaming, "edge-timeouts-cover-max-request"),
    # the cluster layer (issue 14)
    (network_policy_not_enforced, "vpc-cni-network-policy-enforced"),
    (router_admits_node_subnets, "router-serving-port-from-alb-only"),
    (router_target_group_on_health, "router-health-check-process-only"),
    (prometheus_claim_without_class, "volume-claims-name-a-stack-storage-class"),
    (vllm_image_from_docker_hub, "images-from-private-registry"),
]
PROD_POLICY_CONFIG = ROOT / "policies" / "config" / "prod.json"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_rendered_stack_has_no_mandatory_violations(pack, stack):
    result = pack.check(render_stack(stack))
    mandatory = [(v.policy_name, v.resource_name, v.message) for v in result.violations
                 if v.enforcement_level == "mandatory"]
    assert not mandatory, mandatory


def _stopped(pack, snapshot, policy_config, mutation, policy) -> str:
    """'' when the gate (applied + offline-only, prod's policy config) exits 1 with `policy` named, else why not."""
    mutated = copy.deepcopy(snapshot)
    mutation(mutated)
    gate = run_gate(pack, applied=mutated, policy_config=policy_config)
    named = [v for result in gate.checks.values() for v in result.by_policy(policy)
             if v.enforcement_level == "mandatory"]
    if gate.passed or not named:
        fired = sorted({v.policy_name for r in gate.checks.values() for v in r.violations})
        return f"{mutation.__name__}: not stopped by {policy} (passed={gate.passed}, fired {fired})"
    return ""


def test_mutation_score(pack, prod_snapshot, prod_result, capsys):
    """Every mutation the suite knows, on the rendered prod stack with prod's policy config: 100 % stopped."""
    policy_config, _ = load_policy_pack_config(PROD_POLICY_CONFIG)
    clean = run_gate(pack, applied=prod_snapshot, policy_config=policy_config)
    assert clean.passed, [(v.policy_name, v.message) for r in clean.checks.values() for v in r.violations
                          if v.enforcement_level == "mandatory"]

    def judge(session, mutations) -> list[str]:
        return [miss for mutation, policy in mutations
                if (miss := _stopped(session, prod_snapshot, policy_config, mutation, policy))]

    # Half the table each on two pack processes, side by side: the packs do most of the work, one core each.
    with strict_pack_session() as second, futures.ThreadPoolExecutor(max_workers=2) as pool:
        misses = [miss for part in pool.map(judge, (pack, second), (MUTATIONS[0::2], MUTATIONS[1::2])) for miss in part]
    stopped = len(MUTATIONS) - len(misses)
    with capsys.disabled():
        print(f"\n{stopped}/{len(MUTATIONS)} mutations stopped")
    assert not misses, misses


def test_every_policy_of_the_pack_has_a_mutation(pack):
    """A new policy brings its mutation line (advisory-only ones too: prod makes them mandatory)."""
    covered = {policy for _, policy in MUTATIONS}
    lowered_in_prod = {"images-pinned-by-digest"}  # prod.json lowers it, with its reason
    missing = {p["name"] for p in pack.policies()} - covered - lowered_in_prod - set(UNMUTATED)
    assert not missing, sorted(missing)


# Policies whose mutation lives elsewhere, with where: none of them is left without a firing test on a stack.
UNMUTATED = {
    "pod-reads-within-role": "tests/policies/test_model_reads_policy.py",
    "model-bucket-public-access-blocked": "tests/policies/test_policies.py FIRING",
    "model-bucket-tls-only": "tests/policies/test_policies.py FIRING",
    "model-bucket-retained": "tests/policies/test_policies.py FIRING",
    "containers-read-only-root-filesystem": "tests/policies/test_policies.py FIRING",
    "containers-no-privilege-escalation": "tests/policies/test_policies.py FIRING",
    "edge-tls-1-2": "tests/policies/test_edge_policies.py",
    "edge-methods-require-authorizer": "tests/policies/test_edge_policies.py",
    "edge-no-unauthenticated-routes": "tests/policies/test_edge_policies.py",
}


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
