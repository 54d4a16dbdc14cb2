"""Side branches of the reliability, storage, workload and identity policies, each with a firing and a quiet case,
the whole verdict stated: every violation's message and every "cannot judge yet" reason of the policy. Also each
policy's config schema as the pack declares it, and its numeric bounds judged on both sides like the CLI does."""

from __future__ import annotations

import json

import pytest

from preflight.policy_config import PolicyConfigError
from .snapshots import (
    UNKNOWN, add, compliant_stack, find, find_all, mutated, read_policy, remove, resource, tls_only_policy,
    vllm_container, vllm_deployment,
)

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
EKS_COMPONENT = "eks:index:Cluster"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
SUBNET = "aws:ec2/subnet:Subnet"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
BUCKET = "aws:s3/bucket:Bucket"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
KEY = "arn:aws:kms:us-east-1:123456789012:key/k1"


def verdict(result, policy: str) -> tuple[list[str], list[str]]:
    """(violation messages, not-applicable reasons) of one policy, each sorted."""
    messages = sorted(v.message.splitlines()[-1] for v in result.by_policy(policy))
    reasons = sorted(item["reason"] for item in result.not_applicable if item["policy"] == policy)
    return messages, reasons


def _pod(s):
    return find(s, DEPLOYMENT)["props"]["spec"]["template"]["spec"]


def _vllm(s):
    return _pod(s)["containers"][0]


# ---------------------------------------------------------------------------------------------------------------
# Config schemas: every key, type, bound and default (descriptions aside)
# ---------------------------------------------------------------------------------------------------------------

_REASON = {"reason": {"type": "string", "default": ""}}
_BUCKET_TAG = {"modelBucketTagKey": {"type": "string", "default": "vllm-eks:purpose"},
               "modelBucketTagValue": {"type": "string", "default": "model-weights"}}
_STRINGS = {"type": "array", "items": {"type": "string"}}
_EXEMPT = {"exemptNamespaces": {**_STRINGS, "default": ["kube-system"]}}

SCHEMAS = {
    "cluster-multi-az": {
        "minAvailabilityZones": {"type": "integer", "minimum": 1, "default": 2},
        "nodeSubnetTagKeys": {**_STRINGS, "default": ["kubernetes.io/role/internal-elb", "karpenter.sh/discovery"]}},
    "vllm-startup-probe-budget": {"minStartupSeconds": {"type": "number", "minimum": 0, "default": 300}},
    "vllm-pod-disruption-budget": {"minAvailable": {"type": "integer", "minimum": 1, "default": 1}},
    "vllm-rolling-update-keeps-ready-pod": {},
    "model-bucket-retained": _BUCKET_TAG,
    "model-bucket-encrypted": {**_BUCKET_TAG, "requireCustomerManagedKey": {"type": "boolean", "default": True}},
    "model-bucket-versioned": _BUCKET_TAG,
    "model-bucket-public-access-blocked": _BUCKET_TAG,
    "model-bucket-tls-only": _BUCKET_TAG,
    "eks-secrets-encrypted": {},
    "containers-run-as-non-root": _EXEMPT,
    "containers-read-only-root-filesystem": _EXEMPT,
    "containers-no-privilege-escalation": _EXEMPT,
    "vllm-api-key-from-secret": {"apiKeyEnvNames": {**_STRINGS, "default": ["VLLM_API_KEY"]}},
    "images-pinned": {},
    "images-pinned-by-digest": {},
    "irsa-only-model-access": {
        **_BUCKET_TAG, "allowedActions": {**_STRINGS, "default": ["s3:GetObject", "s3:ListBucket"]},
        "requireListBucketPrefixCondition": {"type": "boolean", "default": True}},
    "no-pod-identity": {},
    "no-iam-users": {},
    "no-wildcard-model-actions": {},
    "pod-reads-within-role": {},
    "vllm-keda-autoscaling": {"queueMetric": {"type": "string", "default": "vllm:num_requests_waiting"}},
    "gpu-on-demand-pool": {},
    "s3-gateway-endpoint": _BUCKET_TAG,
    "vllm-ttft-alert": {
        "quantileExpression": {"type": "string", "default": "histogram_quantile(0.95"},
        "metric": {"type": "string", "default": "vllm:time_to_first_token_seconds"},
        "maxThresholdSeconds": {"type": "number", "minimum": 0, "default": 0}},
    "eks-control-plane-logging": {"requiredLogTypes": {
        **_STRINGS, "default": ["api", "audit", "authenticator", "controllerManager", "scheduler"]}},
    "code-is-the-source-of-truth": {"allowedIgnoreChanges": {
        "type": "object", "additionalProperties": _STRINGS,
        "default": {"kubernetes:apps/v1:Deployment": ["spec.replicas"]}}},
    "vllm-tensor-parallel-matches-gpus": {},
    "vllm-gpu-memory-utilization-range": {
        "minUtilization": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.85},
        "maxUtilization": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.95}},
}


def test_config_schemas_state_every_type_bound_and_default(pack):
    declared = {p["name"]: p["configSchema"] for p in pack.policies() if p["name"] in SCHEMAS}
    assert {name: {key: {k: v for k, v in schema.items() if k != "description"}
                   for key, schema in declared[name]["properties"].items()} for name in SCHEMAS} == \
        {name: {**properties, **_REASON} for name, properties in SCHEMAS.items()}
    assert all(declared[name]["required"] == [] for name in SCHEMAS)


@pytest.mark.parametrize("policy, key, inside, outside", [
    ("cluster-multi-az", "minAvailabilityZones", 1, 0),
    ("vllm-startup-probe-budget", "minStartupSeconds", 0, -0.5),
    ("vllm-pod-disruption-budget", "minAvailable", 1, 0),
    ("vllm-ttft-alert", "maxThresholdSeconds", 0, -0.5),
    ("vllm-gpu-memory-utilization-range", "minUtilization", 0, -0.01),
    ("vllm-gpu-memory-utilization-range", "minUtilization", 1, 1.01),
    ("vllm-gpu-memory-utilization-range", "maxUtilization", 0, -0.01),
    ("vllm-gpu-memory-utilization-range", "maxUtilization", 1, 1.01),
])
def test_config_bounds_admit_the_bound_and_refuse_beyond_it(pack, policy, key, inside, outside):
    """The CLI validates a policy's config against its JSON schema before Configure (pulumi/pulumi
    pkg/resource/analyzer/config.go validatePolicyPackConfig): the bound itself passes, one step beyond is refused
    naming the policy and the key."""
    assert pack.configure({policy: {key: inside}})[policy]["properties"][key] == inside
    with pytest.raises(PolicyConfigError, match=rf"{policy}: {key}: "):
        pack.configure({policy: {key: outside}})


@pytest.mark.parametrize("policy, key, value", [
    ("cluster-multi-az", "minAvailabilityZones", 2.5),
    ("vllm-pod-disruption-budget", "minAvailable", 1.5),
    ("model-bucket-encrypted", "requireCustomerManagedKey", "yes"),
    ("irsa-only-model-access", "requireListBucketPrefixCondition", 1),
    ("vllm-keda-autoscaling", "queueMetric", 3),
    ("eks-control-plane-logging", "requiredLogTypes", ["api", 1]),
    ("code-is-the-source-of-truth", "allowedIgnoreChanges", {"kubernetes:apps/v1:Deployment": "spec.replicas"}),
])
def test_config_types_are_enforced(pack, policy, key, value):
    with pytest.raises(PolicyConfigError, match=rf"{policy}: {key}"):
        pack.configure({policy: {key: value}})


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
    _pod(s)["containers"] = [vllm_container(name="vllm", **first), vllm_container(name="vllm-b", **second)]


SHORT_PROBE = {"startupProbe": {"httpGet": {"path": "/health", "port": 8000.0}, "periodSeconds": 10.0,
                                "failureThreshold": 6.0}}
SHORT_PROBE_MESSAGE = ("vLLM container 'vllm-b' startupProbe allows 60 s (failureThreshold 6 x periodSeconds 10); at "
                       "least 300 s is needed to download and load the model.")
PDB_MESSAGE = ("vLLM Deployment 'qwen3-8b-deployment' has no PodDisruptionBudget with minAvailable >= 1 selecting its "
               "pod labels {'app.kubernetes.io/instance': 'qwen3-8b', 'app.kubernetes.io/name': 'vllm'} in namespace "
               "'llm'; node drains could evict every replica at once.")

