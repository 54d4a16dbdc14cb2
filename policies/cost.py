"""Cost pillar: GPUs scale with the queue, an on-demand GPU pool exists, S3 traffic avoids the NAT gateway."""

from __future__ import annotations

import re
from typing import Mapping

from _aws import MODEL_BUCKET_CONFIG, cluster_outside_stack, model_buckets
from _kubernetes import namespace_of, object_name, same_namespace, undecided_vllm_deployments, vllm_deployments
from _stack import ADVISORY, StackView, stack_policy
from _values import as_list, contains_unknown, get, is_unknown

SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
VPC = "aws:ec2/vpc:Vpc"


KEDA_CONFIG = {
    "queueMetric": {"type": "string", "default": "vllm:num_requests_waiting",
                    "description": "Metric the Prometheus trigger's query must use (requests waiting in vLLM)."},
}


def _check_keda(view: StackView, config, findings, args):
    scaled_objects = view.of_type(SCALED_OBJECT)
    undecided_vllm_deployments(view, findings)
    for deployment in vllm_deployments(view):
        props = view.p(deployment)
        name, namespace = object_name(props), namespace_of(props)
        if name is None or is_unknown(name) or is_unknown(namespace):
            findings.cannot_judge(f"{deployment.name} metadata.name/namespace")
            continue
        targeted, with_queue, unknown = [], False, False
        for scaled in scaled_objects:
            sp = view.p(scaled)
            target = get(sp, "spec", "scaleTargetRef")  # an unknown stays unknown through get()
            target_name, target_ns = get(target, "name"), namespace_of(sp)
            if is_unknown(target_name) or is_unknown(target_ns):
                unknown = True
                continue
            if target_name != name or not same_namespace(target_ns, namespace):
                continue
            if get(target, "kind", default="Deployment") not in ("Deployment", None):
                continue
            targeted.append(scaled)
            for trigger in as_list(get(sp, "spec", "triggers")):
                query = get(trigger, "metadata", "query")
                if is_unknown(query):
                    unknown = True
                elif get(trigger, "type") == "prometheus" and isinstance(query, str) \
                        and config["queueMetric"] in query:
                    with_queue = True
        if with_queue:
            continue
        if unknown:
            findings.cannot_judge(f"{deployment.name} ScaledObject")
        elif not targeted:
            findings.fail(f"vLLM Deployment '{deployment.name}' ({namespace or 'default'}/{name}) is not scaled by any "
                          "KEDA ScaledObject; idle GPUs keep billing.", deployment.urn)
        else:
            findings.fail(f"vLLM Deployment '{deployment.name}' is scaled by {[s.name for s in targeted]} but no "
                          f"prometheus trigger queries {config['queueMetric']}.", deployment.urn)


vllm_keda_autoscaling = stack_policy(
    name="vllm-keda-autoscaling",
    description="Every vLLM Deployment is scaled by a KEDA ScaledObject on vllm:num_requests_waiting.",
    enforcement_level=ADVISORY,
    check=_check_keda,
    config=KEDA_CONFIG,
)


GPU_REQUIREMENT_KEYS = ("karpenter.k8s.aws/instance-gpu-count", "karpenter.k8s.aws/instance-gpu-name",
                        "karpenter.k8s.aws/instance-gpu-manufacturer", "karpenter.k8s.aws/instance-gpu-memory")
GPU_FAMILY = re.compile(r"^(g|p|gr|trn|inf)\d", re.IGNORECASE)


def _is_gpu_pool(spec: Mapping) -> bool:
    for taint in as_list(get(spec, "taints")):
        if get(taint, "key") == "nvidia.com/gpu":
            return True
    for requirement in as_list(get(spec, "requirements")):
        key, values = get(requirement, "key"), [v for v in as_list(get(requirement, "values")) if isinstance(v, str)]
        if key in GPU_REQUIREMENT_KEYS:
            return True
        if key == "karpenter.k8s.aws/instance-category" and any(v in ("g", "p") for v in values):
            return True
        if key in ("karpenter.k8s.aws/instance-family", "node.kubernetes.io/instance-type") and \
                any(GPU_FAMILY.match(v) for v in values):
            return True
    return False


def _is_on_demand(spec: Mapping) -> bool:
    for requirement in as_list(get(spec, "requirements")):
        if get(requirement, "key") == "karpenter.sh/capacity-type" and get(requirement, "operator") == "In" \
                and "on-demand" in as_list(get(requirement, "values")):
            return True
    return False


def _check_on_demand_pool(view: StackView, config, findings, args):
    undecided_vllm_deployments(view, findings)  # "cannot judge yet" for those; judged below only if vLLM is known
    if not vllm_deployments(view):
        return
    unknown = False
    for pool in view.of_type(NODE_POOL):
        spec = get(view.p(pool), "spec", "template", "spec")
        if is_unknown(spec) or contains_unknown(get(spec, "requirements")):
            unknown = True
            continue
        if isinstance(spec, Mapping) and _is_gpu_pool(spec) and _is_on_demand(spec):
            return
    if unknown:
        findings.cannot_judge("NodePool requirements")
        return
    if cluster_outside_stack(view) and not view.of_type(NODE_POOL):
        findings.outside_stack("the existing cluster's Karpenter NodePools")
        return
    findings.fail("No Karpenter NodePool offers on-demand GPU capacity (requirements karpenter.sh/capacity-type In "
                  "[on-demand] plus an nvidia.com/gpu taint or GPU instance requirements); when spot GPUs run out, "
                  "models cannot start.")


gpu_on_demand_pool = stack_policy(
    name="gpu-on-demand-pool",
    description="A Karpenter NodePool offers on-demand GPU capacity, so models start when spot GPUs run out.",
    enforcement_level=ADVISORY,
    check=_check_on_demand_pool,
)


def _check_s3_endpoint(view: StackView, config, findings, args):
    if not view.of_type(VPC) and not model_buckets(view, config):
        return
    if not view.of_type(VPC):
        findings.outside_stack("the existing VPC's endpoints")
        return
    unknown = False
    for endpoint in view.of_type(VPC_ENDPOINT):
        props = view.p(endpoint)
        service, kind = props.get("serviceName"), props.get("vpcEndpointType", "Gateway")
        if is_unknown(service) or is_unknown(kind):
            unknown = True
            continue
        if isinstance(service, str) and service.endswith(".s3") and (kind or "Gateway") == "Gateway":
            return
    if unknown:
        findings.cannot_judge("VpcEndpoint serviceName")
        return
    findings.fail("No S3 gateway VPC endpoint (aws:ec2/vpcEndpoint serviceName com.amazonaws.<region>.s3, type "
                  "Gateway): multi-GB weight downloads would go through the NAT gateway and be billed per GB.")


s3_gateway_endpoint = stack_policy(
    name="s3-gateway-endpoint",
    description="The VPC has an S3 gateway endpoint so weight downloads skip NAT data charges.",
    enforcement_level=ADVISORY,
    check=_check_s3_endpoint,
    config=MODEL_BUCKET_CONFIG,
)


POLICIES = [
    vllm_keda_autoscaling,
    gpu_on_demand_pool,
    s3_gateway_endpoint,
]
