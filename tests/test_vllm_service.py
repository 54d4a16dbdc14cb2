"""VllmService as rendered by the real program: Deployment, Service, PDB, API key, hardening, scheduling."""

from __future__ import annotations

import json

import pytest

from k8s_schemas import manifest, validate_core
from preflight.render import read_stack_config, render_config
from rendered import resource_named, resources_of
from vllm_eks.planning.catalog import AWS_CLI_IMAGE
from vllm_stacks import kubernetes_manifests, render_two_models

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
SECRET = "kubernetes:core/v1:Secret"
NAMESPACE = "kubernetes:core/v1:Namespace"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
NETWORK_POLICY = "kubernetes:networking/v1:NetworkPolicy"
AWS_SECRET = "aws:secretsmanager/secret:Secret"
AWS_SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
COMPONENT = "vllm-eks:index:VllmService"
API_KEY_PATH = "/var/run/secrets/vllm/api-key"


@pytest.fixture(scope="module")
def two_model_snapshot() -> dict:
    return render_two_models()


def _pod(snapshot: dict, model: str) -> dict:
    return resource_named(snapshot, DEPLOYMENT, f"vllm-{model}-deployment")["props"]["spec"]["template"]


def _vllm_container(snapshot: dict, model: str) -> dict:
    containers = _pod(snapshot, model)["spec"]["containers"]
    return next(c for c in containers if c["name"] == "vllm")


def _flag(args: list[str], flag: str) -> str:
    assert args.count(flag) == 1, f"{flag} appears {args.count(flag)} times"
    return args[args.index(flag) + 1]


# Each stack's model (the stack files): the invariants below hold for every model of every stack.
MODELS = [("dev", "qwen3-1-7b"), ("prod", "qwen3-8b")]


# --- the done-when of the issue: prod's Qwen3-8B ----------------------------------------------------------------
def test_prod_qwen3_8b_runs_tensor_parallel_4_on_4_gpus(prod_snapshot):
    container = _vllm_container(prod_snapshot, "qwen3-8b")
    assert _flag(container["args"], "--tensor-parallel-size") == "4"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "4"
    assert container["resources"]["requests"] == container["resources"]["limits"]  # Guaranteed QoS
    # the Run:ai streamer reads s3://<bucket>/<prefix> (vLLM docs, "Loading models with Run:ai Model Streamer")
    assert _flag(container["args"], "--model") == f"s3://{prod_snapshot['outputs']['modelBucket']}/models/qwen3-8b"
    assert _flag(container["args"], "--load-format") == "runai_streamer"
    assert _flag(container["args"], "--served-model-name") == "qwen3-8b"


@pytest.mark.parametrize("stack,model", MODELS)
def test_startup_budget_is_300_seconds_and_liveness_waits_for_it(stack, model, request):
    """Both stacks keep the default start-up budget (models[].startupBudgetSeconds, 300 s): 30 checks 10 s apart."""
    container = _vllm_container(request.getfixturevalue(f"{stack}_snapshot"), model)
    # Kubernetes docs, "Configure Liveness, Readiness and Startup Probes": the startup probe allows
    # failureThreshold x periodSeconds (30 x 10 s = 300 s) before the kubelet restarts the container, and liveness
    # and readiness only begin after it succeeded. All three ask vLLM's /health (200 once the engine is up).
    health = {"httpGet": {"path": "/health", "port": "http"}}
    assert container["startupProbe"] == {**health, "timeoutSeconds": 5, "periodSeconds": 10, "failureThreshold": 30}
    # Out of the Service's endpoints after three missed checks 10 s apart; back after one success.
    assert container["readinessProbe"] == {**health, "timeoutSeconds": 5, "periodSeconds": 10, "failureThreshold": 3,
                                           "successThreshold": 1}
    # A busy engine answers slowly, not never: a restart only after 5 missed checks 30 s apart, 10 s each.
    assert container["livenessProbe"] == {**health, "timeoutSeconds": 10, "periodSeconds": 30, "failureThreshold": 5}
    assert {"containerPort": 8000, "name": "http", "protocol": "TCP"} == {k: (int(v) if isinstance(v, float) else v) for k, v in container["ports"][0].items()}


