"""Side branches of policies/reliability.py, each with a firing and a quiet case, the whole verdict stated."""

from __future__ import annotations

import pytest

from .branch_cases import BUCKET, DEPLOYMENT, EKS_CLUSTER, EKS_COMPONENT, PDB, SUBNET, pod_of, run_case, vllm_of
from .snapshots import UNKNOWN, add, find, find_all, remove, resource, vllm_container, vllm_deployment

# ---------------------------------------------------------------------------------------------------------------
# reliability.py
# ---------------------------------------------------------------------------------------------------------------

def _subnets_elsewhere(s):
    """A program on subnets made by another stack: the cluster names subnet ids, none of them is a resource here."""
    remove(s, SUBNET)


def _no_subnet_ids(s):
    remove(s, SUBNET)
    find(s, EKS_COMPONENT)["props"].update({"privateSubnetIds": [], "publicSubnetIds": []})
    find(s, EKS_CLUSTER)["props"]["vpcConfig"]["subnetIds"] = []


def _node_subnets_unknown_zone_without_cluster(s):
    remove(s, EKS_COMPONENT)
    remove(s, EKS_CLUSTER)
    for subnet in find_all(s, SUBNET):
        subnet["props"]["availabilityZone"] = UNKNOWN


def _second_vllm_container(s, first: dict, second: dict):
    pod_of(s)["containers"] = [vllm_container(name="vllm", **first), vllm_container(name="vllm-b", **second)]


SHORT_PROBE = {"startupProbe": {"httpGet": {"path": "/health", "port": 8000.0}, "periodSeconds": 10.0,
                                "failureThreshold": 6.0}}
SHORT_PROBE_MESSAGE = ("vLLM container 'vllm-b' startupProbe allows 60 s (failureThreshold 6 x periodSeconds 10); at "
                       "least 300 s is needed to download and load the model.")
PDB_MESSAGE = ("vLLM Deployment 'qwen3-8b-deployment' has no PodDisruptionBudget with minAvailable >= 1 selecting its "
               "pod labels {'app.kubernetes.io/instance': 'qwen3-8b', 'app.kubernetes.io/name': 'vllm'} in namespace "
               "'llm'; node drains could evict every replica at once.")

LLAMA_PDB_MESSAGE = ("vLLM Deployment 'llama-deployment' has no PodDisruptionBudget with minAvailable >= 1 selecting "
                     "its pod labels {'app.kubernetes.io/instance': 'llama', 'app.kubernetes.io/name': 'vllm'} in "
                     "namespace 'llm'; node drains could evict every replica at once.")


def _pdb_min(value):
    return lambda s: find(s, PDB)["props"]["spec"].__setitem__("minAvailable", value)


def _strategy(replicas=None, **rolling):
    def mutate(s):
        spec = find(s, DEPLOYMENT)["props"]["spec"]
        spec["strategy"] = {"type": "RollingUpdate", **({"rollingUpdate": rolling} if rolling else {})}
        if replicas is not None:
            spec["replicas"] = replicas
    return mutate


def _model_bucket(force_destroy, protect, purpose="model-weights"):
    def mutate(s):
        bucket = find(s, BUCKET)
        bucket["props"]["forceDestroy"] = force_destroy
        bucket["props"]["tags"]["vllm-eks:purpose"] = purpose
        bucket["options"]["protect"] = protect
    return mutate


RETAINED_MESSAGE = ("Model bucket 'models-weights' sets forceDestroy: a delete or replacement would erase the weights. "
                    "Keep forceDestroy false and set the resource option retain_on_delete=True, so `pulumi destroy` "
                    "completes and leaves the bucket. (Policy packs cannot see retainOnDelete: the Analyzer protocol "
                    "does not carry it.)")

