"""Workload policies find the pod template of every workload kind where the Kubernetes API puts it (policies/
_kubernetes.py WORKLOAD_TYPES), sent through the Analyzer gRPC protocol like `pulumi preview` does. A privileged
container is the probe: containers-no-privilege-escalation fires on each kind and is quiet once it is not privileged.
"""

from __future__ import annotations

import copy

import pytest

from .snapshots import ECR, add, mutated, resource

POLICY = "containers-no-privilege-escalation"
# Where each kind keeps its pod template (Kubernetes API reference, workload resources: DeploymentSpec,
# StatefulSetSpec, DaemonSetSpec, ReplicaSetSpec and JobSpec `.template`; CronJobSpec `.jobTemplate`, a
# JobTemplateSpec whose `.spec` is a JobSpec; a Pod is its own template).
TEMPLATE_PATHS = {
    "kubernetes:apps/v1:Deployment": ("spec", "template"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template"),
    "kubernetes:batch/v1:Job": ("spec", "template"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template"),
    "kubernetes:core/v1:Pod": (),
}


def _workload(type_token: str, privileged: bool) -> dict:
    container = {"name": "tool", "image": ECR + "/tools/tool:1.0.0@sha256:" + "c" * 64,
                 "securityContext": {"runAsNonRoot": True, "readOnlyRootFilesystem": True,
                                     "allowPrivilegeEscalation": False, "privileged": privileged}}
    template: dict = {"metadata": {"labels": {"app": "tool"}}, "spec": {"containers": [container]}}
    for key in reversed(TEMPLATE_PATHS[type_token]):
        template = {key: template}
    props = {"metadata": {"name": "tool", "namespace": "llm"}, **copy.deepcopy(template)}
    if type_token == "kubernetes:core/v1:Pod":
        props["spec"] = template["spec"]
    return resource(type_token, "tool", props)


@pytest.mark.parametrize("type_token", sorted(TEMPLATE_PATHS))
def test_a_privileged_container_is_found_in_every_workload_kind(check, type_token):
    workload = _workload(type_token, privileged=True)
    fired = check(mutated(lambda s: add(s, workload))).by_policy(POLICY)
    assert [(v.urn, v.message.splitlines()[-1]) for v in fired] == [(workload["urn"], "containers[tool] is privileged.")]
    assert check(mutated(lambda s: add(s, _workload(type_token, privileged=False)))).by_policy(POLICY) == []