@pytest.mark.parametrize("stack, model, cpu, memory, shm", [
    # g5.12xlarge (48 vCPU, 192 GiB) and g6.2xlarge (8 vCPU, 32 GiB): 85 % of the node less 1 core and 4 GiB for the
    # kubelet and DaemonSets (tests/test_sizing.py works the figures); /dev/shm a tenth of the memory, 2-16 GiB.
    ("prod", "qwen3-8b", "39", "159Gi", "15Gi"),
    ("dev", "qwen3-1-7b", "5", "23Gi", "2Gi"),
])
def test_the_pod_takes_its_nodes_share_and_bounded_scratch_space(stack, model, cpu, memory, shm, request):
    """Requests equal to limits on every resource make the pod Guaranteed (Kubernetes docs, "Pod Quality of Service
    Classes"); every emptyDir has a sizeLimit, and only /dev/shm lives in memory (docs, "Volumes": emptyDir
    `medium: Memory` is a tmpfs counted against the container's memory limit). A rollout may take the start-up
    budget plus 20 minutes for a new GPU node and the image pull (`progressDeadlineSeconds`)."""
    snapshot = request.getfixturevalue(f"{stack}_snapshot")
    container = _vllm_container(snapshot, model)
    amounts = {"cpu": cpu, "memory": memory, "nvidia.com/gpu": _flag(container["args"], "--tensor-parallel-size")}
    assert container["resources"] == {"requests": amounts, "limits": amounts}
    volumes = {v["name"]: v["emptyDir"] for v in _pod(snapshot, model)["spec"]["volumes"] if "emptyDir" in v}
    assert volumes == {"home": {"sizeLimit": "20Gi"}, "tmp": {"sizeLimit": "4Gi"},
                       "dshm": {"medium": "Memory", "sizeLimit": shm}}
    deployment = resource_named(snapshot, DEPLOYMENT, f"vllm-{model}-deployment")["props"]["spec"]
    assert deployment["progressDeadlineSeconds"] == 300 + 1200


