"""checkov (Kubernetes framework, offline) on the manifests VllmService renders: zero failed checks.

Checked per stack (dev, prod, prod with two models): every Kubernetes object of the VllmService components
plus the NetworkPolicies of their namespaces.

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

from vllm_stacks import kubernetes_manifests, namespace_network_policies, render_two_models

CHECKOV_VERSION = "3.3.30"
CHECKOV_VENV = Path.home() / ".cache" / "vllm-eks" / "checkov-venv"
# Every skipped check, with the reason it does not apply.
SKIPPED_CHECKS = {
    "CKV_K8S_43": (
        "image digest: the vLLM image is pinned to an exact release tag (catalog VLLM_IMAGE) and a stack may pin "
        "`tag@sha256:…` in config; we never invent a digest we have not verified, and an advisory policy flags "
        "tag-only images"
    ),
    "CKV_K8S_15": (
        "imagePullPolicy Always: images are pinned release tags (or digests) served from the account's ECR pull-through "
        "cache; IfNotPresent means a restart or crash loop asks no registry at all (Kubernetes, \"Images\")"
    ),
}

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
    # With the NetworkPolicies the edge renders into the same namespaces (CKV2_K8S_6 looks for them).
    manifests = {
        stack: kubernetes_manifests(snapshot) + namespace_network_policies(snapshot) for stack, snapshot in snapshots.items()
    }
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
