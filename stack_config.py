"""The stack configuration: one typed schema for everything a stack can set, and its error messages.

`Pulumi.<stack>.yaml` holds structured objects under the project namespace (`vllm-eks:network`,
`vllm-eks:models`, ...). `load_stack_config` validates all of them at once and raises `StackConfigError`
listing every problem as `<path>: got <value>, expected <what is allowed>` before any resource exists.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Any, Literal, LiteralString

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from vllm_eks.planning.catalog import (
    ALB_TARGET_GROUP_NAME_MAX,
    CLOUDFRONT_ORIGIN_TIMEOUT_DEFAULT_LIMIT_SECONDS,
    EKS_SUPPORTED_VERSIONS,
    GPU_INSTANCES,
    INTERFACE_ENDPOINT_SERVICES,
    MODELS,
    PULUMI_AUTONAME_SUFFIX_CHARS,
    SPOT_DISCOUNT_DEFAULT,
)
from vllm_eks.edge.edge_specs import HOP_MARGIN_SECONDS

PROJECT = "vllm-eks"
SECTIONS = ("network", "cluster", "models", "autoscaling", "observability", "edge", "plan")


class _Schema(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


def _expected(message: LiteralString, **context: Any) -> PydanticCustomError:
    return PydanticCustomError("stack_config", message, context)


# --- network ---------------------------------------------------------------------------------------------------------
class NetworkConfig(_Schema):
    """VPC layout: public subnets hold load balancers only; every node lives in a private subnet."""

    cidr: str = "10.0.0.0/16"
    availability_zones: int = Field(default=3, ge=2, le=6)
    nat_gateways: Literal["single", "perAz"] = "perAz"
    interface_endpoints: list[Literal[INTERFACE_ENDPOINT_SERVICES]] = ["ecr.api", "ecr.dkr", "sts", "logs"]  # type: ignore[valid-type]
    flow_log_retention_days: Literal[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731] = 30

    @field_validator("availability_zones", mode="before")
    @classmethod
    def _private_subnets_in_two_zones(cls, value: Any) -> Any:
        # Every node and the private cluster endpoint live in the private subnets, one per zone; EKS requires
        # subnets in at least two zones, so fewer would be a private cluster with no usable private subnets.
        if isinstance(value, int) and not isinstance(value, bool) and value < 2:
            raise _expected("an integer >= 2 (one private subnet per zone; the private EKS cluster needs private subnets in at least 2 zones)")
        return value

    @field_validator("cidr")
    @classmethod
    def _cidr_is_a_private_block_of_usable_size(cls, value: str) -> str:
        try:
            network = ipaddress.ip_network(value)
        except ValueError:
            raise _expected("an IPv4 CIDR block such as 10.0.0.0/16") from None
        if network.version != 4 or not network.is_private or not 16 <= network.prefixlen <= 20:
            raise _expected("a private IPv4 block from /16 to /20 (RFC 1918)")
        return value


# --- cluster -----------------------------------------------------------------------------------------------------------
class SystemNodesConfig(_Schema):
    """On-demand CPU nodes for routing, monitoring and controllers, apart from the GPU nodes."""

    instance_types: list[str] = ["m7i.xlarge"]
    min_size: int = Field(default=2, ge=1)
    desired_size: int = Field(default=2, ge=1)
    max_size: int = Field(default=4, ge=1)

    @field_validator("max_size")
    @classmethod
    def _max_not_below_min(cls, value: int, info: ValidationInfo) -> int:
        minimum = info.data.get("min_size")
        if minimum is not None and value < minimum:
            raise _expected("an integer >= minSize ({minimum})", minimum=minimum)
        return value


_PULL_THROUGH_SECRET_NAME = r"^ecr-pullthroughcache/[A-Za-z0-9/_+=.@-]{1,491}$"


class ClusterConfig(_Schema):
    version: Literal[EKS_SUPPORTED_VERSIONS] = EKS_SUPPORTED_VERSIONS[2]  # type: ignore[valid-type]
    endpoint_public_access: bool = False
    public_access_cidrs: list[str] = Field(default=[], validate_default=True)
    admin_principal_arn: str | None = None
    # Who runs `pulumi up` reaches the cluster endpoint (the Kubernetes and Helm resources go through it) over the
    # private endpoint from these networks (VPN, peered VPC, a CI runner's subnet) or security groups (a runner in
    # this VPC, or a peered one in the region): each gets 443 on the cluster security group. Never 0.0.0.0/0.
    deployer_cidrs: list[str] = []
    deployer_security_group_ids: list[str] = []
    system_nodes: SystemNodesConfig = SystemNodesConfig()
    gpu_ami_family: Literal["bottlerocket", "al2023"] = "bottlerocket"
    gpu_node_volume_gib: int = Field(default=200, ge=100, le=2000)
    max_gpus: int = Field(default=32, ge=1)
    # A Secrets Manager secret (created outside the stack) holding the Hugging Face token for gated models;
    # only the model sync Jobs may read it. Never the token itself: config and state must not hold it.
    hugging_face_token_secret_name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9/_+=.@-]{1,512}$")
    # ECR pull-through cache credentials for Docker Hub and GitHub Container Registry (AWS requires the
    # ecr-pullthroughcache/ prefix); create each secret (`username`, `accessToken`) before the first deploy.
    docker_hub_credentials_secret_name: str = Field(
        default="ecr-pullthroughcache/docker-hub", pattern=_PULL_THROUGH_SECRET_NAME
    )
    github_credentials_secret_name: str = Field(default="ecr-pullthroughcache/github", pattern=_PULL_THROUGH_SECRET_NAME)

    @field_validator("public_access_cidrs")
    @classmethod
    def _cidrs_are_restricted(cls, value: list[str], info: ValidationInfo) -> list[str]:
        for cidr in value:
            try:
                network = ipaddress.ip_network(cidr)
            except ValueError:
                raise _expected("a list of CIDR blocks such as 203.0.113.0/24") from None
            if network.prefixlen == 0:
                raise _expected("restricted CIDR blocks, never 0.0.0.0/0")
        if info.data.get("endpoint_public_access") and not value:
            raise _expected("at least one CIDR block when endpointPublicAccess is true")
        return value

    @field_validator("deployer_cidrs")
    @classmethod
    def _deployer_cidrs_are_restricted(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                network = ipaddress.ip_network(cidr)
            except ValueError:
                raise _expected("a list of CIDR blocks such as 10.20.0.0/16 (your VPN or CI runner network)") from None
            if network.prefixlen == 0:
                raise _expected("restricted CIDR blocks, never 0.0.0.0/0")
        return value

    @field_validator("deployer_security_group_ids")
    @classmethod
    def _deployer_groups_are_ids(cls, value: list[str]) -> list[str]:
        if any(not re.fullmatch(r"sg-[0-9a-f]{8,17}", group) for group in value):
            raise _expected("security group ids such as sg-0123456789abcdef0")
        return value

    def deployer_route(self) -> str | None:
        """How `pulumi up` reaches the cluster endpoint, or None when only something inside the VPC could."""
        if self.endpoint_public_access and self.public_access_cidrs:
            return "public endpoint from publicAccessCidrs"
        if self.deployer_cidrs or self.deployer_security_group_ids:
            return "private endpoint from deployerCidrs / deployerSecurityGroupIds"
        return None

    @field_validator("admin_principal_arn")
    @classmethod
    def _admin_is_an_iam_principal(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]+", value):
            raise _expected("an IAM role or user ARN such as arn:aws:iam::123456789012:role/Admin")
        return value


# --- models --------------------------------------------------------------------------------------------------------------
_DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?"


class SpeculativeConfig(_Schema):
    """vLLM `--speculative-config`: ngram needs no draft model; eagle/draft methods name one."""

    method: Literal["ngram", "eagle", "eagle3", "draft_model"]
    num_speculative_tokens: int = Field(ge=1, le=16)
    model: str | None = None
    prompt_lookup_max: int | None = Field(default=None, ge=1)


# A key prefix inside the weights bucket: '/'-separated segments of lowercase letters, digits, '.', '_' and '-', each
# starting with a letter or digit (so no '.' or '..' segment can climb out of it), no leading or trailing '/'.
_S3_PREFIX = r"[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*"
_S3_PREFIX_RULE = (
    "lowercase letters, digits, '.', '_' and '-' in '/'-separated segments that each start with a letter or digit "
    "(no '..' segment), no leading or trailing /"
)


class LoraAdapter(_Schema):
    name: str = Field(pattern=f"^{_DNS_LABEL}$")
    s3_prefix: str
    rank: Literal[1, 8, 16, 32, 64, 128, 256, 320, 512] = 16  # vLLM's allowed --max-lora-rank values (0.32)

    @field_validator("s3_prefix")
    @classmethod
    def _prefix_is_relative(cls, value: str) -> str:
        # The pod's role is granted read on exactly this prefix (model_read_policy), so it must be one plain key prefix.
        if not re.fullmatch(_S3_PREFIX, value):
            raise _expected("a relative S3 key prefix such as loras/my-adapter: " + _S3_PREFIX_RULE)
        return value


class ModelConfig(_Schema):
    """One served model: what to load, where it runs, how far it scales."""

    name: str = Field(pattern=f"^{_DNS_LABEL}$")
    served_name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$")
    catalog_model: str
    hugging_face_id: str | None = None
    sync_from_hugging_face: bool = False  # a one-shot Job copies huggingFaceId into the model's S3 prefix
    s3_prefix: str | None = None
    dtype: Literal["auto", "bfloat16", "float16"] = "auto"
    max_model_len: int = Field(ge=256)
    quantization: Literal["awq", "gptq", "fp8"] | None = None
    instance_type: str = "auto"
    min_replicas: int = Field(default=1, ge=0)
    max_replicas: int = 2
    on_demand_replicas: int = Field(default=1, ge=0)
    capacity_type: Literal["on-demand", "spot", "on-demand-with-spot-burst"] = "on-demand"
    gpu_memory_utilization: float = Field(default=0.92, ge=0.80, le=0.95)
    load_format: Literal["runai_streamer", "s3-sync"] = "runai_streamer"
    startup_budget_seconds: int = Field(default=300, ge=300)
    # Default thinking mode of a reasoning model (Qwen3): false answers in `content` unless a request asks to think
    # (`chat_template_kwargs: {"enable_thinking": true}`); unset keeps the model's own default (Qwen3 thinks).
    thinking: bool | None = None
    lora_adapters: list[LoraAdapter] = []
    speculative: SpeculativeConfig | None = None
    image: str | None = None  # the vLLM image; None = catalog VLLM_IMAGE. Prod may pin `repo:tag@sha256:<digest>`.

    @field_validator("thinking")
    @classmethod
    def _model_has_a_thinking_switch(cls, value: bool | None, info: ValidationInfo) -> bool | None:
        # `false` holds for any model (one without a thinking mode never thinks; nothing is rendered for it);
        # `true` asks for something only a model with a thinking switch can do.
        catalog_model = info.data.get("catalog_model")
        if value and catalog_model in MODELS and MODELS[catalog_model].thinking_switch is None:
            switchable = sorted(name for name, spec in MODELS.items() if spec.thinking_switch)
            raise _expected("false or unset: {model} has no thinking mode (models with one: {known})", model=catalog_model, known=", ".join(switchable))
        return value

    @field_validator("lora_adapters")
    @classmethod
    def _unique_adapters(cls, value: list[LoraAdapter]) -> list[LoraAdapter]:
        names = [adapter.name for adapter in value]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:  # each adapter is one --lora-modules name and one directory in the pod
            raise _expected("adapters with unique names, but {names} repeat", names=duplicates)
        return value

    @field_validator("name")
    @classmethod
    def _name_fits_the_target_group_name(cls, value: str) -> str:
        # The model's ALB target group is the resource "edge-<name>" (vllm_eks/edge/edge.py), autonamed with a suffix.
        longest = ALB_TARGET_GROUP_NAME_MAX - PULUMI_AUTONAME_SUFFIX_CHARS - len("edge-")
        if len(value) > longest:
            raise _expected(
                "at most {longest} characters (got {length}): the model's load balancer target group is named "
                "'edge-<name>-<7 random>', and AWS limits target group names to {limit}",
                longest=longest, length=len(value), limit=ALB_TARGET_GROUP_NAME_MAX,
            )
        return value

    @field_validator("catalog_model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        if value not in MODELS:
            raise _expected("one of the catalog models: {known}", known=", ".join(sorted(MODELS)))
        return value

    @field_validator("s3_prefix")
    @classmethod
    def _prefix_is_relative(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and not re.fullmatch(_S3_PREFIX, value):
            raise _expected("a relative S3 key prefix such as models/qwen3-8b: " + _S3_PREFIX_RULE)
        if value is None and info.data.get("hugging_face_id") is None:
            raise _expected("an S3 prefix, or a huggingFaceId to sync into the default prefix")
        return value

    @field_validator("sync_from_hugging_face")
    @classmethod
    def _sync_needs_a_source(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("hugging_face_id") is None:
            raise _expected("false unless huggingFaceId names the model to copy")
        return value

    @field_validator("instance_type")
    @classmethod
    def _known_instance(cls, value: str) -> str:
        if value != "auto" and value not in GPU_INSTANCES:
            raise _expected("'auto' or a GPU instance type the catalog knows: {known}", known=", ".join(GPU_INSTANCES))
        return value

    @field_validator("image")
    @classmethod
    def _image_pinned(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-z0-9][a-z0-9./_-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?", value):
            raise _expected("an image reference such as vllm/vllm-openai:v0.32.0 or ...:v0.32.0@sha256:<64 hex>")
        if value is None:
            return value
        last_segment = value.rsplit("/", 1)[-1]  # a registry port (host:5000/...) is not a tag
        tagged = ":" in last_segment.split("@")[0] and not last_segment.split("@")[0].endswith(":latest")
        if not tagged and "@sha256:" not in last_segment:
            raise _expected("an image pinned to a release tag or digest (never latest or untagged)")
        return value

    @field_validator("max_replicas")
    @classmethod
    def _max_not_below_min(cls, value: int, info: ValidationInfo) -> int:
        minimum = info.data.get("min_replicas")
        if value < max(1, minimum or 0):
            raise _expected("an integer >= minReplicas ({minimum}) and >= 1", minimum=minimum)
        return value

    @field_validator("on_demand_replicas")
    @classmethod
    def _baseline_within_range(cls, value: int, info: ValidationInfo) -> int:
        maximum = info.data.get("max_replicas")
        if maximum is not None and value > maximum:
            raise _expected("an integer <= maxReplicas ({maximum})", maximum=maximum)
        return value

    @property
    def model_prefix(self) -> str:
        return self.s3_prefix or f"models/{self.name}"


# --- autoscaling -------------------------------------------------------------------------------------------------------
class WorkingHours(_Schema):
    """Cron window (KEDA cron trigger) during which the minimum replica count is held."""

    timezone: str = "UTC"
    start: str = "0 8 * * 1-5"
    end: str = "0 19 * * 1-5"

    @field_validator("timezone")
    @classmethod
    def _iana_zone(cls, value: str) -> str:
        from zoneinfo import available_timezones

        if value not in available_timezones():
            raise _expected("an IANA time zone such as Europe/Berlin or UTC")
        return value

    @field_validator("start", "end")
    @classmethod
    def _five_field_cron(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise _expected("a five-field cron expression such as '0 8 * * 1-5'")
        return value


class AutoscalingConfig(_Schema):
    queue_threshold_per_replica: int = Field(default=10, ge=1)
    polling_interval_seconds: int = Field(default=15, ge=5, le=300)
    scale_down_window_seconds: int = Field(default=300, ge=60)
    scale_up_window_seconds: int = Field(default=0, ge=0)
    fallback_replicas: int = Field(default=1, ge=1)
    working_hours: WorkingHours | None = None


# --- observability ---------------------------------------------------------------------------------------------------
class AlertThresholds(_Schema):
    ttft_p95_seconds: float = Field(default=2.0, gt=0)
    kv_cache_usage_ratio: float = Field(default=0.95, gt=0, le=1)
    requests_waiting: int = Field(default=50, ge=1)
    error_ratio: float = Field(default=0.01, gt=0, lt=1)


class AlertingConfig(_Schema):
    """Where Alertmanager sends alerts: kube-prometheus-stack's default route ends at a `null` receiver."""

    allow_no_receiver: bool = False  # a throw-away stack may run without anyone being paged
    sns_topic_arn: str | None = Field(default=None, validate_default=True)

    @field_validator("sns_topic_arn")
    @classmethod
    def _a_receiver_unless_waived(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and not re.fullmatch(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}", value):
            raise _expected("an SNS topic ARN such as arn:aws:sns:us-east-1:123456789012:vllm-alerts")
        if value is None and not info.data.get("allow_no_receiver"):
            raise _expected(
                "an SNS topic ARN for Alertmanager (without it every alert goes to the null receiver); "
                "set observability.alerting.allowNoReceiver: true only for a stack nobody is paged for"
            )
        return value


class ObservabilityConfig(_Schema):
    prometheus_retention_days: int = Field(default=15, ge=1, le=365)
    prometheus_storage_gib: int = Field(default=50, ge=10)
    grafana: bool = True
    log_retention_days: Literal[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365] = 30
    alerts: AlertThresholds = AlertThresholds()
    alerting: AlertingConfig = Field(default={}, validate_default=True)


# --- edge ----------------------------------------------------------------------------------------------------------------
class Consumer(_Schema):
    """One API consumer: their own key, usage plan and limits."""

    name: str = Field(pattern=f"^{_DNS_LABEL}$")
    requests_per_second: float = Field(gt=0)
    burst: int = Field(ge=1)
    monthly_quota: int | None = Field(default=None, ge=1)
    key_version: int = Field(default=1, ge=1)


class EdgeConfig(_Schema):
    cloudfront: bool = True
    domain_name: str | None = None
    certificate_arn: str | None = Field(default=None, validate_default=True)
    max_request_seconds: int = Field(default=300, ge=30, le=900)
    max_body_kib: int = Field(default=64, ge=8, le=64)
    rate_limit_per_key_5min: int = Field(default=2000, ge=10)
    rate_limit_per_ip_5min: int = Field(default=5000, ge=10)
    consumers: list[Consumer] = Field(min_length=1)
    # API Gateway's CloudWatch role is ONE setting per account and region (aws.apigateway.Account), shared by every
    # REST API there. Exactly one stack per account and region manages it (and keeps it on destroy); the others
    # set false and log through it.
    manage_api_gateway_account: bool = True
    # The Route 53 public hosted zone of domainName: the stack creates its alias records there. Without it the
    # stack output dnsRecord says which CNAME to create wherever the domain's DNS lives.
    hosted_zone_id: str | None = Field(default=None, pattern=r"^Z[A-Z0-9]{1,31}$")
    # CloudFront's origin response timeout this account may use: AWS's default limit, or the raised "Response
    # timeout per origin" quota the stack states it has (a value above the default is that statement).
    cloudfront_origin_timeout_quota_seconds: int = Field(
        default=CLOUDFRONT_ORIGIN_TIMEOUT_DEFAULT_LIMIT_SECONDS, ge=1, le=900, validate_default=True
    )

    @field_validator("certificate_arn")
    @classmethod
    def _certificate_needs_domain(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("domain_name") is None:
            raise _expected("no certificate unless domainName is set")
        if value is not None and not value.startswith("arn:aws:acm:us-east-1:"):
            raise _expected("an ACM certificate ARN in us-east-1 (CloudFront only reads certificates there)")
        if value is None and info.data.get("domain_name") is not None and info.data.get("cloudfront"):
            raise _expected("an ACM certificate ARN in us-east-1 for domainName (CloudFront serves it over HTTPS)")
        return value

    @field_validator("cloudfront_origin_timeout_quota_seconds")
    @classmethod
    def _cloudfront_waits_for_the_longest_request(cls, value: int, info: ValidationInfo) -> int:
        budget = info.data.get("max_request_seconds")
        if info.data.get("cloudfront") and budget is not None and budget + HOP_MARGIN_SECONDS > value:
            raise _expected(
                "at least {needed} s for edge.maxRequestSeconds {budget} + {margin} s, or lower edge.maxRequestSeconds "
                "to {fits}: CloudFront origin timeouts above {default} s need a raised 'Response timeout per origin' "
                "quota (Service Quotas, CloudFront); set this key to the raised value once AWS granted it",
                needed=budget + HOP_MARGIN_SECONDS, budget=budget, margin=HOP_MARGIN_SECONDS,
                fits=value - HOP_MARGIN_SECONDS, default=CLOUDFRONT_ORIGIN_TIMEOUT_DEFAULT_LIMIT_SECONDS,
            )
        return value

    @field_validator("consumers")
    @classmethod
    def _unique_consumers(cls, value: list[Consumer]) -> list[Consumer]:
        names = [consumer.name for consumer in value]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise _expected("consumers with unique names, but {names} repeat", names=duplicates)
        return value


# --- plan (`preflight plan` only; nothing is deployed from it) ---------------------------------------------------------
class PlanConfig(_Schema):
    """The workload and prices `preflight plan` assumes when it estimates throughput and cost."""

    typical_prompt_tokens: int = Field(default=1024, ge=1)
    typical_output_tokens: int = Field(default=256, ge=1)
    # Share of each replica-hour spent generating at the estimated rate (idle time, uneven load, prefill).
    utilisation: float = Field(default=0.5, gt=0, le=1)
    spot_discount: float = Field(default=SPOT_DISCOUNT_DEFAULT, ge=0, lt=1)
    hosted_api_usd_per_million_output_tokens: float | None = Field(default=None, gt=0)


# --- the whole stack ---------------------------------------------------------------------------------------------------
class StackConfig(_Schema):
    network: NetworkConfig = NetworkConfig()
    cluster: ClusterConfig = ClusterConfig()
    models: list[ModelConfig] = Field(min_length=1)
    autoscaling: AutoscalingConfig = AutoscalingConfig()
    observability: ObservabilityConfig = Field(default={}, validate_default=True)  # validated: a receiver is required
    edge: EdgeConfig
    plan: PlanConfig = PlanConfig()

    @field_validator("models")
    @classmethod
    def _unique_names(cls, value: list[ModelConfig]) -> list[ModelConfig]:
        for attribute in ("name", "served_name"):
            seen = [getattr(model, attribute) for model in value]
            duplicates = sorted({item for item in seen if seen.count(item) > 1})
            if duplicates:
                raise _expected("models with unique {field}s, but {names} repeat", field=to_camel(attribute), names=duplicates)
        return value


_ARN_ACCOUNT = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12}):")