@pytest.mark.parametrize("stack,model", MODELS)
def test_pdb_selects_the_deployment(stack, model, request):
    snapshot = request.getfixturevalue(f"{stack}_snapshot")
    deployment = resource_named(snapshot, DEPLOYMENT, f"vllm-{model}-deployment")["props"]
    pdb = resource_named(snapshot, PDB, f"vllm-{model}-disruption-budget")["props"]
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["metadata"]["namespace"] == deployment["metadata"]["namespace"] == f"vllm-{model}"
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pod_labels == {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": model}
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert deployment["spec"]["selector"]["matchLabels"] == pod_labels
    strategy = deployment["spec"]["strategy"]["rollingUpdate"]
    assert (strategy["maxUnavailable"], strategy["maxSurge"]) == (0, 1)


@pytest.mark.parametrize("stack,model", MODELS)
def test_api_key_is_mounted_from_a_secret_file_never_env_or_argv(stack, model, request):
    snapshot = request.getfixturevalue(f"{stack}_snapshot")
    pod = _pod(snapshot, model)["spec"]
    container = _vllm_container(snapshot, model)
    volume = next(v for v in pod["volumes"] if v["name"] == "api-key")
    assert volume["secret"]["secretName"] == "vllm-api-key"
    mount = next(m for m in container["volumeMounts"] if m["name"] == "api-key")
    assert mount["readOnly"] is True and API_KEY_PATH.startswith(mount["mountPath"] + "/")
    assert container["command"][:2] == ["/bin/sh", "-c"] and container["command"][3] == "vllm"
    script = container["command"][2]
    assert f'"$(cat {API_KEY_PATH})"' in script and "export VLLM_API_KEY" in script
    assert script.rstrip().endswith('exec python3 -m vllm.entrypoints.openai.api_server "$@"')
    assert all(e["name"] != "VLLM_API_KEY" for e in container["env"])
    assert not any(arg.startswith("--api-key") for arg in container["args"])
    secret = resource_named(snapshot, SECRET, f"vllm-{model}-api-key")["props"]
    assert secret["metadata"] == {"name": "vllm-api-key", "namespace": f"vllm-{model}", "labels": secret["metadata"]["labels"]}


@pytest.mark.parametrize("stack,model", MODELS)
def test_the_internal_key_lives_in_secrets_manager_and_is_the_one_each_model_mounts(stack, model, request):
    snapshot = request.getfixturevalue(f"{stack}_snapshot")
    aws_secret = resource_named(snapshot, AWS_SECRET, "internal-api-key-secret")
    assert aws_secret["props"]["name"] == f"vllm-eks-{stack}/vllm/api-key"
    version = resource_named(snapshot, AWS_SECRET_VERSION, "internal-api-key-version")
    password = resource_named(snapshot, "random:index/randomPassword:RandomPassword", "internal-api-key-value")
    assert version["parent"] == aws_secret["parent"] == password["parent"]
    # 48 letters and digits: no character a shell, an HTTP header or `Bearer <key>` would need quoted
    assert (password["props"]["length"], password["props"]["special"]) == (48, False)
    # The mocks echo the generated value, so the mounted Secret can be compared with what Secrets Manager holds.
    mounted = manifest(resource_named(snapshot, "kubernetes:core/v1:Secret", f"vllm-{model}-api-key"))
    assert mounted["stringData"]["api-key"] == version["props"]["secretString"]["value"]


# The vLLM container's whole environment: every cache inside the writable home (the root filesystem is read-only),
# no Hugging Face Hub calls at start (HF_HUB_OFFLINE, huggingface_hub docs "Environment variables"; weights come from
# S3), no usage reporting (vLLM docs "Usage Stats Collection": VLLM_NO_USAGE_STATS / DO_NOT_TRACK), the stack's
# region for the Run:ai streamer's S3 client.
VLLM_ENV = {
    "HOME": "/home/vllm", "USER": "vllm", "XDG_CACHE_HOME": "/home/vllm/.cache", "XDG_CONFIG_HOME": "/home/vllm/.config",
    "HF_HOME": "/home/vllm/.cache/huggingface", "VLLM_CACHE_ROOT": "/home/vllm/.cache/vllm",
    "VLLM_CONFIG_ROOT": "/home/vllm/.config/vllm", "TRITON_CACHE_DIR": "/home/vllm/.cache/triton",
    "TORCHINDUCTOR_CACHE_DIR": "/home/vllm/.cache/torchinductor", "NUMBA_CACHE_DIR": "/home/vllm/.cache/numba",
    "TMPDIR": "/tmp", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "HF_HUB_OFFLINE": "1",
    "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1", "VLLM_LOGGING_LEVEL": "INFO",
}


@pytest.mark.parametrize("stack,model", MODELS)
def test_container_is_non_root_and_read_only(stack, model, request):
    snapshot = request.getfixturevalue(f"{stack}_snapshot")
    pod = _pod(snapshot, model)["spec"]
    container = _vllm_container(snapshot, model)
    security = container["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] == 10001
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsUser"] == security["runAsUser"]
    assert pod["automountServiceAccountToken"] is False
    # Every writable path is an emptyDir; caches point into the writable home.
    writable = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
    assert writable == {"/home/vllm", "/tmp", "/dev/shm"}
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == VLLM_ENV
    shm = next(v for v in pod["volumes"] if v["name"] == "dshm")
    assert shm["emptyDir"]["medium"] == "Memory"
    # Docker Hub's vllm/vllm-openai through the account's ECR pull-through cache (test_image_cache.py).
    assert container["image"] == "123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub/vllm/vllm-openai:v0.32.0"
    assert json.loads(_flag(container["args"], "--logging-config")) == {"formatter": "json"}


# What each container of a model's pod may write, every path an emptyDir: vLLM its home (caches), /tmp and the shared
# memory; the s3-sync fallback's fetch-weights the weights and adapters it copies, and /tmp.
WRITABLE_PATHS = {"vllm": {"/home/vllm", "/tmp", "/dev/shm"}, "fetch-weights": {"/tmp", "/models", "/adapters"}}
HARDENED = {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}


@pytest.mark.parametrize("stack", ["dev_snapshot", "prod_snapshot", "two_model_snapshot"])
def test_every_container_of_every_model_pod_is_hardened_and_writes_only_its_empty_dirs(stack, request):
    """Kubernetes "Configure a Security Context for a Pod or Container": readOnlyRootFilesystem leaves only mounted
    volumes writable, so the writable set is exactly the read-write mounts."""
    pods = [obj["spec"]["template"]["spec"] for obj in kubernetes_manifests(request.getfixturevalue(stack))
            if obj["kind"] == "Deployment"]
    seen = set()
    for pod in pods:
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["fsGroup"]) == (10001, 10001)
        for container in pod.get("initContainers", []) + pod["containers"]:
            seen.add(container["name"])
            assert container["securityContext"] == HARDENED, container["name"]
            if container["name"] == "vllm":
                assert {e["name"]: e["value"] for e in container["env"]} == VLLM_ENV
            writable = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
            assert writable == WRITABLE_PATHS[container["name"]], container["name"]
            assert all("emptyDir" in volumes[m["name"]] for m in container["volumeMounts"] if not m.get("readOnly"))
    assert seen == ({"vllm", "fetch-weights"} if stack == "two_model_snapshot" else {"vllm"})


@pytest.mark.parametrize("stack, model, instance_type, zone_spread", [
    ("prod", "qwen3-8b", "g5.12xlarge", "DoNotSchedule"),  # prod's replicas must spread over zones
    ("dev", "qwen3-1-7b", "g6.2xlarge", "ScheduleAnyway"),  # dev's may share one
])
def test_scheduling_targets_the_gpu_pools_and_the_planned_instance(stack, model, instance_type, zone_spread, request):
    """Kubernetes docs, "Assigning Pods to Nodes" (required and preferred node affinity, `weight` 1-100), "Taints and
    Tolerations" and "Pod Topology Spread Constraints": the pod tolerates the GPU pools' taint, may only land on their
    nodes of the planned instance type, prefers the on-demand pool (the baseline), and spreads over zones."""
    snapshot = request.getfixturevalue(f"{stack}_snapshot")
    pod = _pod(snapshot, model)["spec"]
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}]
    affinity = pod["affinity"]["nodeAffinity"]
    assert affinity["requiredDuringSchedulingIgnoredDuringExecution"] == {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "karpenter.sh/nodepool", "operator": "In", "values": ["gpu-on-demand", "gpu-spot"]},
        {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": [instance_type]}]}]}
    assert affinity["preferredDuringSchedulingIgnoredDuringExecution"] == [{"weight": 100, "preference": {
        "matchExpressions": [{"key": "karpenter.sh/nodepool", "operator": "In", "values": ["gpu-on-demand"]}]}}]
    assert pod["topologySpreadConstraints"] == [{
        "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": zone_spread,
        "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": model}}}]


