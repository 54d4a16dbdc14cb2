"""checkov (Kubernetes framework, offline) on every Kubernetes object the stack renders: zero failed checks.

Checked per stack (dev, prod, prod with two models): every `kubernetes:*` resource of the rendered stack, whichever
component made it (VllmService, the router, autoscaling, observability, the GPU cluster's Karpenter objects), except
what SKIPS names with its reason.

checkov runs from its own venv (its pinned dependencies clash with the project's): the test creates
~/.cache/vllm-eks/checkov-venv on first use, or uses $CHECKOV_BIN when set.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from k8s_schemas import manifest
from vllm_stacks import render_two_models

CHECKOV_VERSION = "3.3.30"
CHECKOV_VENV = Path.home() / ".cache" / "vllm-eks" / "checkov-venv"
# Every skip, with its reason: a checkov check id (skipped on every object) or a Pulumi type token (objects not
# handed to checkov). Nothing else is skipped.
SKIPS = {
    "CKV_K8S_43": (
        "image digest: the vLLM image is pinned to an exact release tag (catalog VLLM_IMAGE) and a stack may pin "
        "`tag@sha256:…` in config; we never invent a digest we have not verified, and an advisory policy flags "
        "tag-only images"
    ),
    "CKV_K8S_15": (
        "imagePullPolicy Always: images are pinned release tags (or digests) served from the account's ECR pull-through "
        "cache; IfNotPresent means a restart or crash loop asks no registry at all (Kubernetes, \"Images\")"
    ),
    "kubernetes:helm.sh/v3:Release": (
        "a Helm release is not an object: Helm renders the upstream chart (version pinned in vllm_eks/planning/catalog.py) "
        "in the cluster, and the chart is not fetched offline"
    ),
    "kubernetes:core/v1:NamespacePatch": (
        "a server-side-apply patch of a few labels on a namespace that exists already, not a whole object"
    ),
}
SKIPPED_CHECKS = {key: reason for key, reason in SKIPS.items() if key.startswith("CKV")}
NOT_CHECKED_TYPES = {key for key in SKIPS if key.startswith("kubernetes:")}


def all_kubernetes_objects(snapshot: dict) -> list[dict]:
    """Every Kubernetes object the stack renders, as the API server would receive it."""
    return [manifest(r) for r in snapshot["resources"]
            if r["type"].startswith("kubernetes:") and r["type"] not in NOT_CHECKED_TYPES]


pytestmark = pytest.mark.slow


def _checkov() -> Path:
    if os.environ.get("CHECKOV_BIN"):
        return Path(os.environ["CHECKOV_BIN"])
    binary = CHECKOV_VENV / "bin" / "checkov"
    if not binary.exists():
        subprocess.run([sys.executable, "-m", "venv", str(CHECKOV_VENV)], check=True)
        subprocess.run(
            [str(CHECKOV_VENV / "bin" / "pip"), "install", "--quiet", f"checkov=={CHECKOV_VERSION}"],
            check=True,
            timeout=1200,
        )
    return binary


def _run_checkov(manifests_by_stack: dict[str, list[dict]], directory: Path) -> dict:
    """One YAML file per stack (object names recur across stacks), checked in one run."""
    for stack, objects in manifests_by_stack.items():
        (directory / f"{stack}.yaml").write_text(yaml.safe_dump_all(objects, sort_keys=False))
    environment = dict(os.environ, CKV_SKIP_PACKAGE_UPDATE_CHECK="true", BC_SKIP_MAPPING="TRUE")
    completed = subprocess.run(
        [
            str(_checkov()), "-d", str(directory), "--framework", "kubernetes", "--skip-download", "-o", "json",
            "--skip-check", ",".join(SKIPPED_CHECKS),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    report = json.loads(completed.stdout)
    return report[0] if isinstance(report, list) else report


@pytest.fixture(scope="module")
def checkov_report(tmp_path_factory, request) -> dict:
    snapshots = {
        "dev": request.getfixturevalue("dev_snapshot"),
        "prod": request.getfixturevalue("prod_snapshot"),
        "prod-two-models": render_two_models(),
    }
    manifests = {stack: all_kubernetes_objects(snapshot) for stack, snapshot in snapshots.items()}
    for obj in (o for objects in manifests.values() for o in objects if o["kind"] == "Secret"):
        obj["stringData"] = {key: "redacted" for key in obj.get("stringData", {})}
    return _run_checkov(manifests, tmp_path_factory.mktemp("checkov"))


def test_checkov_reports_no_failed_check(checkov_report):
    failed = [f"{c['check_id']} {c['check_name']} on {c['resource']}" for c in checkov_report["results"]["failed_checks"]]
    assert failed == []
    assert checkov_report["summary"]["parsing_errors"] == 0
    assert checkov_report["summary"]["resource_count"] >= 4 * 6  # four models, six objects each, at least


def test_checkov_saw_the_deployments_and_ran_the_pod_checks(checkov_report):
    passed = {(c["check_id"], c["resource"]) for c in checkov_report["results"]["passed_checks"]}
    for check in ("CKV_K8S_22", "CKV_K8S_20", "CKV_K8S_37", "CKV_K8S_31", "CKV_K8S_35", "CKV_K8S_40", "CKV_K8S_38"):
        assert (check, "Deployment.vllm-qwen3-8b.vllm-qwen3-8b") in passed, check
    skipped = {c["check_id"] for c in checkov_report["results"]["skipped_checks"]}
    assert skipped <= set(SKIPPED_CHECKS)


def test_checkov_ran_the_pod_checks_on_the_router(checkov_report):
    """The router Deployment: CPU limit and no automounted token (a projected one instead). Its pull policy is
    IfNotPresent from the account's ECR (CKV_K8S_15 is in SKIPS with the reason)."""
    passed = {(c["check_id"], c["resource"]) for c in checkov_report["results"]["passed_checks"]}
    for check in ("CKV_K8S_11", "CKV_K8S_38", "CKV_K8S_20", "CKV_K8S_22"):
        assert (check, "Deployment.vllm-qwen3-8b.vllm-router") in passed, check


def test_every_rendered_object_is_checked_or_skipped_with_a_reason(dev_snapshot, prod_snapshot):
    for snapshot in (dev_snapshot, prod_snapshot):
        kinds = {r["type"] for r in snapshot["resources"] if r["type"].startswith("kubernetes:")}
        assert kinds - NOT_CHECKED_TYPES, "nothing left to check"
        assert all(SKIPS[t].strip() for t in kinds & NOT_CHECKED_TYPES)
        objects = all_kubernetes_objects(snapshot)
        assert {"Deployment", "NetworkPolicy", "NodePool", "ScaledObject", "PrometheusRule", "Role"} <= \
            {o["kind"] for o in objects}
