"""ModelStore: the weights bucket, the per-model read role bound to one service account, the optional sync Job."""

from __future__ import annotations

import copy
import json

import pytest

from preflight.render import read_stack_config, render_config
from stack_config import StackConfigError, load_stack_config
from rendered import resource_named, resources_of
from k8s_schemas import manifest, validate_core

ROLE = "aws:iam/role:Role"
POLICY = "aws:iam/rolePolicy:RolePolicy"
TOKEN_SECRET = "vllm-eks/hugging-face-token"


@pytest.fixture(scope="module")
def sync_snapshot() -> dict:
    """prod with the Hugging Face sync on, the token read from Secrets Manager."""
    config = copy.deepcopy(read_stack_config("prod"))
    config["vllm-eks:cluster"]["huggingFaceTokenSecretName"] = TOKEN_SECRET
    config["vllm-eks:models"][0]["syncFromHuggingFace"] = True
    return render_config("prod-sync", config)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_bucket_is_encrypted_versioned_private_tls_only_and_kept(stack, request):
    snapshot = request.getfixturevalue(f"{stack}_snapshot")  # the same bucket in every stack
    bucket = resource_named(snapshot, "aws:s3/bucket:Bucket", "models-weights")
    assert bucket["props"]["tags"]["vllm-eks:purpose"] == "model-weights"
    assert bucket["props"]["forceDestroy"] is False
    # retained, not protected: protect would make `pulumi destroy` fail (Pulumi docs, "Resource option: protect")
    assert bucket["options"]["retainOnDelete"] is True and bucket["options"]["protect"] is False
    key = resource_named(snapshot, "aws:kms/key:Key", "models-key")
    assert key["props"]["enableKeyRotation"] is True and key["options"]["retainOnDelete"] is True
    rule = resource_named(
        snapshot, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "models-encryption"
    )["props"]["rules"][0]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    assert rule["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"].startswith("arn:aws:kms:us-east-1:123456789012:key/")
    assert rule["bucketKeyEnabled"] is True
    versioning = resource_named(snapshot, "aws:s3/bucketVersioning:BucketVersioning", "models-versioning")["props"]
    assert versioning["versioningConfiguration"] == {"status": "Enabled"}
    blocks = resource_named(snapshot, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "models-public-access")["props"]
    assert all(blocks[flag] is True for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    policy = json.loads(resource_named(snapshot, "aws:s3/bucketPolicy:BucketPolicy", "models-policy")["props"]["policy"])
    assert policy["Statement"][0]["Effect"] == "Deny"
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    bucket_arn, objects = policy["Statement"][0]["Resource"]
    assert bucket_arn.startswith("arn:aws:s3:::vllm-weights-") and objects == f"{bucket_arn}/*"
    # S3 user guide, "Lifecycle configuration elements": an enabled rule with an empty prefix filter applies to every
    # object; a replaced checkpoint's old version goes after 30 days, a failed multipart upload's parts after 7.
    lifecycle = resource_named(snapshot, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "models-lifecycle")
    assert lifecycle["props"]["rules"] == [{
        "id": "expire-old-versions", "status": "Enabled", "filter": {"prefix": ""},
        "noncurrentVersionExpiration": {"noncurrentDays": 30}, "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7}}]
    # S3 user guide, "Controlling ownership of objects and disabling ACLs": BucketOwnerEnforced turns ACLs off.
    ownership = resource_named(snapshot, "aws:s3/bucketOwnershipControls:BucketOwnershipControls", "models-ownership")
    assert ownership["props"]["rule"] == {"objectOwnership": "BucketOwnerEnforced"}


# Each stack's model as its stack file names it: (stack, model name, service account namespace, s3Prefix).
MODELS = [("dev", "qwen3-1-7b", "vllm-qwen3-1-7b", "models/qwen3-1.7b"),
          ("prod", "qwen3-8b", "vllm-qwen3-8b", "models/qwen3-8b")]


@pytest.mark.parametrize("stack,model,namespace,prefix", MODELS)
def test_read_role_trusts_exactly_the_serving_service_account(stack, model, namespace, prefix, request):
    role = resource_named(request.getfixturevalue(f"{stack}_snapshot"), ROLE, f"models-{model}-read")
    statement = json.loads(role["props"]["assumeRolePolicy"])["Statement"]
    assert len(statement) == 1 and statement[0]["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement[0]["Principal"]["Federated"].startswith("arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/")
    issuer = statement[0]["Principal"]["Federated"].split(":oidc-provider/")[1]
    assert statement[0]["Condition"] == {
        "StringEquals": {f"{issuer}:sub": f"system:serviceaccount:{namespace}:vllm-server", f"{issuer}:aud": "sts.amazonaws.com"}
    }


@pytest.mark.parametrize("stack,model,namespace,prefix", MODELS)
def test_read_policy_is_the_model_prefix_only(stack, model, namespace, prefix, request):
    document = json.loads(resource_named(request.getfixturevalue(f"{stack}_snapshot"), POLICY,
                                         f"models-{model}-read-policy")["props"]["policy"])
    get, listing, decrypt = document["Statement"]
    assert get["Action"] == "s3:GetObject" and get["Resource"].endswith(f"/{prefix}/*")
    assert listing["Action"] == "s3:ListBucket" and listing["Condition"] == {"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}}
    assert decrypt["Action"] == "kms:Decrypt" and decrypt["Condition"]["StringEquals"]["kms:ViaService"] == "s3.us-east-1.amazonaws.com"


def test_no_iam_user_or_access_key_and_no_sync_by_default(prod_snapshot, dev_snapshot):
    for snapshot in (prod_snapshot, dev_snapshot):
        types = {resource["type"] for resource in snapshot["resources"]}
        assert not types & {"aws:iam/user:User", "aws:iam/accessKey:AccessKey"}
        assert not [job["name"] for job in resources_of(snapshot, "kubernetes:batch/v1:Job") if job["name"].startswith("models-")]


def test_sync_job_role_writes_only_its_prefix_and_reads_the_token(sync_snapshot):
    role = resource_named(sync_snapshot, ROLE, "models-qwen3-8b-sync")
    condition = json.loads(role["props"]["assumeRolePolicy"])["Statement"][0]["Condition"]["StringEquals"]
    assert "system:serviceaccount:model-sync:sync-qwen3-8b" in condition.values()
    document = json.loads(resource_named(sync_snapshot, POLICY, "models-qwen3-8b-sync-policy")["props"]["policy"])
    by_sid = {statement["Sid"]: statement for statement in document["Statement"]}
    assert by_sid["WriteModelObjects"]["Action"] == ["s3:PutObject", "s3:AbortMultipartUpload"]
    assert by_sid["WriteModelObjects"]["Resource"].endswith("/models/qwen3-8b/*")
    assert by_sid["ReadHuggingFaceToken"]["Resource"] == f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{TOKEN_SECRET}-??????"


def test_sync_job_manifest_is_valid_restricted_and_keeps_the_token_out(sync_snapshot):
    job = manifest(resource_named(sync_snapshot, "kubernetes:batch/v1:Job", "models-qwen3-8b-sync-job"))
    validate_core(job)
    validate_core(manifest(resource_named(sync_snapshot, "kubernetes:core/v1:ServiceAccount", "models-qwen3-8b-sync-sa")))
    validate_core(manifest(resource_named(sync_snapshot, "kubernetes:core/v1:Namespace", "models-sync-namespace")))
    pod = job["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "sync-qwen3-8b" and pod["nodeSelector"] == {"vllm-eks/node-role": "system"}
    containers = pod["initContainers"] + pod["containers"]
    assert [c["name"] for c in containers] == ["token", "download", "upload"]
    assert all(c["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                         "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}} for c in containers)
    # The read-only root leaves HOME on the /tmp emptyDir (pip, the AWS CLI and huggingface_hub write under it); the
    # token file sits in a 1 MiB in-memory volume; the AWS CLI needs the region (AWS CLI "Environment variables":
    # AWS_REGION); huggingface_hub's telemetry is off (HF_HUB_DISABLE_TELEMETRY, huggingface_hub docs "Environment
    # variables").
    home = {"name": "HOME", "value": "/tmp"}
    assert {c["name"]: c["env"] for c in containers} == {
        "token": [home, {"name": "AWS_REGION", "value": "us-east-1"}],
        "download": [home, {"name": "HF_HUB_DISABLE_TELEMETRY", "value": "1"}],
        "upload": [home, {"name": "AWS_REGION", "value": "us-east-1"},
                   {"name": "WEIGHTS_BUCKET", "value": sync_snapshot["outputs"]["modelBucket"]}]}
    assert {c["name"]: [m["mountPath"] for m in c["volumeMounts"]] for c in containers} == {
        "token": ["/tmp", "/var/run/secrets/hugging-face"],
        "download": ["/tmp", "/staging", "/var/run/secrets/hugging-face"], "upload": ["/tmp", "/staging"]}
    assert {v["name"]: v["emptyDir"] for v in pod["volumes"]} == {
        "tmp": {"sizeLimit": "4Gi"}, "staging": {"sizeLimit": "21Gi"}, "token": {"medium": "Memory", "sizeLimit": "1Mi"}}
    # Kubernetes "Jobs": three retries, and a six-hour cap on a download that hangs.
    assert (job["spec"]["backoffLimit"], job["spec"]["activeDeadlineSeconds"]) == (3, 21600)
    assert TOKEN_SECRET in containers[0]["command"][2]
    text = json.dumps(job)
    assert "HF_TOKEN" not in text and "hf_" not in text  # the token itself never appears, only where to find it
    assert '"s3://$WEIGHTS_BUCKET/models/qwen3-8b/"' in containers[2]["command"][2]
    staging = next(v for v in pod["volumes"] if v["name"] == "staging")
    # qwen3-8b: 8.19e9 bf16 parameters, 15.3 GiB; with a fifth more room 18.3, rounded up 19, plus 2 GiB: 21 Gi.
    assert staging["emptyDir"]["sizeLimit"] == "21Gi"
    assert job["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"


def test_sync_needs_a_hugging_face_id():
    model = {"name": "m", "servedName": "m", "catalogModel": "qwen3-8b", "s3Prefix": "models/m", "maxModelLen": 4096, "syncFromHuggingFace": True}
    with pytest.raises(StackConfigError, match=r"models\[0\].syncFromHuggingFace: got True, expected false unless huggingFaceId"):
        load_stack_config({"models": [model], "edge": {"consumers": [{"name": "a", "requestsPerSecond": 1, "burst": 1}]}})


@pytest.mark.parametrize(
    "adapter, expected",
    [
        ({"name": "Bad_Name!x", "s3Prefix": "loras/x"}, "models[0].loraAdapters[0].name: got 'Bad_Name!x', expected a string matching ^"),
        ({"name": "x", "s3Prefix": "Loras/../../x"}, "models[0].loraAdapters[0].s3Prefix: got 'Loras/../../x', expected a relative S3 key prefix such as loras/my-adapter: lowercase letters"),
        ({"name": "x", "s3Prefix": "loras/../x"}, "(no '..' segment)"),
        ({"name": "x", "s3Prefix": "/loras/x"}, "no leading or trailing /"),
    ],
)
def test_lora_adapter_name_and_prefix_are_validated(adapter, expected):
    model = copy.deepcopy(read_stack_config("prod")["vllm-eks:models"][0]) | {"loraAdapters": [adapter]}
    with pytest.raises(StackConfigError) as raised:
        load_stack_config({"models": [model], "edge": {"consumers": [{"name": "a", "requestsPerSecond": 1, "burst": 1}]}})
    assert any(expected in problem for problem in raised.value.problems), raised.value.problems


def test_the_read_role_may_read_each_adapter_prefix_and_nothing_more():
    """The pod's fetch init container syncs adapters with the pod's own IRSA role (vllm_eks/serving/vllm_pod.py)."""
    config = copy.deepcopy(read_stack_config("prod"))
    config["vllm-eks:models"][0]["loraAdapters"] = [{"name": "sql", "s3Prefix": "loras/sql"}, {"name": "chat", "s3Prefix": "loras/chat"}]
    snapshot = render_config("prod", config)
    document = json.loads(resource_named(snapshot, POLICY, "models-qwen3-8b-read-policy")["props"]["policy"])
    objects = [resource.split(":::", 1)[1].split("/", 1)[1] for resource in document["Statement"][0]["Resource"]]
    assert objects == ["models/qwen3-8b/*", "loras/sql/*", "loras/chat/*"]
    fetch = next(
        container
        for deployment in resources_of(snapshot, "kubernetes:apps/v1:Deployment")
        for container in deployment["props"]["spec"]["template"]["spec"].get("initContainers", [])
        if container["name"] == "fetch-weights"
    )
    assert '"s3://$WEIGHTS_BUCKET/loras/sql"' in fetch["command"][2] and '"s3://$WEIGHTS_BUCKET/loras/chat"' in fetch["command"][2]


POD_TEMPLATE_KINDS = {"Deployment", "Job", "StatefulSet", "DaemonSet"}


@pytest.mark.parametrize("stack", ["dev_snapshot", "prod_snapshot", "sync_snapshot"])
def test_every_mounted_volume_exists_in_its_pod_and_every_volume_is_mounted(stack, request):
    """Kubernetes "Volumes": a container's volumeMounts[].name must name one of the pod's volumes, or the API server
    rejects the pod. Checked on every pod template every fixture renders, the sync Job's included."""
    snapshot = request.getfixturevalue(stack)
    pods = [
        (resource["name"], manifest(resource)["spec"]["template"]["spec"])
        for resource in snapshot["resources"]
        if resource["type"].startswith("kubernetes:") and resource["type"].rsplit(":", 1)[-1] in POD_TEMPLATE_KINDS
    ]
    assert pods
    for name, pod in pods:
        volumes = {volume["name"] for volume in pod.get("volumes", [])}
        mounted = {
            mount["name"]
            for container in pod.get("initContainers", []) + pod["containers"]
            for mount in container.get("volumeMounts", [])
        }
        assert mounted <= volumes, (name, mounted - volumes)
        assert volumes <= mounted, (name, volumes - mounted)
    if stack == "sync_snapshot":
        assert any(pod["containers"][0]["name"] == "upload" for _, pod in pods)


def test_key_bucket_and_roles_whole(prod_snapshot):
    """The weights key and bucket with every input (KMS ScheduleKeyDeletion: 7-30 days, here the longest; S3 bucket
    names come from the prefix plus a suffix), and the read role's description naming its one service account."""
    assert resource_named(prod_snapshot, "aws:kms/key:Key", "models-key")["props"] == {
        "description": "Model weights (S3 SSE-KMS)", "enableKeyRotation": True, "deletionWindowInDays": 30,
        "tags": {"vllm-eks:purpose": "model-weights"}}
    assert resource_named(prod_snapshot, "aws:s3/bucket:Bucket", "models-weights")["props"] == {
        "bucketPrefix": "vllm-weights-", "forceDestroy": False, "tags": {"vllm-eks:purpose": "model-weights"}}
    assert resource_named(prod_snapshot, ROLE, "models-qwen3-8b-read")["props"]["description"] == (
        "Read the weights of qwen3-8b (vllm-qwen3-8b/vllm-server only)")


def test_sync_namespace_and_service_account_whole(sync_snapshot):
    """Pod Security Standards: the sync namespace enforces, warns and audits `restricted`. IRSA ("IAM roles for service
    accounts"): the service account's eks.amazonaws.com/role-arn annotation names the sync role; no API token mounted."""
    assert resource_named(sync_snapshot, "kubernetes:core/v1:Namespace", "models-sync-namespace")["props"]["metadata"] == {
        "name": "model-sync", "labels": {"pod-security.kubernetes.io/enforce": "restricted",
                                         "pod-security.kubernetes.io/warn": "restricted",
                                         "pod-security.kubernetes.io/audit": "restricted"}}
    account = resource_named(sync_snapshot, "kubernetes:core/v1:ServiceAccount", "models-qwen3-8b-sync-sa")["props"]
    role_arn = account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert role_arn.startswith("arn:aws:iam::123456789012:role/models-qwen3-8b-sync-")
    assert (account["metadata"], account["automountServiceAccountToken"]) == (
        {"name": "sync-qwen3-8b", "namespace": "model-sync", "annotations": {"eks.amazonaws.com/role-arn": role_arn}}, False)
    assert resource_named(sync_snapshot, ROLE, "models-qwen3-8b-sync")["props"]["description"] == (
        "Write the weights of qwen3-8b (model-sync/sync-qwen3-8b only)")


def test_sync_job_scripts_resources_and_pod_whole():
    """The pure Job builder, every command and resource. huggingface_hub "Download files" (snapshot_download: repo_id,
    local_dir, ignore_patterns, token); Llama repositories carry an `original/` copy of every weight and `.pth` files
    vLLM never loads. AWS CLI: `secretsmanager get-secret-value --query SecretString --output text`, `s3 cp
    --recursive --exclude`. Kubernetes "Jobs": restartPolicy Never, backoffLimit; "Resource Management for Pods and
    Containers": the upload container requests the staging volume's ephemeral storage."""
    from vllm_eks.model_store.model_sync import sync_job
    from vllm_eks.planning.catalog import HUGGING_FACE_HUB_VERSION

    host = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    job = sync_job(model_name="llama", hugging_face_id="meta-llama/Llama-3.1-8B-Instruct", bucket_name="b", prefix="models/llama",
                   region="eu-west-1", token_secret_name="hf/token", staging_size_gib=21,
                   node_selector={"role": "system"}, image_registry=host)
    labels = {"app.kubernetes.io/name": "model-sync", "app.kubernetes.io/instance": "llama"}
    assert job["metadata"] == {"name": "sync-llama", "namespace": "model-sync", "labels": labels,
                               "annotations": {"pulumi.com/skipAwait": "true"}}
    pod = job["spec"]["template"]
    assert pod["metadata"] == {"labels": labels}
    token, download = pod["spec"]["initContainers"]
    (upload,) = pod["spec"]["containers"]
    assert token["command"] == ["/bin/sh", "-c", 'aws secretsmanager get-secret-value --secret-id "hf/token" --query SecretString '
                                                 "--output text > /var/run/secrets/hugging-face/token"]
    assert download["command"] == ["/bin/sh", "-c",
        f"pip install --quiet --no-cache-dir --target /tmp/pylib huggingface_hub=={HUGGING_FACE_HUB_VERSION} && "
        "PYTHONPATH=/tmp/pylib exec python -c 'from huggingface_hub import snapshot_download; "
        'snapshot_download(repo_id="meta-llama/Llama-3.1-8B-Instruct", local_dir="/staging/model", '
        'ignore_patterns=["original/*", "*.pth"], token=open("/var/run/secrets/hugging-face/token").read().strip())\'']
    assert upload["command"] == ["/bin/sh", "-c", 'aws s3 cp --recursive --only-show-errors --exclude ".cache/*" /staging/model '
                                                  '"s3://$WEIGHTS_BUCKET/models/llama/"']
    small = {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "4Gi"}}
    assert (token["resources"], download["resources"]) == (small, small)
    assert upload["resources"] == {"requests": {"cpu": "1", "memory": "2Gi", "ephemeral-storage": "21Gi"}, "limits": {"memory": "4Gi"}}
    assert {key: value for key, value in pod["spec"].items() if key not in ("initContainers", "containers", "volumes")} == {
        "serviceAccountName": "sync-llama", "restartPolicy": "Never", "nodeSelector": {"role": "system"},
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001,
                            "seccompProfile": {"type": "RuntimeDefault"}}}
    public = sync_job(model_name="qwen", hugging_face_id="Qwen/Qwen3-8B", bucket_name="b", prefix="models/qwen", region="eu-west-1",
                      token_secret_name=None, staging_size_gib=21, node_selector={}, image_registry=host)["spec"]["template"]["spec"]
    (download,) = public["initContainers"]
    assert download["command"][2].endswith('ignore_patterns=["original/*", "*.pth"], token=None)\'')
    assert [mount["mountPath"] for mount in download["volumeMounts"]] == ["/tmp", "/staging"]
    assert [volume["name"] for volume in public["volumes"]] == ["tmp", "staging"]


def test_the_download_script_survives_the_shell_and_calls_snapshot_download(tmp_path):
    """The download container's `sh -c` script run by a real /bin/sh: the Python program inside its single quotes
    must reach Python intact (a Python repr's single quotes would end the shell's quoting and leave a SyntaxError).
    Stand-ins for what the pod has and the test machine has not: `pip` (PyPI is out of reach; it installs a
    huggingface_hub whose snapshot_download records its keyword arguments, huggingface_hub "Download files":
    repo_id, local_dir, ignore_patterns, token) and `python` (this interpreter); /tmp/pylib is the pod's /tmp emptyDir."""
    import os
    import subprocess
    import sys

    from vllm_eks.model_store.model_sync import sync_job

    spec = sync_job(model_name="qwen", hugging_face_id="Qwen/Qwen3-8B", bucket_name="b", prefix="models/qwen", region="eu-west-1",
                    token_secret_name=None, staging_size_gib=21, node_selector={}, image_registry="r.example")["spec"]
    (download,) = spec["template"]["spec"]["initContainers"]
    shell, flag, script = download["command"]
    bin_dir, lib_dir, record = tmp_path / "bin", tmp_path / "pylib", tmp_path / "called.json"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    (bin_dir / "pip").write_text(
        "#!/bin/sh\n"
        f"mkdir -p {lib_dir}/huggingface_hub && cat > {lib_dir}/huggingface_hub/__init__.py <<'PY'\n"
        "import json\n"
        "def snapshot_download(**kwargs):\n"
        f"    open({str(record)!r}, 'w').write(json.dumps(kwargs))\n"
        "PY\n")
    (bin_dir / "pip").chmod(0o755)
    ran = subprocess.run([shell, flag, script.replace("/tmp/pylib", str(lib_dir))], capture_output=True, text=True, timeout=60,
                         env={"PATH": f"{bin_dir}:{os.environ['PATH']}"})
    assert ran.returncode == 0, ran.stderr
    assert json.loads(record.read_text()) == {"repo_id": "Qwen/Qwen3-8B", "local_dir": "/staging/model",
                                              "ignore_patterns": ["original/*", "*.pth"], "token": None}


def test_the_component_refuses_a_sync_without_a_hugging_face_id():
    """ModelStore built directly (the stack's config refuses this first, test_sync_needs_a_hugging_face_id): a sync Job
    needs the repository to copy from, and the component says which model lacks it."""
    from component_run import run_component
    from vllm_eks.model_store.model_store import ModelStore

    model = {"name": "m", "prefix": "models/m", "namespace": "vllm-m", "service_account": "vllm-server",
             "hugging_face_id": None, "sync": True, "sync_staging_gib": 10}
    args = {"models": [model], "oidc_provider_arn": "arn:aws:iam::123456789012:oidc-provider/o", "oidc_issuer": "o",
            "region": "us-east-1", "hugging_face_token_secret_name": None, "sync_node_selector": {}, "image_registry": "r.example"}
    with pytest.raises(ValueError) as raised:
        run_component(lambda: ModelStore("models", args))
    assert str(raised.value) == "model m: a sync needs hugging_face_id"