@pytest.mark.parametrize("stack,model", MODELS)
def test_graceful_drain_fits_the_termination_grace_period(stack, model, request):
    snapshot = request.getfixturevalue(f"{stack}_snapshot")
    pod = _pod(snapshot, model)["spec"]
    container = _vllm_container(snapshot, model)
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    pre_stop_seconds = int(pre_stop[-1].split()[-1])
    shutdown = int(_flag(container["args"], "--shutdown-timeout"))
    assert shutdown == read_stack_config(stack)["vllm-eks:edge"]["maxRequestSeconds"]
    # preStop 15 s, then vLLM's drain, then 15 s for process teardown before the kubelet's SIGKILL.
    assert pre_stop_seconds == 15
    assert pod["terminationGracePeriodSeconds"] == pre_stop_seconds + shutdown + 15


@pytest.mark.parametrize("stack,model", MODELS)
def test_namespace_is_restricted_and_service_account_carries_the_read_role(stack, model, request):
    snapshot = request.getfixturevalue(f"{stack}_snapshot")
    namespace = resource_named(snapshot, NAMESPACE, f"vllm-{model}-namespace")["props"]
    assert namespace["metadata"]["name"] == f"vllm-{model}"
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    account = resource_named(snapshot, SERVICE_ACCOUNT, f"vllm-{model}-service-account")["props"]
    assert account["metadata"]["name"] == _pod(snapshot, model)["spec"]["serviceAccountName"] == "vllm-server"
    role_arn = account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    # The annotated role is the model's read role, and that role trusts exactly this namespace/service account.
    assert role_arn.startswith(f"arn:aws:iam::123456789012:role/models-{model}-read")
    trust = json.loads(resource_named(snapshot, "aws:iam/role:Role", f"models-{model}-read")["props"]["assumeRolePolicy"])
    subjects = [value for statement in trust["Statement"] for key, value in statement["Condition"]["StringEquals"].items() if key.endswith(":sub")]
    assert subjects == [f"system:serviceaccount:vllm-{model}:vllm-server"]
    service = resource_named(snapshot, SERVICE, f"vllm-{model}-service")["props"]
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["selector"] == _pod(snapshot, model)["metadata"]["labels"]
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(8000, "http")]