LLAMA_PDB_MESSAGE = ("vLLM Deployment 'llama-deployment' has no PodDisruptionBudget with minAvailable >= 1 selecting its "
                     "pod labels {'app.kubernetes.io/instance': 'llama', 'app.kubernetes.io/name': 'vllm'} in namespace "
                     "'llm'; node drains could evict every replica at once.")


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
     lambda s: _vllm(s)["startupProbe"].__setitem__("periodSeconds", UNKNOWN), None, [],
     ["unknown during preview: startupProbe timing"]),
    # Kubernetes defaults failureThreshold 3 and periodSeconds 10 ("Configure Liveness, Readiness and Startup
    # Probes"): a probe without them allows 30 s.
    ("probe-defaults", "vllm-startup-probe-budget",
     lambda s: _vllm(s).__setitem__("startupProbe", {"httpGet": {"path": "/health", "port": 8000.0}}), None,
     ["vLLM container 'vllm' startupProbe allows 30 s (failureThreshold 3 x periodSeconds 10); at least 300 s is "
      "needed to download and load the model."], []),
    ("probe-exactly-the-budget", "vllm-startup-probe-budget",
     lambda s: _vllm(s)["startupProbe"].update({"failureThreshold": 30.0, "periodSeconds": 10.0}), None, [], []),
    ("probe-below-a-configured-budget", "vllm-startup-probe-budget",
     lambda s: _vllm(s)["startupProbe"].update({"failureThreshold": 30.0, "periodSeconds": 10.0}),
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


def _run(check, policy, mutation, config, messages, reasons):
    result = check(mutated(mutation), {policy: config} if config else None)
    assert verdict(result, policy) == (sorted(messages), sorted(reasons))


@pytest.mark.parametrize("policy, mutation, config, messages, reasons", [c[1:] for c in RELIABILITY_CASES],
                         ids=[c[0] for c in RELIABILITY_CASES])
def test_reliability_branches(check, policy, mutation, config, messages, reasons):
    """Sources: the Kubernetes and S3 behaviour each case names; the rest is the policy's stated contract."""
    _run(check, policy, mutation, config, messages, reasons)


# ---------------------------------------------------------------------------------------------------------------
# security_storage.py
# ---------------------------------------------------------------------------------------------------------------

ENCRYPTION_MESSAGE = ("Model bucket 'models-weights': no server-side encryption with SSE-KMS (a "
                      "BucketServerSideEncryptionConfiguration with sseAlgorithm aws:kms and a kmsMasterKeyId).")
TLS_MESSAGE = ("Model bucket 'models-weights': no bucket policy denies requests with aws:SecureTransport = false "
               "(Deny s3:* to Principal * with Condition Bool aws:SecureTransport false).")


def _sse_default(**default):
    return lambda s: find(s, SSE)["props"]["rules"][0].__setitem__("applyServerSideEncryptionByDefault", default)


def _inline_sse(key: str, **default):
    """The legacy aws.s3.Bucket's inline serverSideEncryptionConfiguration (Pulumi AWS provider, aws.s3.Bucket
    inputs: `rule` is one object holding applyServerSideEncryptionByDefault), and no separate resource."""
    def mutate(s):
        remove(s, SSE)
        find(s, BUCKET)["props"]["serverSideEncryptionConfiguration"] = {
            key: {"applyServerSideEncryptionByDefault": default}}
    return mutate


def _tls_statement(**changes):
    """The TLS-only statement with some fields changed (None removes one). Shape from the S3 user guide, "Bucket
    policy examples": Deny s3:* to Principal * when aws:SecureTransport is false."""
    def mutate(s):
        document = json.loads(tls_only_policy())
        for key, value in changes.items():
            if value is None:
                document["Statement"][0].pop(key)
            else:
                document["Statement"][0][key] = value
        find(s, BUCKET_POLICY)["props"]["policy"] = json.dumps(document)
    return mutate


def _pab_flag(value):
    return lambda s: find(s, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")["props"].__setitem__(
        "ignorePublicAcls", value)


def _cluster_encryption(value):
    return lambda s: find(s, EKS_CLUSTER)["props"].__setitem__("encryptionConfig", value)


SECRETS_MESSAGE = 'encryptionConfig does not encrypt resources ["secrets"] with a KMS key (provider.keyArn).'

STORAGE_CASES = [
    ("sse-inline-rule", "model-bucket-encrypted", _inline_sse("rule", sseAlgorithm="aws:kms", kmsMasterKeyId=KEY),
     None, [], []),
    ("sse-inline-rules", "model-bucket-encrypted", _inline_sse("rules", sseAlgorithm="aws:kms", kmsMasterKeyId=KEY),
     None, [], []),
    ("sse-inline-s3-managed", "model-bucket-encrypted", _inline_sse("rule", sseAlgorithm="AES256"), None,
     [ENCRYPTION_MESSAGE], []),
    # SSE-KMS and dual-layer SSE-KMS ("Using dual-layer server-side encryption with AWS KMS keys", S3 user guide:
    # sseAlgorithm aws:kms:dsse) both keep the key in KMS.
    ("sse-dsse", "model-bucket-encrypted", _sse_default(sseAlgorithm="aws:kms:dsse", kmsMasterKeyId=KEY), None, [], []),
    ("sse-algorithm-unknown", "model-bucket-encrypted", _sse_default(sseAlgorithm=UNKNOWN, kmsMasterKeyId=KEY), None,
     [], ["unknown during preview: models-weights encryption"]),
    ("sse-key-unknown", "model-bucket-encrypted", _sse_default(sseAlgorithm="aws:kms", kmsMasterKeyId=UNKNOWN), None,
     [], []),
    ("sse-aws-managed-key", "model-bucket-encrypted", _sse_default(sseAlgorithm="aws:kms"), None,
     [ENCRYPTION_MESSAGE], []),
    ("sse-aws-managed-key-allowed", "model-bucket-encrypted", _sse_default(sseAlgorithm="aws:kms"),
     {"requireCustomerManagedKey": False}, [], []),
    ("sse-s3-managed-without-the-key-rule", "model-bucket-encrypted", _sse_default(sseAlgorithm="AES256"),
     {"requireCustomerManagedKey": False},
     ["Model bucket 'models-weights': no server-side encryption with SSE-KMS (a BucketServerSideEncryptionConfiguration "
      "with sseAlgorithm aws:kms)."], []),
    ("sse-key-in-a-second-rule", "model-bucket-encrypted",
     lambda s: find(s, SSE)["props"]["rules"].insert(0, {"applyServerSideEncryptionByDefault": {
         "sseAlgorithm": "aws:kms"}}), None, [], []),
    # Whether a bucket whose tags are not known yet is the model bucket cannot be told: each bucket policy waits.
    *[(f"maybe-model-bucket-{policy}", policy, lambda s: (
        find(s, BUCKET)["props"]["tags"].__setitem__("vllm-eks:purpose", UNKNOWN), remove(s, SSE),
        remove(s, "aws:s3/bucketVersioning:BucketVersioning"),
        remove(s, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"), remove(s, BUCKET_POLICY)), None, [],
       ["unknown during preview: models-weights tags (is it the model bucket?)"])
      for policy in ("model-bucket-encrypted", "model-bucket-versioned", "model-bucket-public-access-blocked",
                     "model-bucket-tls-only")],
    ("versioning-inline", "model-bucket-versioned",
     lambda s: (remove(s, "aws:s3/bucketVersioning:BucketVersioning"),
                find(s, BUCKET)["props"].__setitem__("versioning", {"enabled": True})), None, [], []),
    ("versioning-inline-off", "model-bucket-versioned",
     lambda s: (remove(s, "aws:s3/bucketVersioning:BucketVersioning"),
                find(s, BUCKET)["props"].__setitem__("versioning", {"enabled": False})), None,
     ["Model bucket 'models-weights': versioning is not enabled (add a BucketVersioning with "
      "versioningConfiguration.status: Enabled)."], []),
    ("versioning-unknown", "model-bucket-versioned",
     lambda s: find(s, "aws:s3/bucketVersioning:BucketVersioning")["props"]["versioningConfiguration"].__setitem__(
         "status", UNKNOWN), None, [], ["unknown during preview: models-weights versioning"]),
    ("versioning-unknown-but-inline-on", "model-bucket-versioned",
     lambda s: (find(s, "aws:s3/bucketVersioning:BucketVersioning")["props"]["versioningConfiguration"].__setitem__(
         "status", UNKNOWN), find(s, BUCKET)["props"].__setitem__("versioning", {"enabled": "true"})), None, [], []),
    ("public-access-flag-as-text", "model-bucket-public-access-blocked", _pab_flag("true"), None, [], []),
    ("public-access-flag-off", "model-bucket-public-access-blocked", _pab_flag(False), None,
     ["Model bucket 'models-weights': public access is not fully blocked: ['ignorePublicAcls'] must be true."], []),
    ("public-access-flag-unknown", "model-bucket-public-access-blocked", _pab_flag(UNKNOWN), None, [],
     ["unknown during preview: models-weights public access block"]),
    ("public-access-none", "model-bucket-public-access-blocked",
     lambda s: remove(s, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"), None,
     ["Model bucket 'models-weights': no BucketPublicAccessBlock (all four flags must be true)."], []),
    ("tls-allow-statement", "model-bucket-tls-only", _tls_statement(Effect="Allow"), None, [TLS_MESSAGE], []),
    ("tls-one-account-only", "model-bucket-tls-only",
     _tls_statement(Principal={"AWS": "arn:aws:iam::123456789012:root"}), None, [TLS_MESSAGE], []),
    ("tls-principal-aws-star", "model-bucket-tls-only", _tls_statement(Principal={"AWS": "*"}), None, [], []),
    ("tls-principal-aws-star-list", "model-bucket-tls-only", _tls_statement(Principal={"AWS": ["*"]}), None, [], []),
    ("tls-writes-only", "model-bucket-tls-only", _tls_statement(Action="s3:PutObject"), None, [TLS_MESSAGE], []),
    ("tls-reads", "model-bucket-tls-only", _tls_statement(Action=["s3:GetObject"]), None, [], []),
    ("tls-string-condition", "model-bucket-tls-only",
     _tls_statement(Condition={"StringEquals": {"aws:SecureTransport": "false"}}), None, [TLS_MESSAGE], []),
    ("tls-condition-not-an-object", "model-bucket-tls-only", _tls_statement(Condition={"Bool": "false"}), None,
     [TLS_MESSAGE], []),
    ("tls-denies-secure-requests", "model-bucket-tls-only",
     _tls_statement(Condition={"Bool": {"aws:SecureTransport": "true"}}), None, [TLS_MESSAGE], []),
    ("tls-no-condition", "model-bucket-tls-only", _tls_statement(Condition=None), None, [TLS_MESSAGE], []),
    # Condition keys are not case-sensitive (IAM User Guide, "IAM JSON policy elements: Condition"); the JSON
    # boolean false is the same condition value as the string.
    ("tls-key-case-and-boolean", "model-bucket-tls-only",
     _tls_statement(Condition={"Bool": {"AWS:SecureTransport": [False]}}), None, [], []),
    ("tls-second-statement", "model-bucket-tls-only",
     lambda s: find(s, BUCKET_POLICY)["props"].__setitem__("policy", json.dumps({"Version": "2012-10-17", "Statement": [
         {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "s3:GetObject",
          "Resource": "arn:aws:s3:::vllm-weights-prod/*"},
         *json.loads(tls_only_policy())["Statement"]]})), None, [], []),
    ("tls-policy-unknown-beside-a-good-one", "model-bucket-tls-only",
     lambda s: s["resources"].insert(s["resources"].index(find(s, BUCKET_POLICY)), resource(
         BUCKET_POLICY, "models-weights-extra", {"bucket": "vllm-weights-prod", "policy": UNKNOWN})), None, [], []),
    ("secrets-component-key-unknown", "eks-secrets-encrypted",
     lambda s: find(s, EKS_COMPONENT)["props"].__setitem__("encryptionConfigKeyArn", UNKNOWN), None, [],
     ["unknown during preview: encryptionConfigKeyArn"]),
    ("secrets-config-unknown", "eks-secrets-encrypted", _cluster_encryption(UNKNOWN), None, [],
     ["unknown during preview: encryptionConfig"]),
    ("secrets-component-without-the-input", "eks-secrets-encrypted",
     lambda s: find(s, EKS_COMPONENT)["props"].pop("encryptionConfigKeyArn"), None, [], []),
    ("secrets-other-resources", "eks-secrets-encrypted",
     _cluster_encryption({"provider": {"keyArn": KEY}, "resources": ["configmaps"]}), None, [SECRETS_MESSAGE], []),
    ("secrets-without-a-key", "eks-secrets-encrypted", _cluster_encryption({"resources": ["secrets"]}), None,
     [SECRETS_MESSAGE], []),
    ("secrets-in-the-second-config", "eks-secrets-encrypted",
     _cluster_encryption([{"provider": {"keyArn": KEY}, "resources": ["configmaps"]},
                          {"provider": {"keyArn": KEY}, "resources": ["secrets"]}]), None, [], []),
    ("secrets-unknown-after-a-miss", "eks-secrets-encrypted",
     _cluster_encryption([{"provider": {"keyArn": KEY}, "resources": ["configmaps"]},
                          {"provider": {"keyArn": KEY}, "resources": UNKNOWN}]), None, [],
     ["unknown during preview: encryptionConfig.resources"]),
]


@pytest.mark.parametrize("policy, mutation, config, messages, reasons", [c[1:] for c in STORAGE_CASES],
                         ids=[c[0] for c in STORAGE_CASES])
def test_storage_branches(check, policy, mutation, config, messages, reasons):
    """Sources: the S3 and IAM documents each case names; EKS envelope encryption of `secrets` ("Encrypt
    Kubernetes secrets with KMS on existing clusters", EKS user guide: resources ["secrets"] under a KMS key)."""
    _run(check, policy, mutation, config, messages, reasons)


# ---------------------------------------------------------------------------------------------------------------
# security_workloads.py
# ---------------------------------------------------------------------------------------------------------------

def _security(container=None, pod=None, init=None):
    """Set (None value: remove) keys of the vLLM container's, the pod's and the init container's securityContext."""
    def mutate(s):
        spec = _pod(s)
        for context, changes in ((spec["containers"][0]["securityContext"], container),
                                 (spec["securityContext"], pod), (spec["initContainers"][0]["securityContext"], init)):
            for key, value in (changes or {}).items():
                if value is None:
                    context.pop(key, None)
                else:
                    context[key] = value
    return mutate


def _in_namespace(namespace, *mutations):
    def mutate(s):
        find(s, DEPLOYMENT)["props"]["metadata"]["namespace"] = namespace
        for other in mutations:
            other(s)
    return mutate


def _env(*entries):
    return lambda s: _vllm(s).__setitem__("env", list(entries))


def _image(image, init=False):
    return lambda s: _pod(s)["initContainers" if init else "containers"][0].__setitem__("image", image)


ROOT = "containers[vllm] runs as root (runAsUser: 0)."
MAY_BE_ROOT = ("containers[vllm] may run as root: set securityContext.runAsNonRoot: true or a non-zero runAsUser.")
WRITABLE = ("containers[vllm] has a writable root filesystem: set securityContext.readOnlyRootFilesystem: true (mount "
            "emptyDir for scratch space).")
ESCALATION = ("containers[vllm] allows privilege escalation: set securityContext.allowPrivilegeEscalation: false.")
DIGEST = "sha256:" + "c" * 64

WORKLOAD_CASES = [
    # A container's own setting wins over the pod's ("Configure a Security Context for a Pod or Container").
    ("non-root-from-the-pod", "containers-run-as-non-root",
     _security(container={"runAsNonRoot": None, "runAsUser": None}), None, [], []),
    ("non-root-container-says-no", "containers-run-as-non-root",
     _security(container={"runAsNonRoot": False, "runAsUser": None}), None, [MAY_BE_ROOT], []),
    ("non-root-user-only", "containers-run-as-non-root",
     _security(container={"runAsNonRoot": None}, pod={"runAsNonRoot": None}), None, [], []),
    ("root-user-from-the-pod", "containers-run-as-non-root",
     _security(container={"runAsNonRoot": None, "runAsUser": None}, pod={"runAsUser": 0.0}), None, [ROOT], []),
    ("root-user-despite-non-root-flag", "containers-run-as-non-root", _security(container={"runAsUser": 0.0}), None,
     [ROOT], []),
    ("root-in-an-exempt-namespace", "containers-run-as-non-root",
     _in_namespace("kube-system", _security(container={"runAsUser": 0.0})), None, [], []),
    ("root-when-nothing-is-exempt", "containers-run-as-non-root",
     _in_namespace("kube-system", _security(container={"runAsUser": 0.0})), {"exemptNamespaces": []}, [ROOT], []),
    ("root-in-another-exempt-namespace", "containers-run-as-non-root",
     _in_namespace("addons", _security(container={"runAsUser": 0.0})), {"exemptNamespaces": ["addons"]}, [], []),
    ("non-root-user-unknown", "containers-run-as-non-root", _security(container={"runAsUser": UNKNOWN}), None, [],
     ["unknown during preview: containers[vllm]"]),
    ("non-root-pod-template-unknown", "containers-run-as-non-root",
     lambda s: find(s, DEPLOYMENT)["props"]["spec"].__setitem__("template", UNKNOWN), None, [],
     ["unknown during preview: pod template"]),
    ("read-only-unset", "containers-read-only-root-filesystem",
     _security(container={"readOnlyRootFilesystem": None}), None, [WRITABLE], []),
    ("read-only-as-text", "containers-read-only-root-filesystem",
     _security(container={"readOnlyRootFilesystem": "true"}), None, [], []),
    ("read-only-init-container", "containers-read-only-root-filesystem",
     _security(init={"readOnlyRootFilesystem": False}), None,
     ["initContainers[wait] has a writable root filesystem: set securityContext.readOnlyRootFilesystem: true (mount "
      "emptyDir for scratch space)."], []),
    ("read-only-exempt", "containers-read-only-root-filesystem",
     _in_namespace("kube-system", _security(container={"readOnlyRootFilesystem": False})), None, [], []),
    ("privileged", "containers-no-privilege-escalation", _security(container={"privileged": True}), None,
     ["containers[vllm] is privileged."], []),
    ("privileged-unknown", "containers-no-privilege-escalation", _security(container={"privileged": UNKNOWN}), None,
     [], ["unknown during preview: containers[vllm]"]),
    # allowPrivilegeEscalation defaults to true when unset (Kubernetes API reference, SecurityContext).
    ("escalation-unset", "containers-no-privilege-escalation",
     _security(container={"allowPrivilegeEscalation": None}), None, [ESCALATION], []),
    ("escalation-off-as-text", "containers-no-privilege-escalation",
     _security(container={"allowPrivilegeEscalation": "false", "privileged": False}), None, [], []),
    ("escalation-exempt", "containers-no-privilege-escalation",
     _in_namespace("kube-system", _security(container={"privileged": True})), None, [], []),
    ("api-key-from-a-config-map", "vllm-api-key-from-secret",
     _env({"name": "VLLM_API_KEY", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "key"}}}), None,
     ["containers[vllm] reads VLLM_API_KEY from a ConfigMap; use a Secret."], []),
    ("api-key-from-a-secret", "vllm-api-key-from-secret",
     _env({"name": "VLLM_API_KEY", "valueFrom": {"secretKeyRef": {"name": "api-key", "key": "key"}}}), None, [], []),
    ("api-key-literal-after-another-variable", "vllm-api-key-from-secret",
     _env({"name": "HF_HOME", "value": "/tmp/hf"}, {"name": "VLLM_API_KEY", "value": "secret"}), None,
     ["containers[vllm] sets VLLM_API_KEY as a literal env value; take it from a Secret (valueFrom.secretKeyRef or a "
      "mounted secret file)."], []),
    ("api-key-other-variable", "vllm-api-key-from-secret", _env({"name": "OPENAI_API_KEY", "value": "secret"}), None,
     [], []),
    ("api-key-configured-variable", "vllm-api-key-from-secret", _env({"name": "OPENAI_API_KEY", "value": "secret"}),
     {"apiKeyEnvNames": ["OPENAI_API_KEY"]},
     ["containers[vllm] sets OPENAI_API_KEY as a literal env value; take it from a Secret (valueFrom.secretKeyRef or "
      "a mounted secret file)."], []),
    ("api-key-env-name-unknown", "vllm-api-key-from-secret", _env({"name": UNKNOWN, "value": "x"}), None, [],
     ["unknown during preview: containers[vllm].env"]),
    # A first preview sends unknowns for values built from outputs (a bucket name in another variable): only the
    # names and the key's own source decide.
    ("api-key-other-value-unknown", "vllm-api-key-from-secret",
     _env({"name": "MODEL_BUCKET", "value": UNKNOWN},
          {"name": "VLLM_API_KEY", "valueFrom": {"secretKeyRef": {"name": "api-key", "key": "key"}}}), None, [], []),
    ("api-key-source-unknown", "vllm-api-key-from-secret", _env({"name": "VLLM_API_KEY", "valueFrom": UNKNOWN}),
     None, [], ["unknown during preview: containers[vllm].env"]),
    ("api-key-secret-name-unknown", "vllm-api-key-from-secret",
     _env({"name": "VLLM_API_KEY", "valueFrom": {"secretKeyRef": {"name": UNKNOWN, "key": "key"}}}), None, [],
     ["unknown during preview: containers[vllm].env"]),
    ("api-key-env-entry-unknown", "vllm-api-key-from-secret", _env(UNKNOWN), None, [],
     ["unknown during preview: containers[vllm].env"]),
    ("api-key-env-unknown", "vllm-api-key-from-secret", lambda s: _vllm(s).__setitem__("env", UNKNOWN), None, [],
     ["unknown during preview: containers[vllm].env"]),
    ("api-key-literal-beside-an-unknown-name", "vllm-api-key-from-secret",
     _env({"name": UNKNOWN, "value": "x"}, {"name": "VLLM_API_KEY", "value": "secret"}), None,
     ["containers[vllm] sets VLLM_API_KEY as a literal env value; take it from a Secret (valueFrom.secretKeyRef or a "
      "mounted secret file)."], []),
    ("api-key-one-arg-unknown", "vllm-api-key-from-secret", lambda s: _vllm(s)["args"].append(UNKNOWN), None, [],
     ["unknown during preview: containers[vllm] command/args"]),
    # vLLM 0.32 `--api-key` (vllm/entrypoints/openai/cli_args.py); argparse also takes the `--flag=value` form.
    ("api-key-flag-with-equals", "vllm-api-key-from-secret", lambda s: _vllm(s)["args"].append("--api-key=secret"),
     None, ["containers[vllm] passes --api-key on the command line (visible in the pod spec and process list); read "
            "VLLM_API_KEY from a Secret instead."], []),
    ("api-key-flag-in-a-shell-script", "vllm-api-key-from-secret",
     lambda s: _vllm(s).update({"command": ["/bin/sh", "-c", "exec vllm serve /models --api-key secret"],
                                "args": []}), None,
     ["containers[vllm] passes --api-key on the command line (visible in the pod spec and process list); read "
      "VLLM_API_KEY from a Secret instead."], []),
    ("image-latest-any-case", "images-pinned", _image("docker.io/vllm/vllm-openai:LATEST"), None,
     ["containers[vllm] image 'docker.io/vllm/vllm-openai:LATEST' uses :latest; pin a version."], []),
    ("image-latest-with-digest", "images-pinned", _image(f"docker.io/vllm/vllm-openai:latest@{DIGEST}"), None, [], []),
    ("image-untagged-init", "images-pinned", _image("busybox", init=True), None,
     ["initContainers[wait] image 'busybox' has no tag (means :latest); pin a version."], []),
    # A registry port is not a tag (distribution/reference grammar: domain[:port]/path[:tag][@digest]).
    ("image-registry-port-only", "images-pinned", _image("registry.local:5000/vllm/vllm-openai"), None,
     ["containers[vllm] image 'registry.local:5000/vllm/vllm-openai' has no tag (means :latest); pin a version."],
     []),
    ("image-unknown-init-then-latest", "images-pinned",
     lambda s: (_image(UNKNOWN, init=True)(s), _image("vllm/vllm-openai:latest")(s)), None,
     ["containers[vllm] image 'vllm/vllm-openai:latest' uses :latest; pin a version."], []),
    ("image-unknown", "images-pinned", _image(UNKNOWN, init=True), None, [],
     ["unknown during preview: initContainers[wait].image"]),
    ("image-tag-only", "images-pinned-by-digest", _image("registry.local:5000/vllm/vllm-openai:v0.32.0"), None,
     ["containers[vllm] image 'registry.local:5000/vllm/vllm-openai:v0.32.0' is pinned by tag only; add "
      "@sha256:<digest> so the bytes cannot change under the tag."], []),
    ("image-digest-without-tag", "images-pinned-by-digest", _image(f"registry.local:5000/vllm/vllm-openai@{DIGEST}"),
     None, [], []),
]


@pytest.mark.parametrize("policy, mutation, config, messages, reasons", [c[1:] for c in WORKLOAD_CASES],
                         ids=[c[0] for c in WORKLOAD_CASES])
def test_workload_branches(check, policy, mutation, config, messages, reasons):
    """Sources: the Kubernetes documents each case names."""
    _run(check, policy, mutation, config, messages, reasons)


# ---------------------------------------------------------------------------------------------------------------
# security_identity.py
# ---------------------------------------------------------------------------------------------------------------

READER = "models-qwen3-8b-reader"
OBJECTS = "arn:aws:s3:::vllm-weights-prod/qwen3-8b/*"


def _read_document(change):
    """The read role's RolePolicy document after `change(statements)` (statements 0-2: GetObject, ListBucket,
    kms:Decrypt, see snapshots.read_policy)."""
    def mutate(s):
        document = json.loads(read_policy())
        change(document["Statement"])
        find(s, ROLE_POLICY)["props"]["policy"] = json.dumps(document)
    return mutate


def _least_privilege(*problems):
    return [f"Role '{READER}' reads model weights with more than least privilege: {p}." for p in problems]


def _other_reader(resources):
    """A second role, trusted by EC2 (not IRSA), reading objects under `resources`."""
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ec2.amazonaws.com"}}]})
    return lambda s: add(s, resource(ROLE, "other-reader", {"assumeRolePolicy": trust, "name": "other-reader"}),
                         resource(ROLE_POLICY, "other-read", {"role": "other-reader", "policy": json.dumps({
                             "Version": "2012-10-17", "Statement": [
                                 {"Effect": "Allow", "Action": "s3:GetObject", "Resource": resources}]})}))


def _inline_read(change=lambda statements: None):
    """The read grant as the role's inline policy (pulumi-aws iam.Role `inlinePolicies`: name + policy)."""
    def mutate(s):
        remove(s, ROLE_POLICY)
        document = json.loads(read_policy())
        change(document["Statement"])
        find(s, ROLE, READER)["props"]["inlinePolicies"] = [{"name": "weights", "policy": json.dumps(document)}]
    return mutate


def _whole_bucket(statements):
    statements[0]["Resource"] = ["arn:aws:s3:::vllm-weights-prod/*"]


UNTRUSTED = [f"Role 'other-reader' reads model weights but its trust policy is not IRSA for one service account: {p}."
             for p in ("trust statement 0 allows ['sts:AssumeRole'], only sts:AssumeRoleWithWebIdentity is allowed",
                       "trust statement 0 principal {'Service': 'ec2.amazonaws.com'} is not an EKS OIDC provider",
                       "trust statement 0 must bind exactly one service account with StringEquals <issuer>:sub "
                       "(found none)",
                       "trust statement 0 must require StringEquals <issuer>:aud = sts.amazonaws.com (found none)")]

IDENTITY_CASES = [
    # kms:Decrypt only through S3 ("AWS KMS condition keys": kms:ViaService s3.<region>.amazonaws.com).
    ("kms-without-via-service", "irsa-only-model-access", _read_document(lambda st: st[2].pop("Condition")), None,
     _least_privilege("models-qwen3-8b-read.policy allows kms:Decrypt without a kms:ViaService "
                      "s3.<region>.amazonaws.com condition"), []),
    ("kms-via-another-service", "irsa-only-model-access",
     _read_document(lambda st: st[2].__setitem__("Condition", {"StringEquals": {
         "kms:ViaService": ["s3.us-east-1.amazonaws.com", "ec2.us-east-1.amazonaws.com"]}})), None,
     _least_privilege("models-qwen3-8b-read.policy allows kms:Decrypt without a kms:ViaService "
                      "s3.<region>.amazonaws.com condition"), []),
    ("kms-via-key-any-case", "irsa-only-model-access",
     _read_document(lambda st: st[2].__setitem__("Condition", {"StringLike": {
         "KMS:ViaService": "s3.*.amazonaws.com"}})), None, [], []),
    ("deny-then-a-write", "irsa-only-model-access",
     _read_document(lambda st: (st.insert(0, {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": OBJECTS}),
                                st.append({"Effect": "Allow", "Action": "s3:PutObject", "Resource": OBJECTS}))), None,
     _least_privilege("models-qwen3-8b-read.policy allows s3:PutObject; a model-reading role may only hold "
                      "['s3:GetObject', 's3:ListBucket'] (+ kms:Decrypt via S3)"), []),
    ("a-write-allowed-by-config", "irsa-only-model-access",
     _read_document(lambda st: st.append({"Effect": "Allow", "Action": "s3:PutObject", "Resource": OBJECTS})),
     {"allowedActions": ["s3:GetObject", "s3:ListBucket", "s3:PutObject"]}, [], []),
    ("read-whole-bucket", "irsa-only-model-access", _read_document(_whole_bucket), None,
     _least_privilege("s3:GetObject covers the whole bucket 'vllm-weights-prod'; restrict it to the model's prefix"),
     []),
    ("read-bucket-arn", "irsa-only-model-access",
     _read_document(lambda st: st[0].__setitem__("Resource", "arn:aws:s3:::vllm-weights-prod")), None,
     _least_privilege("models-qwen3-8b-read.policy allows s3:GetObject on 'arn:aws:s3:::vllm-weights-prod', not on "
                      "one object prefix"), []),
    ("list-without-prefix", "irsa-only-model-access", _read_document(lambda st: st[1].pop("Condition")), None,
     _least_privilege("models-qwen3-8b-read.policy allows s3:ListBucket without an s3:prefix condition"), []),
    ("list-without-prefix-allowed", "irsa-only-model-access", _read_document(lambda st: st[1].pop("Condition")),
     {"requireListBucketPrefixCondition": False}, [], []),
    ("list-another-prefix", "irsa-only-model-access",
     _read_document(lambda st: st[1]["Condition"]["StringLike"].__setitem__("s3:prefix", ["llama/*"])), None,
     _least_privilege("models-qwen3-8b-read.policy lists prefixes ['llama/*'] outside the role's object prefix"), []),
    ("list-an-enclosing-prefix", "irsa-only-model-access",
     _read_document(lambda st: st[1]["Condition"]["StringLike"].__setitem__("s3:prefix", "qwen3*")), None, [], []),
    ("list-an-inner-prefix", "irsa-only-model-access",
     _read_document(lambda st: st[1]["Condition"]["StringLike"].__setitem__("s3:prefix", "qwen3-8b/tokenizer/*")),
     None, [], []),
    ("not-action", "irsa-only-model-access",
     _read_document(lambda st: st.append({"Effect": "Allow", "NotAction": "iam:*", "Resource": OBJECTS})), None,
     _least_privilege("models-qwen3-8b-read.policy uses NotAction in an Allow statement"), []),
    ("inline-read", "irsa-only-model-access", _inline_read(), None, [], []),
    ("inline-read-whole-bucket", "irsa-only-model-access", _inline_read(_whole_bucket), None,
     _least_privilege("s3:GetObject covers the whole bucket 'vllm-weights-prod'; restrict it to the model's prefix"),
     []),
    ("inline-read-unknown", "irsa-only-model-access",
     lambda s: find(s, ROLE, READER)["props"].__setitem__("inlinePolicies", [{"name": "more", "policy": UNKNOWN}]),
     None, [], [f"unknown during preview: {READER}.inlinePolicies[0].policy"]),
    ("another-bucket-another-trust", "irsa-only-model-access", _other_reader(["arn:aws:s3:::logs-bucket/x/*"]), None,
     [], []),
    ("not-s3-then-the-model-bucket", "irsa-only-model-access",
     _other_reader(["arn:aws:sqs:us-east-1:123456789012:queue", "arn:aws:s3:::vllm-weights-prod/x/*"]), None,
     [*UNTRUSTED, "Role 'other-reader' reads model weights with more than least privilege: other-read.policy allows "
                  "s3:GetObject on 'arn:aws:sqs:us-east-1:123456789012:queue', not on one object prefix."], []),
    # A bucket named by its prefix (bucketPrefix): the physical name only starts with it.
    ("a-bucket-by-its-prefix", "irsa-only-model-access",
     lambda s: (find(s, BUCKET)["props"].update({"bucket": None, "bucketPrefix": "vllm-weights-"}),
                _other_reader(["arn:aws:s3:::vllm-weights-abc123/x/*"])(s)), None, UNTRUSTED, []),
    ("an-auto-named-bucket", "irsa-only-model-access",
     lambda s: (find(s, BUCKET)["props"].update({"bucket": UNKNOWN}),
                _other_reader(["arn:aws:s3:::logs-bucket/x/*"])(s)), None, UNTRUSTED, []),
    ("wildcard-inline", "no-wildcard-model-actions",
     _inline_read(lambda st: st[0].__setitem__("Action", ["s3:*"])), None,
     [f"inlinePolicies[0].policy statement 0 allows wildcard actions ['s3:*'] on ['{OBJECTS}']; grant explicit "
      "actions (s3:GetObject, s3:ListBucket)."], []),
    ("wildcard-single-character", "no-wildcard-model-actions",
     _read_document(lambda st: st[0].__setitem__("Action", "S3:Get?bject")), None,
     [f"policy statement 0 allows wildcard actions ['S3:Get?bject'] on ['{OBJECTS}']; grant explicit actions "
      "(s3:GetObject, s3:ListBucket)."], []),
    ("wildcard-on-another-service", "no-wildcard-model-actions",
     _read_document(lambda st: st.append({"Effect": "Allow", "Action": "sqs:*",
                                          "Resource": "arn:aws:sqs:us-east-1:123456789012:queue"})), None, [], []),
    ("star-not-resource", "no-wildcard-model-actions",
     _read_document(lambda st: st.append({"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:iam::*:*"})),
     None, ["policy statement 3 allows wildcard actions ['*'] on []; grant explicit actions (s3:GetObject, "
            "s3:ListBucket)."], []),
    ("not-action-on-s3", "no-wildcard-model-actions",
     _read_document(lambda st: st.append({"Effect": "Allow", "NotAction": "iam:*", "Resource": OBJECTS})), None,
     ["policy statement 3 allows NotAction on S3 resources; list actions explicitly."], []),
    ("deny-then-allow-all-in-a-bucket-policy", "no-wildcard-model-actions",
     lambda s: find(s, BUCKET_POLICY)["props"].__setitem__("policy", json.dumps({"Version": "2012-10-17", "Statement": [
         *json.loads(tls_only_policy())["Statement"],
         {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "s3:*",
          "Resource": OBJECTS}]})), None,
     [f"policy statement 1 allows wildcard actions ['s3:*'] on ['{OBJECTS}']; grant explicit actions (s3:GetObject, "
      "s3:ListBucket)."], []),
    ("wildcard-managed-policy", "no-wildcard-model-actions",
     lambda s: add(s, resource("aws:iam/policy:Policy", "broad", {"policy": json.dumps({"Version": "2012-10-17",
                   "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]})})), None,
     ["policy statement 0 allows wildcard actions ['s3:Get*'] on ['*']; grant explicit actions (s3:GetObject, "
      "s3:ListBucket)."], []),
    ("wildcard-user-policy", "no-wildcard-model-actions",
     lambda s: add(s, resource("aws:iam/userPolicy:UserPolicy", "ci", {"user": "ci", "policy": json.dumps({
         "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})})), None,
     ["policy statement 0 allows wildcard actions ['s3:*'] on ['*']; grant explicit actions (s3:GetObject, "
      "s3:ListBucket)."], []),
    ("wildcard-inline-unknown", "no-wildcard-model-actions",
     lambda s: find(s, ROLE, READER)["props"].__setitem__("inlinePolicies", [{"name": "more", "policy": UNKNOWN}]),
     None, [], ["unknown during preview: inlinePolicies[0].policy"]),
    ("wildcard-after-an-unknown-document", "no-wildcard-model-actions",
     lambda s: find(s, ROLE, READER)["props"].__setitem__("inlinePolicies", [
         {"name": "more", "policy": UNKNOWN},
         {"name": "broad", "policy": json.dumps({"Version": "2012-10-17", "Statement": [
             {"Effect": "Allow", "Action": "s3:*", "Resource": OBJECTS}]})}]), None,
     [f"inlinePolicies[1].policy statement 0 allows wildcard actions ['s3:*'] on ['{OBJECTS}']; grant explicit "
      "actions (s3:GetObject, s3:ListBucket)."], []),
    ("no-pod-identity", "no-pod-identity",
     lambda s: add(s, resource("aws:eks/podIdentityAssociation:PodIdentityAssociation", "pia", {"namespace": "llm"})),
     None, ["EKS Pod Identity associations are not allowed: this stack is IRSA-only (annotate the service account "
            "with an IRSA role instead)."], []),
] + [
    (f"iam-user-{type_.rsplit(':', 1)[-1]}", "no-iam-users", lambda s, t=type_: add(s, resource(t, "ci", {})), None,
     [f"{type_} creates long-lived IAM user credentials; use IAM roles (IRSA for pods)."], [])
    for type_ in ("aws:iam/user:User", "aws:iam/accessKey:AccessKey", "aws:iam/userPolicy:UserPolicy",
                  "aws:iam/userPolicyAttachment:UserPolicyAttachment", "aws:iam/userLoginProfile:UserLoginProfile")
]


@pytest.mark.parametrize("policy, mutation, config, messages, reasons", [c[1:] for c in IDENTITY_CASES],
                         ids=[c[0] for c in IDENTITY_CASES])
def test_identity_branches(check, policy, mutation, config, messages, reasons):
    """Sources: IAM User Guide, "IAM JSON policy elements" (Action wildcards * and ?, NotAction, NotResource;
    condition keys are not case-sensitive); EKS user guide, "IAM roles for service accounts" (the web-identity trust
    with <issuer>:sub and <issuer>:aud = sts.amazonaws.com)."""
    _run(check, policy, mutation, config, messages, reasons)


# ---------------------------------------------------------------------------------------------------------------
# The rest of pack 2: reliability and identity details, the S3 V2 resources, model reads, cost, operations and
# performance
# ---------------------------------------------------------------------------------------------------------------

PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"


def _args(*tokens, tp="4"):
    """The vLLM container's arguments: the compliant model and port with these flags (and a TP size unless None)."""
    def mutate(s):
        _vllm(s)["args"] = ["--model", "s3://vllm-weights-prod/qwen3-8b/", "--served-model-name", "qwen3-8b",
                            *(["--tensor-parallel-size", tp] if tp else []), *tokens]
    return mutate


def _v2(type_, old_type, name):
    """The same companion resource under its V2 type name (pulumi-aws 6: BucketVersioningV2,
    BucketServerSideEncryptionConfigurationV2)."""
    def mutate(s):
        companion = find(s, old_type)
        companion["type"] = type_
        companion["urn"] = companion["urn"].replace(old_type, type_)
        companion["name"] = name
    return mutate


def _trust(condition):
    return lambda s: find(s, ROLE, READER)["props"].__setitem__("assumeRolePolicy", json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
            "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/X"},
            "Condition": condition}]}))


_ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/X"


def _untrusted(problem):
    return [f"Role '{READER}' reads model weights but its trust policy is not IRSA for one service account: {problem}."]


def _streamed_from(url, env=None):
    def mutate(s):
        _vllm(s)["args"][1] = url
        if env is not None:
            _vllm(s)["env"] = env
    return mutate


def _read_resource(*resources):
    return _read_document(lambda st: st[0].__setitem__("Resource", list(resources)))


def _unknown_args_deployment():
    other = vllm_deployment(name="other")
    other["props"]["spec"]["template"]["spec"]["containers"][0]["args"] = UNKNOWN
    return other


def _second_deployment_unknown_args(s):
    add(s, _unknown_args_deployment())


def _outside_read(location):
    return (f"kubernetes:apps/v1:Deployment 'qwen3-8b-deployment' containers[vllm] reads {location}, but its role "
            f"'{READER}' (service account llm/qwen3-8b-reader) may read only ['vllm-weights-prod/qwen3-8b/*']: an "
            "AccessDenied when the pod starts. Grant the role read on that prefix (e.g. the model's LoRA adapters).")


UNUSED_GRANT = (f"Role '{READER}' may read s3://vllm-weights-prod/qwen3-8b/*, which none of its pods is told to read: "
                "grant only the prefixes the pods load (the model and its adapters).")


def _pool(requirements, taints=None):
    def mutate(s):
        spec = find(s, NODE_POOL)["props"]["spec"]["template"]["spec"]
        spec["requirements"] = requirements
        spec["taints"] = taints or []
    return mutate


_ON_DEMAND = {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]}
NO_ON_DEMAND_GPUS = ("No Karpenter NodePool offers on-demand GPU capacity (requirements karpenter.sh/capacity-type In "
                     "[on-demand] plus an nvidia.com/gpu taint or GPU instance requirements); when spot GPUs run out, "
                     "models cannot start.")


def _scaler(**changes):
    def mutate(s):
        spec = find(s, SCALED_OBJECT)["props"]["spec"]
        for key, value in changes.items():
            if key == "kind":
                spec["scaleTargetRef"]["kind"] = value
            elif key == "query":
                spec["triggers"][0]["metadata"]["query"] = value
            else:
                spec["triggers"][0][key] = value
    return mutate


NOT_SCALED = ("vLLM Deployment 'qwen3-8b-deployment' (llm/qwen3-8b) is not scaled by any KEDA ScaledObject; idle GPUs "
              "keep billing.")


def _no_queue(metric="vllm:num_requests_waiting"):
    return (f"vLLM Deployment 'qwen3-8b-deployment' is scaled by ['qwen3-8b-scaler'] but no prometheus trigger queries "
            f"{metric}.")


def _rule(expr, at=0):
    def mutate(s):
        rules = find(s, PROMETHEUS_RULE)["props"]["spec"]["groups"][0]["rules"]
        if at == len(rules):
            rules.append(dict(rules[0]))
        rules[at]["expr"] = expr
    return mutate


_TTFT = "histogram_quantile(0.95, sum by (le, model_name) (rate(vllm:time_to_first_token_seconds_bucket[5m])))"


def _too_lax(shown, target):
    return [f"The P95 time-to-first-token alert VllmSlowFirstToken ({shown} s) compares against more than the stack's "
            f"target of {target} s (policy config maxThresholdSeconds); it would not fire when answers are already slow."]


def _ignores(type_, *fields):
    return lambda s: find(s, type_)["options"].__setitem__("ignoreChanges", list(fields))


TP_DETAIL = ("vLLM container 'vllm' uses --tensor-parallel-size {tp} x pipeline {pp} x data {dp} = {n} but its "
             "nvidia.com/gpu limit is 4; they must be equal (too many fails at start, too few leaves paid GPUs idle).")

MORE_CASES = [
    # reliability: a subnet may name its zone by id (aws.ec2.Subnet availabilityZoneId, e.g. use1-az1).
    ("az-by-zone-id", "cluster-multi-az",
     lambda s: [subnet["props"].update({"availabilityZone": None,
                                        "availabilityZoneId": "use1-az1" if subnet["name"].endswith("a") else "use1-az2"})
                for subnet in find_all(s, SUBNET)], None, [], []),
    ("az-one-zone-id", "cluster-multi-az",
     lambda s: [subnet["props"].update({"availabilityZone": None, "availabilityZoneId": "use1-az1"})
                for subnet in find_all(s, SUBNET)], None,
     ["eks:index:Cluster 'gpu' spans 1 availability zone(s) ['use1-az1']; at least 2 are required so one zone outage "
      "does not take the service down.",
      "aws:eks/cluster:Cluster 'gpu-eksCluster' spans 1 availability zone(s) ['use1-az1']; at least 2 are required so "
      "one zone outage does not take the service down."], []),
    ("az-unknown-zones", "cluster-multi-az",
     lambda s: [subnet["props"].__setitem__("availabilityZone", UNKNOWN) for subnet in find_all(s, SUBNET)], None, [],
     ["unknown during preview: gpu subnet availability zones, gpu-eksCluster subnet availability zones"]),
    ("az-node-subnets-one-zone", "cluster-multi-az",
     lambda s: (remove(s, EKS_COMPONENT), remove(s, EKS_CLUSTER),
                [subnet["props"].__setitem__("availabilityZone", "us-east-1a") for subnet in find_all(s, SUBNET)]),
     None, ["Node subnets span 1 availability zone(s) ['us-east-1a']; at least 2 are required."], []),
    # The component's subnetIds input (eks.Cluster: "The set of all subnets, public and private") counts too.
    ("az-component-subnet-ids", "cluster-multi-az",
     lambda s: (find(s, EKS_COMPONENT)["props"].update({"privateSubnetIds": None, "publicSubnetIds": None,
                                                        "subnetIds": ["net-public-a-id"]}),
                remove(s, EKS_CLUSTER)), None,
     ["eks:index:Cluster 'gpu' spans 1 availability zone(s) ['us-east-1a']; at least 2 are required so one zone outage "
      "does not take the service down."], []),
    # An update preview shows the subnets' ids, which the cluster's vpcConfig.subnetIds names.
    ("az-cluster-subnet-ids-one-zone", "cluster-multi-az",
     lambda s: ([subnet["props"].__setitem__("id", f"subnet-{subnet['name']}") for subnet in find_all(s, SUBNET)],
                find(s, EKS_CLUSTER)["props"]["vpcConfig"].__setitem__(
                    "subnetIds", ["subnet-net-private-a", "subnet-net-public-a"])), None,
     ["aws:eks/cluster:Cluster 'gpu-eksCluster' spans 1 availability zone(s) ['us-east-1a']; at least 2 are required "
      "so one zone outage does not take the service down."], []),
    ("rollout-replicas-unknown", "vllm-rolling-update-keeps-ready-pod",
     lambda s: find(s, DEPLOYMENT)["props"]["spec"].__setitem__("replicas", UNKNOWN), None, [],
     ["unknown during preview: spec.strategy/spec.replicas"]),
    ("rollout-type-unknown", "vllm-rolling-update-keeps-ready-pod",
     lambda s: find(s, DEPLOYMENT)["props"]["spec"]["strategy"].__setitem__("type", UNKNOWN), None, [],
     ["unknown during preview: spec.strategy.type"]),
    ("rollout-max-unavailable-unknown", "vllm-rolling-update-keeps-ready-pod",
     lambda s: find(s, DEPLOYMENT)["props"]["spec"]["strategy"]["rollingUpdate"].__setitem__("maxUnavailable",
                                                                                             UNKNOWN), None, [],
     ["unknown during preview: spec.strategy.rollingUpdate.maxUnavailable"]),
    ("probe-unknown", "vllm-startup-probe-budget", lambda s: _vllm(s).__setitem__("startupProbe", UNKNOWN), None, [],
     ["unknown during preview: startupProbe"]),
    # storage: the V2 resource types judge the same.
    ("sse-v2", "model-bucket-encrypted", _v2(
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2", SSE,
        "models-weights-sse-v2"), None, [], []),
    # With a second bucket under the store, the encryption resource is tied to the model bucket by its `bucket`
    # input's dependency alone (the sibling guess needs one bucket).
    ("sse-beside-another-bucket", "model-bucket-encrypted",
     lambda s: add(s, resource(BUCKET, "models-logs", {"bucket": "vllm-logs", "tags": {"vllm-eks:purpose": "logs"}},
                               parent=find(s, BUCKET)["parent"], parent_type="vllm-eks:index:ModelStore")), None, [],
     []),
    ("managed-policy-whole-bucket", "irsa-only-model-access",
     lambda s: add(s, resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "ops-attach", {
                       "role": "ops", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
                   resource("aws:iam/policy:Policy", "models-extra", {"arn": "arn:aws:iam::123456789012:policy/x",
                                                                          "policy": json.dumps({"Version": "2012-10-17",
                                                                          "Statement": [{"Effect": "Allow",
                                                                          "Action": "s3:GetObject",
                                                                          "Resource": "arn:aws:s3:::vllm-weights-prod/*"}]})}),
                   resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "models-extra-attach", {
                       "role": "vllm-qwen3-8b-reader", "policyArn": "arn:aws:iam::123456789012:policy/x"})), None,
     _least_privilege("s3:GetObject covers the whole bucket 'vllm-weights-prod'; restrict it to the model's prefix"),
     []),
    ("versioning-v2", "model-bucket-versioned", _v2(
        "aws:s3/bucketVersioningV2:BucketVersioningV2", "aws:s3/bucketVersioning:BucketVersioning",
        "models-weights-versioning-v2"), None, [], []),
    ("versioning-v2-suspended", "model-bucket-versioned", lambda s: (
        find(s, "aws:s3/bucketVersioning:BucketVersioning")["props"]["versioningConfiguration"].__setitem__(
            "status", "Suspended"),
        _v2("aws:s3/bucketVersioningV2:BucketVersioningV2", "aws:s3/bucketVersioning:BucketVersioning",
            "models-weights-versioning-v2")(s)), None,
     ["Model bucket 'models-weights': versioning is not enabled (add a BucketVersioning with "
      "versioningConfiguration.status: Enabled)."], []),
    # identity: the IRSA trust ("IAM roles for service accounts", EKS user guide: StringEquals on
    # <issuer>:sub = system:serviceaccount:<namespace>:<name> and <issuer>:aud = sts.amazonaws.com).
    ("trust-sub-wildcard", "irsa-only-model-access",
     _trust({"StringEquals": {f"{_ISSUER}:sub": "system:serviceaccount:llm:*", f"{_ISSUER}:aud": "sts.amazonaws.com"}}),
     None, _untrusted("trust statement 0 sub 'system:serviceaccount:llm:*' is not one exact "
                      "system:serviceaccount:<namespace>:<name>"), []),
    ("trust-sub-like", "irsa-only-model-access",
     _trust({"StringEquals": {f"{_ISSUER}:aud": "sts.amazonaws.com"},
             "StringLike": {f"{_ISSUER}:sub": "system:serviceaccount:llm:qwen3-8b-reader"}}), None,
     _untrusted("trust statement 0 uses StringLike on sub/aud; use StringEquals") +
     _untrusted("trust statement 0 must bind exactly one service account with StringEquals <issuer>:sub (found "
                "none)"), []),
    ("trust-exact", "irsa-only-model-access",
     _trust({"StringEquals": {f"{_ISSUER}:sub": "system:serviceaccount:llm:qwen3-8b-reader",
                              f"{_ISSUER}:aud": "sts.amazonaws.com"}}), None, [], []),
    ("trust-unknown", "irsa-only-model-access",
     lambda s: find(s, ROLE, READER)["props"].__setitem__("assumeRolePolicy", UNKNOWN), None, [],
     [f"unknown during preview: {READER}.assumeRolePolicy"]),
    # model reads
    ("reads-another-bucket", "pod-reads-within-role", _streamed_from("s3://other-bucket/qwen3-8b/"), None,
     [_outside_read("s3://other-bucket/qwen3-8b"), UNUSED_GRANT], []),
    # A prefix is a directory: qwen3-8b/* does not cover qwen3-8b-instruct/ (S3 keys share the leading text).
    ("reads-a-sibling-prefix", "pod-reads-within-role", _streamed_from("s3://vllm-weights-prod/qwen3-8b-instruct/"),
     None, [_outside_read("s3://vllm-weights-prod/qwen3-8b-instruct"), UNUSED_GRANT], []),
    ("reads-under-a-star-grant", "pod-reads-within-role", _read_resource("*"), None,
     [f"Role '{READER}' may read s3://*/*, which none of its pods is told to read: grant only the prefixes the pods "
      "load (the model and its adapters)."], []),
    # Each workload is judged on its own: one whose containers or service account are unknown comes first.
    ("reads-after-an-undecided-pod", "pod-reads-within-role",
     lambda s: (_streamed_from("s3://other-bucket/qwen3-8b/")(s),
                s["resources"].insert(s["resources"].index(find(s, DEPLOYMENT)), _unknown_args_deployment())),
     None, [_outside_read("s3://other-bucket/qwen3-8b")], []),
    ("reads-after-a-pod-in-an-unknown-namespace", "pod-reads-within-role",
     lambda s: (_streamed_from("s3://other-bucket/qwen3-8b/")(s),
                s["resources"].insert(s["resources"].index(find(s, DEPLOYMENT)), vllm_deployment(
                    name="other", namespace=UNKNOWN))),
     None, [_outside_read("s3://other-bucket/qwen3-8b")], []),
    ("reads-a-bucket-from-env", "pod-reads-within-role",
     _streamed_from("s3://${BUCKET}/qwen3-8b/", [{"name": "BUCKET", "value": "vllm-weights-prod"}]), None, [], []),
    ("reads-a-bucket-from-env-short", "pod-reads-within-role",
     _streamed_from("s3://$BUCKET/qwen3-8b/", [{"name": "OTHER", "value": "x"},
                                              {"name": "BUCKET", "value": "vllm-weights-prod"}]), None, [], []),
    ("reads-a-bucket-not-in-env", "pod-reads-within-role", _streamed_from("s3://$BUCKET/qwen3-8b/"), None, [],
     ["unknown during preview: kubernetes:apps/v1:Deployment 'qwen3-8b-deployment' containers[vllm] bucket"]),
    ("reads-an-unknown-bucket-elsewhere", "pod-reads-within-role", _streamed_from("s3://$BUCKET/other/"), None,
     [_outside_read("s3://<unknown bucket>/other"), UNUSED_GRANT], []),
    ("reads-env-unknown", "pod-reads-within-role",
     _streamed_from("s3://$BUCKET/qwen3-8b/", [{"name": "BUCKET", "value": UNKNOWN}]), None, [],
     ["unknown during preview: kubernetes:apps/v1:Deployment 'qwen3-8b-deployment' containers"]),
    ("reads-grant-bucket-pattern", "pod-reads-within-role",
     _read_resource("arn:aws:s3:::vllm-weights-*/qwen3-8b/*"), None, [], []),
    ("reads-namespace-unknown", "pod-reads-within-role",
     lambda s: find(s, DEPLOYMENT)["props"]["metadata"].__setitem__("namespace", UNKNOWN), None, [],
     ["unknown during preview: kubernetes:apps/v1:Deployment 'qwen3-8b-deployment' service account"]),
    ("reads-beside-an-undecided-pod", "pod-reads-within-role", _second_deployment_unknown_args, None, [],
     ["unknown during preview: kubernetes:apps/v1:Deployment 'other-deployment' containers, "
      f"{READER}: what every pod reads"]),
    ("reads-permissions-unknown", "pod-reads-within-role",
     lambda s: find(s, ROLE_POLICY)["props"].__setitem__("policy", UNKNOWN), None, [],
     [f"unknown during preview: {READER} permissions"]),
    ("reads-trust-unknown", "pod-reads-within-role",
     lambda s: find(s, ROLE, READER)["props"].__setitem__("assumeRolePolicy", UNKNOWN), None, [],
     [f"unknown during preview: {READER}.assumeRolePolicy"]),
    # cost: KEDA scales the Deployment its scaleTargetRef names (kind defaults to Deployment, keda.sh "Scaling
    # Deployments, StatefulSets & Custom Resources").
    ("keda-name-unknown", "vllm-keda-autoscaling",
     lambda s: find(s, DEPLOYMENT)["props"]["metadata"].__setitem__("name", UNKNOWN), None, [],
     ["unknown during preview: qwen3-8b-deployment metadata.name/namespace"]),
    ("keda-targets-a-stateful-set", "vllm-keda-autoscaling", _scaler(kind="StatefulSet"), None, [NOT_SCALED], []),
    ("keda-targets-a-deployment", "vllm-keda-autoscaling", _scaler(kind="Deployment"), None, [], []),
    ("keda-query-unknown", "vllm-keda-autoscaling", _scaler(query=UNKNOWN), None, [],
     ["unknown during preview: qwen3-8b-deployment ScaledObject"]),
    ("keda-cpu-trigger", "vllm-keda-autoscaling", _scaler(type="cpu"), None, [_no_queue()], []),
    ("keda-other-metric", "vllm-keda-autoscaling", _scaler(query="sum(vllm:num_requests_running)"), None,
     [_no_queue()], []),
    ("keda-configured-metric", "vllm-keda-autoscaling", lambda s: None,
     {"queueMetric": "vllm:num_requests_running"}, [_no_queue("vllm:num_requests_running")], []),
    # Karpenter's well-known labels (karpenter.sh docs, "NodePools": instance-gpu-*, instance-category,
    # instance-family; node.kubernetes.io/instance-type).
    *[(f"on-demand-{key.rsplit('/', 1)[-1]}-{values[0]}", "gpu-on-demand-pool",
       _pool([_ON_DEMAND, {"key": key, "operator": "In", "values": values}]), None, [] if gpu else [NO_ON_DEMAND_GPUS],
       []) for key, values, gpu in [
        ("karpenter.k8s.aws/instance-gpu-manufacturer", ["nvidia"], True),
        ("karpenter.k8s.aws/instance-gpu-memory", ["24576"], True),
        ("karpenter.k8s.aws/instance-family", ["p5"], True),
        ("karpenter.k8s.aws/instance-family", ["gr6"], True),
        ("karpenter.k8s.aws/instance-family", ["inf2"], True),
        ("node.kubernetes.io/instance-type", ["trn1.32xlarge"], True),
        ("node.kubernetes.io/instance-type", ["G6E.xlarge"], True),
        ("node.kubernetes.io/instance-type", ["c7g.large"], False),
        ("karpenter.k8s.aws/instance-category", ["c"], False),
        ("topology.kubernetes.io/zone", ["g5"], False)]],
    ("on-demand-not-in", "gpu-on-demand-pool",
     _pool([{**_ON_DEMAND, "operator": "NotIn"}], [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]), None,
     [NO_ON_DEMAND_GPUS], []),
    ("on-demand-spot", "gpu-on-demand-pool",
     _pool([{**_ON_DEMAND, "values": ["spot"]}], [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]), None,
     [NO_ON_DEMAND_GPUS], []),
    ("on-demand-other-taint", "gpu-on-demand-pool", _pool([_ON_DEMAND], [{"key": "dedicated", "effect": "NoSchedule"}]),
     None, [NO_ON_DEMAND_GPUS], []),
    ("on-demand-unknown-requirement", "gpu-on-demand-pool",
     _pool([_ON_DEMAND, {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": UNKNOWN}]), None,
     [], ["unknown during preview: NodePool requirements"]),
    ("s3-endpoint-type-unknown", "s3-gateway-endpoint",
     lambda s: find(s, "aws:ec2/vpcEndpoint:VpcEndpoint")["props"].__setitem__("vpcEndpointType", UNKNOWN), None, [],
     ["unknown during preview: VpcEndpoint serviceName"]),
    # An endpoint without vpcEndpointType is a Gateway (aws.ec2.VpcEndpoint: "Defaults to Gateway").
    ("s3-endpoint-default-type", "s3-gateway-endpoint",
     lambda s: find(s, "aws:ec2/vpcEndpoint:VpcEndpoint")["props"].pop("vpcEndpointType"), None, [], []),
    ("s3-endpoint-interface", "s3-gateway-endpoint",
     lambda s: find(s, "aws:ec2/vpcEndpoint:VpcEndpoint")["props"].__setitem__("vpcEndpointType", "Interface"), None,
     ["No S3 gateway VPC endpoint (aws:ec2/vpcEndpoint serviceName com.amazonaws.<region>.s3, type Gateway): multi-GB "
      "weight downloads would go through the NAT gateway and be billed per GB."], []),
    ("s3-endpoint-vpc-elsewhere", "s3-gateway-endpoint", lambda s: remove(s, "aws:ec2/vpc:Vpc"), None, [],
     ["not in this stack, judge it where it is created: the existing VPC's endpoints"]),
    ("s3-endpoint-nothing-to-judge", "s3-gateway-endpoint",
     lambda s: (remove(s, "aws:ec2/vpc:Vpc"), remove(s, BUCKET)), None, [], []),
    # operations: Prometheus comparison operators (prometheus.io docs, "Operators": > and >=).
    ("ttft-at-least", "vllm-ttft-alert", _rule(f"{_TTFT} >= 2"), {"maxThresholdSeconds": 2}, [], []),
    ("ttft-fraction-above", "vllm-ttft-alert", _rule(f"{_TTFT} > 2.5"), {"maxThresholdSeconds": 2},
     _too_lax("2.5", "2"), []),
    ("ttft-exponent", "vllm-ttft-alert", _rule(f"{_TTFT} > 1e0"), {"maxThresholdSeconds": 1}, [], []),
    ("ttft-no-threshold", "vllm-ttft-alert", _rule(_TTFT), {"maxThresholdSeconds": 1.5}, _too_lax("no", "1.5"), []),
    ("ttft-no-threshold-any-target", "vllm-ttft-alert", _rule(_TTFT), None, [], []),
    ("ttft-expr-unknown", "vllm-ttft-alert", _rule(UNKNOWN), None, [], ["unknown during preview: PrometheusRule expressions"]),
    ("ttft-unknown-then-good", "vllm-ttft-alert", lambda s: (_rule(f"{_TTFT} > 2", at=1)(s), _rule(UNKNOWN)(s)),
     None, [], []),
    ("ttft-lax-then-good", "vllm-ttft-alert", lambda s: (_rule(f"{_TTFT} > 2", at=1)(s), _rule(f"{_TTFT} > 9")(s)),
     {"maxThresholdSeconds": 2}, [], []),
    ("logging-missing-one", "eks-control-plane-logging",
     lambda s: find(s, EKS_CLUSTER)["props"].__setitem__("enabledClusterLogTypes",
                                                          ["api", "authenticator", "controllerManager", "scheduler"]),
     None, ["enabledClusterLogTypes lacks ['audit']; enable all of ['api', 'audit', 'authenticator', "
            "'controllerManager', 'scheduler'] so control-plane activity can be audited."], []),
    ("logging-configured", "eks-control-plane-logging",
     lambda s: find(s, EKS_CLUSTER)["props"].__setitem__("enabledClusterLogTypes", ["api"]),
     {"requiredLogTypes": ["api"]}, [], []),
    ("logging-component-without-the-input", "eks-control-plane-logging",
     lambda s: find(s, EKS_COMPONENT)["props"].pop("enabledClusterLogTypes"), None, [], []),
    ("logging-one-unknown", "eks-control-plane-logging",
     lambda s: find(s, EKS_CLUSTER)["props"]["enabledClusterLogTypes"].append(UNKNOWN), None, [],
     ["unknown during preview: enabledClusterLogTypes"]),
    ("ignore-changes-nothing-allowed", "code-is-the-source-of-truth", _ignores(ROLE, "assumeRolePolicy", "tags"),
     None, ["ignoreChanges ['assumeRolePolicy', 'tags'] lets changes made outside the code stay: the program would no "
            "longer describe this resource. Allowed here: nothing (policy config allowedIgnoreChanges)."], []),
    ("ignore-changes-beside-replicas", "code-is-the-source-of-truth",
     _ignores(DEPLOYMENT, "spec.replicas", "spec.template"), None,
     ["ignoreChanges ['spec.template'] lets changes made outside the code stay: the program would no longer describe "
      "this resource. Allowed here: ['spec.replicas'] (policy config allowedIgnoreChanges)."], []),
    ("ignore-changes-configured", "code-is-the-source-of-truth", _ignores(ROLE, "tags"),
     {"allowedIgnoreChanges": {ROLE: ["tags"]}}, [], []),
    # performance: vLLM shards over tensor x pipeline x data parallel ranks (vLLM docs, "Parallelism and Scaling";
    # -tp, -pp and -dp are the short flags of vllm/engine/arg_utils.py).
    ("tp-limit-unknown", "vllm-tensor-parallel-matches-gpus",
     lambda s: _vllm(s)["resources"]["limits"].__setitem__("nvidia.com/gpu", UNKNOWN), None, [],
     ["unknown during preview: vllm.resources.limits"]),
    ("tp-one-arg-unknown", "vllm-tensor-parallel-matches-gpus", _args(UNKNOWN), None, [],
     ["unknown during preview: vllm parallelism flags"]),
    ("tp-times-pipeline", "vllm-tensor-parallel-matches-gpus", _args("-tp", "2", "-pp", "2", tp=None), None, [], []),
    ("tp-times-data", "vllm-tensor-parallel-matches-gpus", _args("--data-parallel-size=2", tp="2"), None, [], []),
    ("tp-times-data-short", "vllm-tensor-parallel-matches-gpus", _args("-dp", "2"), None,
     [TP_DETAIL.format(tp=4, pp=1, dp=2, n=8)], []),
    ("tp-times-pipeline-too-few", "vllm-tensor-parallel-matches-gpus", _args("--pipeline-parallel-size", "3", tp="1"),
     None, [TP_DETAIL.format(tp=1, pp=3, dp=1, n=3)], []),
    ("tp-default-one", "vllm-tensor-parallel-matches-gpus", _args(tp=None), None,
     ["vLLM container 'vllm' uses --tensor-parallel-size 1 but its nvidia.com/gpu limit is 4; they must be equal (too "
      "many fails at start, too few leaves paid GPUs idle)."], []),
    ("utilization-default", "vllm-gpu-memory-utilization-range", _args(), None, [], []),
    ("utilization-default-below-the-range", "vllm-gpu-memory-utilization-range", _args(), {"minUtilization": 0.91},
     ["vLLM container 'vllm' --gpu-memory-utilization is unset (vLLM default 0.9); keep it within 0.91-0.95 (policy "
      "config minUtilization/maxUtilization)."], []),
    ("utilization-at-the-top", "vllm-gpu-memory-utilization-range", _args("--gpu-memory-utilization", "0.95"), None,
     [], []),
    ("utilization-at-the-bottom", "vllm-gpu-memory-utilization-range", _args("--gpu-memory-utilization=0.85"), None,
     [], []),
    ("utilization-above", "vllm-gpu-memory-utilization-range", _args("--gpu-memory-utilization", "0.96"), None,
     ["vLLM container 'vllm' --gpu-memory-utilization is 0.96; keep it within 0.85-0.95 (policy config "
      "minUtilization/maxUtilization)."], []),
    ("utilization-unknown", "vllm-gpu-memory-utilization-range", _args("--gpu-memory-utilization", UNKNOWN), None, [],
     ["unknown during preview: vllm --gpu-memory-utilization"]),
]


@pytest.mark.parametrize("policy, mutation, config, messages, reasons", [c[1:] for c in MORE_CASES],
                         ids=[c[0] for c in MORE_CASES])
def test_more_branches(check, policy, mutation, config, messages, reasons):
    """Sources: the AWS, Kubernetes, Karpenter, KEDA, Prometheus and vLLM documents each case names."""
    _run(check, policy, mutation, config, messages, reasons)