RELIABILITY_CASES = [
    # (id, policy, mutation, config, messages, reasons)
    ("az-subnets-elsewhere", "cluster-multi-az", _subnets_elsewhere, None, [],
     ["unknown during preview: gpu subnets (not in this stack), gpu-eksCluster subnets (not in this stack)"]),
    ("az-no-subnet-ids", "cluster-multi-az", _no_subnet_ids, None, [], []),
    ("az-node-subnets-unknown", "cluster-multi-az", _node_subnets_unknown_zone_without_cluster, None, [],
     ["unknown during preview: node subnet availability zones"]),
    ("az-node-subnets-enough", "cluster-multi-az", lambda s: (remove(s, EKS_COMPONENT), remove(s, EKS_CLUSTER)),
     None, [], []),
    ("az-node-subnets-one-known-zone-of-two", "cluster-multi-az",
     lambda s: (remove(s, EKS_COMPONENT), remove(s, EKS_CLUSTER),
                find(s, SUBNET, "net-private-b")["props"].__setitem__("availabilityZone", UNKNOWN)),
     None, [], ["unknown during preview: node subnet availability zones"]),
    # Two vLLM containers: a verdict on the first does not end the judgement of the second.
    ("probe-unknown-then-short", "vllm-startup-probe-budget",
     lambda s: _second_vllm_container(s, {"startupProbe": UNKNOWN}, SHORT_PROBE), None, [SHORT_PROBE_MESSAGE], []),
    ("probe-missing-then-short", "vllm-startup-probe-budget",
     lambda s: _second_vllm_container(s, {"startupProbe": None}, SHORT_PROBE), None,
     ["vLLM container 'vllm' has no startupProbe; loading a model takes minutes and the liveness probe would kill it "
      "first (need failureThreshold x periodSeconds >= 300 s).", SHORT_PROBE_MESSAGE], []),
    ("probe-non-numeric-then-short", "vllm-startup-probe-budget",
     lambda s: _second_vllm_container(s, {"startupProbe": {"failureThreshold": "x", "periodSeconds": 10.0}},
                                      SHORT_PROBE), None,
     ["vLLM container 'vllm' startupProbe has non-numeric failureThreshold/periodSeconds.", SHORT_PROBE_MESSAGE], []),
    ("probe-period-unknown", "vllm-startup-probe-budget",
     lambda s: vllm_of(s)["startupProbe"].__setitem__("periodSeconds", UNKNOWN), None, [],
     ["unknown during preview: startupProbe timing"]),
    # Kubernetes defaults failureThreshold 3 and periodSeconds 10 ("Configure Liveness, Readiness and Startup
    # Probes"): a probe without them allows 30 s.
    ("probe-defaults", "vllm-startup-probe-budget",
     lambda s: vllm_of(s).__setitem__("startupProbe", {"httpGet": {"path": "/health", "port": 8000.0}}), None,
     ["vLLM container 'vllm' startupProbe allows 30 s (failureThreshold 3 x periodSeconds 10); at least 300 s is "
      "needed to download and load the model."], []),
    ("probe-exactly-the-budget", "vllm-startup-probe-budget",
     lambda s: vllm_of(s)["startupProbe"].update({"failureThreshold": 30.0, "periodSeconds": 10.0}), None, [], []),
    ("probe-below-a-configured-budget", "vllm-startup-probe-budget",
     lambda s: vllm_of(s)["startupProbe"].update({"failureThreshold": 30.0, "periodSeconds": 10.0}),
     {"minStartupSeconds": 300.5},
     ["vLLM container 'vllm' startupProbe allows 300 s (failureThreshold 30 x periodSeconds 10); at least 300.5 s "
      "is needed to download and load the model."], []),
    # A percentage minAvailable rounds up ("Specifying a Disruption Budget for your Application": "1%" of one pod
    # keeps it), so any percentage above zero keeps a pod.
    ("pdb-one-percent", "vllm-pod-disruption-budget", _pdb_min("1%"), None, [], []),
    ("pdb-percent-with-spaces", "vllm-pod-disruption-budget", _pdb_min(" 50% "), None, [], []),
    ("pdb-zero-percent", "vllm-pod-disruption-budget", _pdb_min("0%"), None, [PDB_MESSAGE], []),
    ("pdb-bad-percent", "vllm-pod-disruption-budget", _pdb_min("most%"), None, [PDB_MESSAGE], []),
    ("pdb-number-as-text", "vllm-pod-disruption-budget", _pdb_min("1"), None, [], []),
    ("pdb-not-a-number", "vllm-pod-disruption-budget", _pdb_min("one"), None, [PDB_MESSAGE], []),
    ("pdb-namespace-unknown", "vllm-pod-disruption-budget",
     lambda s: find(s, PDB)["props"]["metadata"].__setitem__("namespace", UNKNOWN), None, [],
     ["unknown during preview: qwen3-8b-deployment PodDisruptionBudget"]),
    ("pdb-unknown-beside-a-good-one", "vllm-pod-disruption-budget",
     lambda s: s["resources"].insert(s["resources"].index(find(s, PDB)), resource(PDB, "other-pdb", {
         "metadata": {"name": "other", "namespace": UNKNOWN}, "spec": {"minAvailable": 1.0, "selector": {}}})),
     None, [], []),
    ("pdb-other-namespace", "vllm-pod-disruption-budget",
     lambda s: find(s, PDB)["props"]["metadata"].__setitem__("namespace", "default"), None, [PDB_MESSAGE], []),
    # Each vLLM Deployment is judged on its own: a verdict on the first does not end the loop.
    ("pdb-second-deployment-uncovered", "vllm-pod-disruption-budget",
     lambda s: add(s, vllm_deployment(name="llama")), None, [LLAMA_PDB_MESSAGE], []),
    ("pdb-unknown-then-uncovered", "vllm-pod-disruption-budget",
     lambda s: (find(s, PDB)["props"]["spec"].__setitem__("minAvailable", UNKNOWN),
                add(s, vllm_deployment(name="llama"))), None, [LLAMA_PDB_MESSAGE], []),
    # A strategy without a type is a RollingUpdate (Kubernetes API reference, DeploymentStrategy.type: default).
    ("rollout-type-unset", "vllm-rolling-update-keeps-ready-pod",
     lambda s: find(s, DEPLOYMENT)["props"]["spec"]["strategy"].pop("type"), None, [], []),
    # Kubernetes' default maxUnavailable is 25% and rounds down ("Deployments", Rolling Update Deployment):
    # 0 of one replica, 1 of four.
    ("rollout-default-one-replica", "vllm-rolling-update-keeps-ready-pod", _strategy(), None, [], []),
    ("rollout-default-four-replicas", "vllm-rolling-update-keeps-ready-pod", _strategy(replicas=4.0), None,
     ["spec.strategy.rollingUpdate.maxUnavailable is unset (Kubernetes defaults to 25%), which lets a rollout take "
      "1 of 4 ready pod(s) away; set maxUnavailable: 0 (and maxSurge: 1)."], []),
    ("rollout-not-a-number", "vllm-rolling-update-keeps-ready-pod", _strategy(maxUnavailable="some"), None,
     ["spec.strategy.rollingUpdate.maxUnavailable is 'some', which lets a rollout take ? of 1 ready pod(s) away; set "
      "maxUnavailable: 0 (and maxSurge: 1)."], []),
    ("rollout-zero-replicas-count-as-one", "vllm-rolling-update-keeps-ready-pod",
     _strategy(replicas=0.0, maxUnavailable="50%"), None, [], []),
    ("rollout-replicas-not-a-number", "vllm-rolling-update-keeps-ready-pod",
     _strategy(replicas="two", maxUnavailable="99%"), None, [], []),
    ("rollout-half-of-two", "vllm-rolling-update-keeps-ready-pod", _strategy(replicas=2.0, maxUnavailable="50%"),
     None, ["spec.strategy.rollingUpdate.maxUnavailable is '50%', which lets a rollout take 1 of 2 ready pod(s) "
            "away; set maxUnavailable: 0 (and maxSurge: 1)."], []),
    ("rollout-recreate", "vllm-rolling-update-keeps-ready-pod",
     lambda s: find(s, DEPLOYMENT)["props"]["spec"].__setitem__("strategy", {"type": "Recreate"}), None,
     ["spec.strategy.type is Recreate; use RollingUpdate with maxUnavailable: 0 so a new pod is ready before an old "
      "one goes (vLLM takes minutes to start)."], []),
    ("retained-force-destroy", "model-bucket-retained", _model_bucket(True, False), None, [RETAINED_MESSAGE], []),
    ("retained-force-destroy-protected", "model-bucket-retained", _model_bucket(True, True), None, [], []),
    ("retained-other-bucket", "model-bucket-retained", _model_bucket(True, False, purpose="logs"), None, [], []),
    ("retained-maybe-model-protected", "model-bucket-retained", _model_bucket(True, True, purpose=UNKNOWN), None,
     [], []),
    ("retained-maybe-model-kept", "model-bucket-retained", _model_bucket(False, False, purpose=UNKNOWN), None, [], []),
    ("retained-maybe-model", "model-bucket-retained", _model_bucket(True, False, purpose=UNKNOWN), None, [],
     ["unknown during preview: models-weights tags (is it the model bucket?)"]),
]


@pytest.mark.parametrize("policy, mutation, config, messages, reasons", [c[1:] for c in RELIABILITY_CASES],
                         ids=[c[0] for c in RELIABILITY_CASES])
def test_reliability_branches(check, policy, mutation, config, messages, reasons):
    """Sources: the Kubernetes and S3 behaviour each case names; the rest is the policy's stated contract."""
    run_case(check, policy, mutation, config, messages, reasons)