# --- dev: one small model, scaled to zero ------------------------------------------------------------------------
def test_dev_model_runs_on_one_l4(dev_snapshot):
    container = _vllm_container(dev_snapshot, "qwen3-1-7b")
    assert _flag(container["args"], "--tensor-parallel-size") == "1" == container["resources"]["limits"]["nvidia.com/gpu"]
    assert _flag(container["args"], "--max-model-len") == "16384"
    assert resource_named(dev_snapshot, PDB, "vllm-qwen3-1-7b-disruption-budget")["props"]["spec"]["minAvailable"] == 1


# --- several models in one stack -----------------------------------------------------------------------------------
def test_two_models_get_their_own_namespace_and_plan_and_share_the_internal_key(two_model_snapshot):
    deployments = {r["name"] for r in resources_of(two_model_snapshot, DEPLOYMENT) if r["name"].startswith("vllm-")}
    assert {"vllm-qwen3-8b-deployment", "vllm-qwen3-1-7b-deployment"} <= deployments
    namespaces = {r["props"]["metadata"]["name"] for r in resources_of(two_model_snapshot, NAMESPACE)}
    assert {"vllm-qwen3-8b", "vllm-qwen3-1-7b"} <= namespaces
    # The edge swaps a consumer's key for one internal key before it knows the model, so every model accepts it.
    keys = {
        manifest(r)["stringData"]["api-key"]
        for r in resources_of(two_model_snapshot, "kubernetes:core/v1:Secret")
        if r["name"] in ("vllm-qwen3-8b-api-key", "vllm-qwen3-1-7b-api-key")
    }
    assert len(keys) == 1
    small = _vllm_container(two_model_snapshot, "qwen3-1-7b")
    # instanceType auto: the cheapest catalog instance that fits Qwen3-1.7B at 16k context is one L4 (g6.xlarge).
    terms = _pod(two_model_snapshot, "qwen3-1-7b")["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"][0]["matchExpressions"] == [
        {"key": "karpenter.sh/nodepool", "operator": "In", "values": ["gpu-on-demand"]},
        {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["g6.xlarge"]},
    ]
    assert _flag(small["args"], "--model") == "/models/qwen3-1-7b"
    assert _flag(small["args"], "--lora-modules") == "sql=/adapters/sql"


def test_s3_sync_fallback_fetches_into_empty_dirs_with_the_pod_role(two_model_snapshot):
    pod = _pod(two_model_snapshot, "qwen3-1-7b")["spec"]
    (fetch,) = pod["initContainers"]
    script = fetch["command"][-1]
    assert 'aws s3 sync --only-show-errors "s3://$WEIGHTS_BUCKET/models/qwen3-1.7b" /models/qwen3-1-7b' in script
    assert '"s3://$WEIGHTS_BUCKET/adapters/sql" /adapters/sql' in script
    assert fetch["image"].startswith("123456789012.dkr.ecr.us-east-1.amazonaws.com/ecr-public/aws-cli/aws-cli:2.")
    assert fetch["securityContext"]["readOnlyRootFilesystem"] is True
    volumes = {v["name"]: v for v in pod["volumes"]}
    # On the node's disk, bounded: qwen3-1.7b's 2.03e9 bf16 parameters are 3.8 GiB; a tenth more, rounded up, plus 1.
    assert volumes["models"]["emptyDir"] == {"sizeLimit": "6Gi"}
    assert (volumes["adapters"]["emptyDir"], volumes["fetch-home"]["emptyDir"]) == ({"sizeLimit": "10Gi"}, {"sizeLimit": "1Gi"})