def foreign_account_errors(config: StackConfig, account_id: str) -> list[str]:
    """ARNs of resources the stack must own but that name another account: CloudFront reads ACM certificates of its
    own account only (CloudFront developer guide, "Requirements for using SSL/TLS certificates with CloudFront"). The
    shipped stack files carry AWS documentation examples (account 123456789012, *.example.com), and this is where a
    real deploy stops on them, before any resource exists, while offline rendering (mock account 123456789012) works."""
    errors = []
    certificate = config.edge.certificate_arn
    match = _ARN_ACCOUNT.match(certificate or "")
    if certificate and match and match.group(1) != account_id:
        errors.append(
            f"edge.certificateArn: got {certificate} (account {match.group(1)}), expected an ACM certificate in us-east-1 "
            f"of the deploying account {account_id}; set edge.domainName and edge.certificateArn to your API's name and "
            "certificate (the stack files ship AWS documentation examples)"
        )
    return errors


class StackConfigError(ValueError):
    """Every problem in a stack's configuration, one line each."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid stack configuration:\n" + "\n".join(f"  {line}" for line in problems))


def project_sections(config: Mapping[str, Any]) -> dict[str, Any]:
    """Every key of a stack's config under the project namespace (`vllm-eks:<key>`), known or not, values decoded.

    The engine hands a program its config as text (objects JSON-encoded); a stack file read with YAML holds objects.
    Taking every key, not only the known sections, is what lets `load_stack_config` refuse a misspelt one.
    """
    sections: dict[str, Any] = {}
    for key, value in config.items():
        namespace, _, name = key.partition(":")
        if namespace != PROJECT:
            continue
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                pass  # a plain string value; the schema says what it expected instead
        sections[name] = value
    return sections


def _unknown_section(key: str) -> str:
    nearest = difflib.get_close_matches(key, SECTIONS, n=1, cutoff=0.6)
    hint = f" (did you mean {PROJECT}:{nearest[0]}?)" if nearest else ""
    return f"{PROJECT}:{key}: got a value, expected one of the sections {', '.join(SECTIONS)}{hint}"


def load_stack_config(sections: dict[str, Any]) -> StackConfig:
    """Validate the project's config sections (`{"network": {...}, "models": [...], ...}`) in one pass."""
    unknown = sorted(set(sections) - set(SECTIONS))
    present = {key: value for key, value in sections.items() if value is not None and key in SECTIONS}
    problems = [_unknown_section(key) for key in unknown]
    try:
        config = StackConfig.model_validate(present)
    except ValidationError as error:
        problems += [_describe(detail) for detail in error.errors()]
        raise StackConfigError(problems) from None
    if problems:
        raise StackConfigError(problems)
    return config


