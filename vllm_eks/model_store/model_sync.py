"""Pure builders for the model sync Job: copy a Hugging Face checkpoint into one model's S3 prefix, once.

Three steps in one pod, each in its own container so every tool runs from a pinned image:
1. `token` (only with a token secret): the AWS CLI reads the Hugging Face token from Secrets Manager into a
   memory-backed volume. The token is never a literal in config, state, the pod spec or an environment variable.
2. `download`: huggingface_hub (pinned) fetches the checkpoint into a staging emptyDir on the node's data volume.
3. `upload`: the AWS CLI copies it into `s3://<bucket>/<prefix>/`; the bucket's default SSE-KMS encrypts it.
The pod's IRSA role may only write under that prefix and read that one secret (iam_documents.model_sync_write_policy).
"""

from __future__ import annotations

import json
import math
from typing import Any

from vllm_eks.planning.catalog import AWS_CLI_IMAGE, HUGGING_FACE_HUB_VERSION, PYTHON_IMAGE
from vllm_eks.cluster.image_cache import cached_image
from vllm_eks.serving.vllm_pod import pod_security_context

SYNC_NAMESPACE = "model-sync"
TOKEN_DIR = "/var/run/secrets/hugging-face"
TOKEN_PATH = f"{TOKEN_DIR}/token"
STAGING_DIR = "/staging"
# Extra room on top of the checkpoint: tokenizer files, huggingface_hub's download cache metadata, the pip target.
STAGING_MARGIN = 1.2
STAGING_EXTRA_GIB = 2
# A checkpoint of a few hundred GB over a NAT gateway can take hours; beyond this the Job is failed, not hung.
ACTIVE_DEADLINE_SECONDS = 6 * 3600
# Files Hugging Face repositories carry that vLLM never loads: the original (non-HF) checkpoints of Llama repos
# duplicate every weight.
IGNORED_FILES = ("original/*", "*.pth")


def sync_service_account(model_name: str) -> str:
    return f"sync-{model_name}"


def staging_gib(weight_bytes: int) -> int:
    """The staging volume for one checkpoint: its weights with a margin."""
    return math.ceil(weight_bytes * STAGING_MARGIN / 1024**3) + STAGING_EXTRA_GIB


def _download_script(hugging_face_id: str, with_token: bool) -> str:
    token = f'open("{TOKEN_PATH}").read().strip()' if with_token else "None"
    python = (
        "from huggingface_hub import snapshot_download; "
        f'snapshot_download(repo_id="{hugging_face_id}", local_dir="{STAGING_DIR}/model", '
        # JSON's double quotes: the whole program sits inside the shell's single quotes, which a Python repr would close.
        f"ignore_patterns={json.dumps(list(IGNORED_FILES))}, token={token})"
    )
    return (
        f"pip install --quiet --no-cache-dir --target /tmp/pylib huggingface_hub=={HUGGING_FACE_HUB_VERSION} && "
        f"PYTHONPATH=/tmp/pylib exec python -c '{python}'"
    )


def _restricted_container(name: str, image: str, script: str, mounts: list[dict[str, Any]], env: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "command": ["/bin/sh", "-c", script],
        "env": [{"name": "HOME", "value": "/tmp"}, *env],
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, *mounts],
        "resources": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "4Gi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }


def sync_job(
    *,
    model_name: str,
    hugging_face_id: str,
    bucket_name: Any,
    prefix: str,
    region: str,
    token_secret_name: str | None,
    staging_size_gib: int,
    node_selector: dict[str, str],
    image_registry: str,
) -> dict[str, Any]:
    """The Job manifest (bucket_name may be an Output: it is only placed in an environment variable)."""
    aws_cli_image = cached_image(AWS_CLI_IMAGE, image_registry)
    staging = {"name": "staging", "mountPath": STAGING_DIR}
    token_mount = {"name": "token", "mountPath": TOKEN_DIR}
    region_env = [{"name": "AWS_REGION", "value": region}]
    init_containers = []
    if token_secret_name is not None:
        init_containers.append(
            _restricted_container(
                "token",
                aws_cli_image,
                f'aws secretsmanager get-secret-value --secret-id "{token_secret_name}" --query SecretString --output text > {TOKEN_PATH}',
                [token_mount],
                region_env,
            )
        )
    init_containers.append(
        _restricted_container(
            "download",
            cached_image(PYTHON_IMAGE, image_registry),
            _download_script(hugging_face_id, token_secret_name is not None),
            [staging, *([token_mount] if token_secret_name else [])],
            [{"name": "HF_HUB_DISABLE_TELEMETRY", "value": "1"}],
        )
    )
    upload = _restricted_container(
        "upload",
        aws_cli_image,
        f'aws s3 cp --recursive --only-show-errors --exclude ".cache/*" {STAGING_DIR}/model "s3://$WEIGHTS_BUCKET/{prefix}/"',
        [staging],
        [*region_env, {"name": "WEIGHTS_BUCKET", "value": bucket_name}],
    )
    upload["resources"]["requests"]["ephemeral-storage"] = f"{staging_size_gib}Gi"
    volumes = [
        {"name": "tmp", "emptyDir": {"sizeLimit": "4Gi"}},
        {"name": "staging", "emptyDir": {"sizeLimit": f"{staging_size_gib}Gi"}},
    ]
    if token_secret_name is not None:
        volumes.append({"name": "token", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}})
    return {
        "metadata": {
            "name": f"sync-{model_name}",
            "namespace": SYNC_NAMESPACE,
            "labels": {"app.kubernetes.io/name": "model-sync", "app.kubernetes.io/instance": model_name},
            # `pulumi up` does not wait hours for a download; vLLM's startup probe retries until the weights are there.
            "annotations": {"pulumi.com/skipAwait": "true"},
        },
        "spec": {
            "backoffLimit": 3,
            "activeDeadlineSeconds": ACTIVE_DEADLINE_SECONDS,
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "model-sync", "app.kubernetes.io/instance": model_name}},
                "spec": {
                    "serviceAccountName": sync_service_account(model_name),
                    "restartPolicy": "Never",
                    "nodeSelector": dict(node_selector),
                    "securityContext": pod_security_context(),
                    "initContainers": init_containers,
                    "containers": [upload],
                    "volumes": volumes,
                },
            },
        },
    }