# --- schemas --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("stack", ["dev_snapshot", "prod_snapshot", "two_model_snapshot"])
def test_every_rendered_object_is_valid_for_kubernetes(stack, request):
    objects = kubernetes_manifests(request.getfixturevalue(stack))
    kinds = sorted({obj["kind"] for obj in objects})
    assert kinds == ["Deployment", "Namespace", "PodDisruptionBudget", "Secret", "Service", "ServiceAccount"]
    for obj in objects:
        validate_core(obj)


def test_a_model_too_big_for_its_instance_fails_at_config_load():
    config = read_stack_config("dev")
    config["vllm-eks:models"] = [dict(config["vllm-eks:models"][0], catalogModel="llama-3.1-70b", maxModelLen=8192)]
    with pytest.raises(Exception) as raised:
        render_config("dev", config)
    assert type(raised.value).__name__ == "RunError"
    assert "models[0].instanceType: got 'g6.2xlarge'" in str(raised.value)
    assert "the cheapest instance that fits is g6e.12xlarge" in str(raised.value)


def test_a_pod_with_an_init_container_stays_guaranteed(two_model_snapshot):
    """Kubernetes, "Pod Quality of Service Classes": a pod is Guaranteed only if every container, init containers
    included, has CPU and memory requests equal to its limits; otherwise the kubelet evicts it before Guaranteed ones."""
    pod = _pod(two_model_snapshot, "qwen3-1-7b")["spec"]
    assert pod["initContainers"]
    for container in pod["initContainers"] + pod["containers"]:
        resources = container["resources"]
        for resource in ("cpu", "memory"):
            assert str(resources["requests"][resource]) == str(resources["limits"][resource]), (container["name"], resource)


