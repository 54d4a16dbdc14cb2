"""Helpers for the VllmService tests: a two-model stack, and rendered Kubernetes objects as API-server manifests."""

from __future__ import annotations

import copy
from typing import Any

from k8s_schemas import manifest
from preflight.render import read_stack_config, render_config

# A second model beside prod's Qwen3-8B: small, sized by the planner (`instanceType: auto`), loaded through the
# s3-sync fallback, with one LoRA adapter, so the other code paths render too.
SECOND_MODEL = {
    "name": "qwen3-1-7b",
    "servedName": "qwen3-1.7b",
    "catalogModel": "qwen3-1.7b",
    "s3Prefix": "models/qwen3-1.7b",
    "maxModelLen": 16384,
    "instanceType": "auto",
    "minReplicas": 1,
    "maxReplicas": 2,
    "onDemandReplicas": 1,
    "capacityType": "on-demand",
    "loadFormat": "s3-sync",
    "loraAdapters": [{"name": "sql", "s3Prefix": "adapters/sql"}],
}


def two_model_config() -> dict[str, Any]:
    config = copy.deepcopy(read_stack_config("prod"))
    config["vllm-eks:models"] = config["vllm-eks:models"] + [copy.deepcopy(SECOND_MODEL)]
    return config


def render_two_models() -> dict[str, Any]:
    return render_config("prod", two_model_config())


def kubernetes_manifests(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    """Every Kubernetes object the VllmService components render, as the API server would receive it."""
    components = {r["urn"] for r in snapshot["resources"] if r["type"] == "vllm-eks:index:VllmService"}
    objects = []
    for resource in snapshot["resources"]:
        if resource["parent"] in components and resource["type"].startswith("kubernetes:"):
            objects.append(manifest(resource))
    return objects


def namespace_network_policies(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    """The NetworkPolicies rendered (by whichever component) into the vLLM namespaces."""
    namespaces = {obj["metadata"]["name"] for obj in kubernetes_manifests(snapshot) if obj["kind"] == "Namespace"}
    policies = [manifest(r) for r in snapshot["resources"] if r["type"] == "kubernetes:networking.k8s.io/v1:NetworkPolicy"]
    return [policy for policy in policies if policy["metadata"].get("namespace") in namespaces]