_BUILTIN_EXPECTATIONS = {
    "missing": "a value (this setting is required)",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "model_type": "an object",
}


def _describe(detail: Mapping[str, Any]) -> str:
    path = _path(detail["loc"])
    value = detail.get("input")
    kind = detail["type"]
    context = detail.get("ctx", {})
    if kind == "stack_config":
        expected = detail["msg"]
    elif kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        operator = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[kind]
        bound = next(iter(context.values()))
        expected = f"{'an integer' if isinstance(bound, int) else 'a number'} {operator} {bound}"
    elif kind == "literal_error":
        expected = f"one of {context.get('expected')}"
    elif kind == "string_pattern_mismatch":
        expected = f"a string matching {context.get('pattern')}"
    elif kind == "too_short":  # the schema's only length bounds are minimums (min_length)
        expected = f"a list with {context.get('min_length')} item(s) or more"
    elif kind == "extra_forbidden":
        nearest = difflib.get_close_matches(str(detail["loc"][-1]), _known_settings(detail["loc"][:-1]), n=1, cutoff=0.6)
        expected = "no such setting (check the spelling" + (f"; did you mean {nearest[0]}?)" if nearest else ")")
    else:
        expected = _BUILTIN_EXPECTATIONS.get(kind, detail["msg"])
    shown = "nothing" if kind == "missing" else repr(value)
    return f"{path}: got {shown}, expected {expected}"


def _known_settings(location: tuple[Any, ...]) -> list[str]:
    """The camelCase settings of the object at `location` (list indexes skipped), for a misspelling's suggestion."""
    schema: Any = StackConfig
    for part in location:
        if isinstance(part, int):
            continue
        fields = schema.model_fields if isinstance(schema, type) and issubclass(schema, BaseModel) else {}
        field = next((f for name, f in fields.items() if part in (name, f.alias)), None)
        if field is None:
            return []
        schema = next((t for t in _unwrapped(field.annotation) if isinstance(t, type) and issubclass(t, BaseModel)), None)
    if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
        return []
    return [to_camel(name) for name in schema.model_fields]


def _unwrapped(annotation: Any) -> list[Any]:
    """`X`, `X | None` and `list[X]` all lead to X."""
    arguments = getattr(annotation, "__args__", None)
    if not arguments:
        return [annotation]
    return [inner for argument in arguments for inner in _unwrapped(argument)]


def _path(location: tuple[Any, ...]) -> str:
    text = ""
    for part in location:
        if isinstance(part, str) and "_" in part:
            part = to_camel(part)  # defaults are validated under the Python name; users write camelCase
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