def test_a_models_own_image_reaches_its_vllm_container_through_the_pull_through_cache():
    """`models[].image` replaces the catalog's vLLM image (README, stack configuration reference). `vllm/...` is a
    Docker Hub image (Docker's reference rules: no registry host in the first segment), pulled through the account's
    ECR cache under `docker-hub/` (ECR pull-through cache rule for registry-1.docker.io, vllm_eks/cluster/image_cache.py)."""
    config = read_stack_config("dev")
    pinned = "vllm/vllm-openai:v0.31.0@sha256:" + "e" * 64
    model = dict(config["vllm-eks:models"][0], image=pinned)
    snapshot = render_config("dev", {**config, "vllm-eks:models": [model]})
    assert _vllm_container(snapshot, model["name"])["image"] == (
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub/" + pinned)


def test_the_synced_model_deployment_and_its_fetch_container_whole(two_model_snapshot):
    """The Deployment of a model on the s3-sync fallback, every field but the vLLM container, volumes and affinity
    (asserted above). Kubernetes API, Deployment and PodSpec: RollingUpdate with maxUnavailable 0 / maxSurge 1 keeps
    serving capacity during a rollout; revisionHistoryLimit bounds the old ReplicaSets kept; enableServiceLinks false
    keeps every Service of the namespace out of the container environment; a one-replica model spreads over zones as a
    preference only. The init container's script stops at the first failed copy (`set -eu`, `&&`)."""
    spec = resource_named(two_model_snapshot, DEPLOYMENT, "vllm-qwen3-1-7b-deployment")["props"]["spec"]
    labels = {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": "qwen3-1-7b"}
    pod = dict(spec["template"]["spec"])
    assert {key: value for key, value in spec.items() if key != "template"} == {
        "replicas": 1, "selector": {"matchLabels": labels},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "revisionHistoryLimit": 3, "progressDeadlineSeconds": 1500}
    assert spec["template"]["metadata"] == {"labels": labels}
    (fetch,) = pod.pop("initContainers")
    for key in ("containers", "volumes", "affinity"):
        pod.pop(key)
    assert pod == {
        "serviceAccountName": "vllm-server", "automountServiceAccountToken": False, "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 630,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}],
        "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                       "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": labels}}],
    }
    bucket = fetch["env"][0]["value"]
    assert bucket.startswith("vllm-weights-")
    assert fetch == {
        "name": "fetch-weights",
        # the catalog's AWS CLI image (public.ecr.aws) through the account's pull-through cache, prefix ecr-public
        "image": AWS_CLI_IMAGE.replace("public.ecr.aws/", "123456789012.dkr.ecr.us-east-1.amazonaws.com/ecr-public/"),
        "imagePullPolicy": "IfNotPresent",
        "command": ["/bin/sh", "-c",
                    'set -eu; aws s3 sync --only-show-errors "s3://$WEIGHTS_BUCKET/models/qwen3-1.7b" /models/qwen3-1-7b'
                    ' && aws s3 sync --only-show-errors "s3://$WEIGHTS_BUCKET/adapters/sql" /adapters/sql'],
        "env": [{"name": "WEIGHTS_BUCKET", "value": bucket}, {"name": "HOME", "value": "/tmp"},
                {"name": "AWS_REGION", "value": "us-east-1"}, {"name": "AWS_DEFAULT_REGION", "value": "us-east-1"}],
        "resources": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}},
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                            "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}},
        "volumeMounts": [{"name": "fetch-home", "mountPath": "/tmp"}, {"name": "models", "mountPath": "/models"},
                         {"name": "adapters", "mountPath": "/adapters"}],
    }


@pytest.mark.parametrize("stack,model", MODELS)
def test_the_model_namespace_and_its_objects_metadata_whole(stack, model, request):
    """Pod Security Standards: the namespace enforces, warns and audits `restricted`. Every object of the model carries
    the pod labels and its fixed name; the Secret is Opaque; the Deployment waits for its key and service account,
    leaves the replica count to KEDA (ignoreChanges) and may take 40 minutes (a GPU node, the image, the load)."""
    snapshot = request.getfixturevalue(f"{stack}_snapshot")
    namespace = f"vllm-{model}"
    labels = {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": model}
    assert resource_named(snapshot, NAMESPACE, f"vllm-{model}-namespace")["props"]["metadata"] == {
        "name": namespace, "labels": {"pod-security.kubernetes.io/enforce": "restricted",
                                      "pod-security.kubernetes.io/warn": "restricted",
                                      "pod-security.kubernetes.io/audit": "restricted"}}
    account = resource_named(snapshot, SERVICE_ACCOUNT, f"vllm-{model}-service-account")["props"]
    role_arn = account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert (account["metadata"], account["automountServiceAccountToken"]) == ({
        "name": "vllm-server", "namespace": namespace, "labels": labels,
        "annotations": {"eks.amazonaws.com/role-arn": role_arn}}, False)
    secret = resource_named(snapshot, SECRET, f"vllm-{model}-api-key")["props"]
    assert (secret["type"], secret["metadata"]) == ("Opaque", {"name": "vllm-api-key", "namespace": namespace, "labels": labels})
    for type_token, suffix in ((SERVICE, "service"), (PDB, "disruption-budget"), (DEPLOYMENT, "deployment")):
        assert resource_named(snapshot, type_token, f"vllm-{model}-{suffix}")["props"]["metadata"] == {
            "name": f"vllm-{model}", "namespace": namespace, "labels": labels}
    assert resource_named(snapshot, SERVICE, f"vllm-{model}-service")["props"]["spec"] == {
        "type": "ClusterIP", "selector": labels, "ports": [{"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP"}]}
    assert resource_named(snapshot, PDB, f"vllm-{model}-disruption-budget")["props"]["spec"] == {
        "minAvailable": 1, "selector": {"matchLabels": labels}}
    options = resource_named(snapshot, DEPLOYMENT, f"vllm-{model}-deployment")["options"]
    assert (options["ignoreChanges"], options["customTimeouts"]) == (["spec.replicas"], {"create": 2400, "update": 2400})
    prefix = f"urn:pulumi:{stack}::vllm-eks::vllm-eks:index:VllmService$kubernetes:core/v1:"
    assert {f"{prefix}Secret::vllm-{model}-api-key", f"{prefix}ServiceAccount::vllm-{model}-service-account"} <= set(options["dependsOn"])


def test_single_pool_models_require_that_pool_and_prefer_nothing():
    """Kubernetes "Assigning Pods to Nodes": an on-demand or a Spot model has one pool to choose, so only the required
    term; the preference for on-demand exists only where both pools are allowed."""
    from vllm_eks.serving.vllm_pod import node_affinity

    for capacity_type, pool in (("on-demand", "gpu-on-demand"), ("spot", "gpu-spot")):
        assert node_affinity(capacity_type, "g6e.xlarge") == {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": "karpenter.sh/nodepool", "operator": "In", "values": [pool]},
                {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["g6e.xlarge"]}]}]}}}


