"""Each pack-2 policy's config schema as the pack declares it (every key, type, bound and default), its numeric
bounds judged on both sides and its types enforced, like the CLI does."""

from __future__ import annotations

import pytest

from preflight.policy_config import PolicyConfigError

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


# What a user reads next to each setting of the config schema (GetAnalyzerInfo configSchema descriptions).
DESCRIPTIONS = {
    "irsa-only-model-access": {
        "allowedActions": (
            'Actions a model-reading role may hold (kms:Decrypt is allowed only with a kms:ViaService '
            's3 condition).'
        ),
        "modelBucketTagKey": 'Tag key that marks the S3 bucket holding model weights.',
        "modelBucketTagValue": 'Tag value that marks the S3 bucket holding model weights.',
        "requireListBucketPrefixCondition": (
            "s3:ListBucket must carry an s3:prefix condition inside the role's one prefix."
        ),
    },
    "model-bucket-encrypted": {
        "modelBucketTagKey": 'Tag key that marks the S3 bucket holding model weights.',
        "modelBucketTagValue": 'Tag value that marks the S3 bucket holding model weights.',
        "requireCustomerManagedKey": 'The rule must name a KMS key (kmsMasterKeyId).',
    },
    "model-bucket-versioned": {
        "modelBucketTagKey": 'Tag key that marks the S3 bucket holding model weights.',
        "modelBucketTagValue": 'Tag value that marks the S3 bucket holding model weights.',
    },
    "model-bucket-public-access-blocked": {
        "modelBucketTagKey": 'Tag key that marks the S3 bucket holding model weights.',
        "modelBucketTagValue": 'Tag value that marks the S3 bucket holding model weights.',
    },
    "model-bucket-tls-only": {
        "modelBucketTagKey": 'Tag key that marks the S3 bucket holding model weights.',
        "modelBucketTagValue": 'Tag value that marks the S3 bucket holding model weights.',
    },
    "containers-run-as-non-root": {
        "exemptNamespaces": 'Namespaces whose workloads are not judged (system add-ons).',
    },
    "containers-read-only-root-filesystem": {
        "exemptNamespaces": 'Namespaces whose workloads are not judged (system add-ons).',
    },
    "containers-no-privilege-escalation": {
        "exemptNamespaces": 'Namespaces whose workloads are not judged (system add-ons).',
    },
    "vllm-api-key-from-secret": {
        "apiKeyEnvNames": 'Environment variables that carry the vLLM API key.',
    },
    "cluster-multi-az": {
        "nodeSubnetTagKeys": 'Subnet tag keys that mark subnets where nodes run (must be private).',
        "minAvailabilityZones": "Fewest distinct availability zones the cluster's subnets must span.",
    },
    "vllm-startup-probe-budget": {
        "minStartupSeconds": (
            'Least failureThreshold x periodSeconds a vLLM startup probe must allow (weights download +'
            ' load + CUDA graph capture).'
        ),
    },
    "vllm-pod-disruption-budget": {
        "minAvailable": 'Least minAvailable the PodDisruptionBudget must keep.',
    },
    "model-bucket-retained": {
        "modelBucketTagKey": 'Tag key that marks the S3 bucket holding model weights.',
        "modelBucketTagValue": 'Tag value that marks the S3 bucket holding model weights.',
    },
    "vllm-gpu-memory-utilization-range": {
        "maxUtilization": 'Highest --gpu-memory-utilization accepted (above risks CUDA OOM).',
        "minUtilization": 'Lowest --gpu-memory-utilization accepted (below wastes KV-cache memory).',
    },
    "vllm-keda-autoscaling": {
        "queueMetric": "Metric the Prometheus trigger's query must use (requests waiting in vLLM).",
    },
    "s3-gateway-endpoint": {
        "modelBucketTagKey": 'Tag key that marks the S3 bucket holding model weights.',
        "modelBucketTagValue": 'Tag value that marks the S3 bucket holding model weights.',
    },
    "vllm-ttft-alert": {
        "maxThresholdSeconds": (
            "Highest P95 threshold (s) the alert may compare against; 0 = any. A stack's policy config "
            'sets its real target, so an alert that would never fire does not count.'
        ),
        "quantileExpression": 'Text the alert expression must contain (the quantile it alerts on).',
        "metric": 'vLLM histogram the alert must read.',
    },
    "eks-control-plane-logging": {
        "requiredLogTypes": 'EKS control-plane log types that must be enabled.',
    },
    "code-is-the-source-of-truth": {
        "allowedIgnoreChanges": (
            'Per resource type, the properties a controller owns that the program may ignore changes '
            'to.'
        ),
    },
}


def test_config_descriptions_are_the_documented_ones(pack):
    declared = {p["name"]: {key: schema["description"] for key, schema in p["configSchema"]["properties"].items()
                            if key != "reason"} for p in pack.policies() if p["name"] in SCHEMAS}
    assert {name: keys for name, keys in declared.items() if keys} == DESCRIPTIONS


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
