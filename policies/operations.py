"""Operational excellence pillar: a latency alert exists for served models, and the control plane logs."""

from __future__ import annotations

import re

from _aws import EKS_CLUSTER, EKS_COMPONENT
from _kubernetes import undecided_vllm_deployments, vllm_deployments
from _stack import ADVISORY, StackView, resource_policy, stack_policy
from _values import as_list, get, is_unknown

PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"

TTFT_CONFIG = {
    "quantileExpression": {"type": "string", "default": "histogram_quantile(0.95",
                           "description": "Text the alert expression must contain (the quantile it alerts on)."},
    "metric": {"type": "string", "default": "vllm:time_to_first_token_seconds",
               "description": "vLLM histogram the alert must read."},
    "maxThresholdSeconds": {"type": "number", "minimum": 0, "default": 0,
                            "description": "Highest P95 threshold (s) the alert may compare against; 0 = any. A "
                                           "stack's policy config sets its real target, so an alert that would "
                                           "never fire does not count."},
}
# The comparison that ends an alert expression: `... > 2` (Prometheus comparison binary operators).
_THRESHOLD = re.compile(r"(?:>|>=)\s*([0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?)\s*$")


def _check_ttft_alert(view: StackView, config, findings, args):
    undecided_vllm_deployments(view, findings)  # "cannot judge yet" for those; judged below only if vLLM is known
    if not vllm_deployments(view):
        return
    unknown, too_lax = False, []
    ceiling = float(config["maxThresholdSeconds"] or 0)
    for rule_resource in view.of_type(PROMETHEUS_RULE):
        groups = get(view.p(rule_resource), "spec", "groups")
        if is_unknown(groups):
            unknown = True
            continue
        for group in as_list(groups):
            for rule in as_list(get(group, "rules")):
                expr = get(rule, "expr")
                if is_unknown(expr):
                    unknown = True
                    continue
                text = "".join(str(expr).split())
                if get(rule, "alert") and "".join(config["quantileExpression"].split()) in text \
                        and config["metric"] in text:
                    threshold = _THRESHOLD.search(str(expr).strip())
                    if ceiling and (threshold is None or float(threshold.group(1)) > ceiling):
                        too_lax.append(f"{get(rule, 'alert')} ({threshold.group(1) if threshold else 'no'} s)")
                        continue
                    return
    if unknown:
        findings.cannot_judge("PrometheusRule expressions")
        return
    if too_lax:
        findings.fail(f"The P95 time-to-first-token alert {', '.join(too_lax)} compares against more than the "
                      f"stack's target of {ceiling:g} s (policy config maxThresholdSeconds); it would not fire when "
                      "answers are already slow.")
        return
    findings.fail("vLLM is deployed but no PrometheusRule alerts on P95 time to first token "
                  f"({config['quantileExpression']} ... {config['metric']}_bucket ...)); slow answers would go unseen.")


vllm_ttft_alert = stack_policy(
    name="vllm-ttft-alert",
    description="When vLLM is deployed, a PrometheusRule alerts on P95 time to first token.",
    enforcement_level=ADVISORY,
    check=_check_ttft_alert,
    config=TTFT_CONFIG,
)


LOGGING_CONFIG = {
    "requiredLogTypes": {"type": "array", "items": {"type": "string"},
                         "default": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
                         "description": "EKS control-plane log types that must be enabled."},
}


def _check_control_plane_logging(resource_type, props, config, findings, args):
    if resource_type not in (EKS_COMPONENT, EKS_CLUSTER):
        return
    if resource_type == EKS_COMPONENT and "enabledClusterLogTypes" not in props:
        return  # a remote component's inputs may be absent; its aws:eks/cluster:Cluster child is judged
    enabled = props.get("enabledClusterLogTypes")
    if is_unknown(enabled) or any(is_unknown(v) for v in as_list(enabled)):
        findings.cannot_judge("enabledClusterLogTypes")
        return
    missing = [t for t in config["requiredLogTypes"] if t not in as_list(enabled)]
    if missing:
        findings.fail(f"enabledClusterLogTypes lacks {missing}; enable all of {config['requiredLogTypes']} so "
                      "control-plane activity can be audited.")


eks_control_plane_logging = resource_policy(
    name="eks-control-plane-logging",
    description="EKS control-plane logging is on for api, audit, authenticator, controllerManager and scheduler.",
    enforcement_level=ADVISORY,
    check=_check_control_plane_logging,
    config=LOGGING_CONFIG,
)


IAC_CONFIG = {
    "allowedIgnoreChanges": {
        "type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}},
        # KEDA's HPA owns a scaled Deployment's replica count (keda.sh, "Scaling Deployments"): the program lets go
        # of that one field on purpose.
        "default": {"kubernetes:apps/v1:Deployment": ["spec.replicas"]},
        "description": "Per resource type, the properties a controller owns that the program may ignore changes to.",
    },
}


def _check_code_is_the_source_of_truth(resource_type, props, config, findings, args):
    allowed = set(as_list((config["allowedIgnoreChanges"] or {}).get(resource_type)))
    # A protobuf repeated field, not a list: iterate it.
    ignored = [str(p) for p in (getattr(args.opts, "ignore_changes", None) or [])]
    drifting = [p for p in ignored if p not in allowed]
    if drifting:
        findings.fail(f"ignoreChanges {drifting} lets changes made outside the code stay: the program would no longer "
                      "describe this resource. Allowed here: "
                      f"{sorted(allowed) or 'nothing'} (policy config allowedIgnoreChanges).")


code_is_the_source_of_truth = resource_policy(
    name="code-is-the-source-of-truth",
    description="Infrastructure as code: no resource ignores changes to its properties, except fields a controller "
                "owns (a scaled Deployment's replicas).",
    enforcement_level=ADVISORY,
    check=_check_code_is_the_source_of_truth,
    config=IAC_CONFIG,
)


POLICIES = [
    vllm_ttft_alert,
    eks_control_plane_logging,
    code_is_the_source_of_truth,
]