@pytest.mark.parametrize("min_replicas, when", [(0, "ScheduleAnyway"), (1, "ScheduleAnyway"), (2, "DoNotSchedule"), (3, "DoNotSchedule")])
def test_zone_spread_is_hard_from_two_promised_replicas(min_replicas, when):
    """Kubernetes "Pod Topology Spread Constraints": DoNotSchedule keeps a pod Pending rather than skew the zones; with
    fewer than two promised replicas there is nothing to keep apart, so it is only a preference."""
    from vllm_eks.serving.vllm_pod import topology_spread

    assert topology_spread({"a": "b"}, min_replicas) == [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                                          "whenUnsatisfiable": when, "labelSelector": {"matchLabels": {"a": "b"}}}]


@pytest.mark.parametrize("memory_gib, shm_gib", [(10, 2), (29, 2), (30, 3), (159, 15), (170, 16), (400, 16)])
def test_shared_memory_is_a_tenth_of_the_pod_between_2_and_16_gib(memory_gib, shm_gib):
    """/dev/shm for vLLM's worker queues and NCCL under tensor parallelism (vLLM docs, "Using Docker": `--shm-size` or
    `--ipc=host`): a tenth of the pod's memory, at least 2 GiB, at most 16 GiB."""
    from vllm_eks.serving.vllm_pod import shm_size_gib

    assert shm_size_gib({"pod_memory_gib": memory_gib}) == shm_gib


def test_a_streamed_model_with_an_adapter_fetches_only_the_adapter():
    """dev's streamed model with one LoRA adapter: vLLM streams the weights from S3 (--model s3://...), and the init
    container copies only the adapter into its emptyDir (vLLM docs, "LoRA Adapters": --lora-modules name=path reads a
    local directory)."""
    config = read_stack_config("dev")
    config["vllm-eks:models"] = [{**config["vllm-eks:models"][0], "loraAdapters": [{"name": "sql", "s3Prefix": "adapters/sql"}]}]
    snapshot = render_config("dev-streamed-lora", config)
    pod = _pod(snapshot, "qwen3-1-7b")["spec"]
    (fetch,) = pod["initContainers"]
    assert fetch["command"][2] == 'set -eu; aws s3 sync --only-show-errors "s3://$WEIGHTS_BUCKET/adapters/sql" /adapters/sql'
    assert fetch["volumeMounts"] == [{"name": "fetch-home", "mountPath": "/tmp"}, {"name": "adapters", "mountPath": "/adapters"}]
    assert sorted(volume["name"] for volume in pod["volumes"]) == ["adapters", "api-key", "dshm", "fetch-home", "home", "tmp"]
    args = _vllm_container(snapshot, "qwen3-1-7b")["args"]
    assert _flag(args, "--model") == f"s3://{snapshot['outputs']['modelBucket']}/models/qwen3-1.7b"
    assert _flag(args, "--lora-modules") == "sql=/adapters/sql"
