"""The program's validated config mapped onto the library's Args types: the one place stack_config meets vllm_eks."""

from vllm_eks.edge.settings import EdgeSettings
from vllm_eks.serving.served_model import ServedModel

from stack_config import EdgeConfig, ModelConfig


def served_model(model: ModelConfig) -> ServedModel:
    return {
        "name": model.name,
        "served_name": model.served_name,
        "catalog_model": model.catalog_model,
        "model_prefix": model.model_prefix,
        "dtype": model.dtype,
        "quantization": model.quantization,
        "gpu_memory_utilization": model.gpu_memory_utilization,
        "max_model_len": model.max_model_len,
        "load_format": model.load_format,
        "lora_adapters": [
            {"name": adapter.name, "s3_prefix": adapter.s3_prefix, "rank": adapter.rank} for adapter in model.lora_adapters
        ],
        "speculative_config": model.speculative.model_dump(exclude_none=True) if model.speculative else None,
        "thinking": model.thinking,
        "capacity_type": model.capacity_type,
        "min_replicas": model.min_replicas,
        "startup_budget_seconds": model.startup_budget_seconds,
        "image": model.image,
    }


def edge_settings(edge: EdgeConfig) -> EdgeSettings:
    return {
        "cloudfront": edge.cloudfront,
        "domain_name": edge.domain_name,
        "certificate_arn": edge.certificate_arn,
        "hosted_zone_id": edge.hosted_zone_id,
        "max_request_seconds": edge.max_request_seconds,
        "max_body_kib": edge.max_body_kib,
        "rate_limit_per_key_5min": edge.rate_limit_per_key_5min,
        "rate_limit_per_ip_5min": edge.rate_limit_per_ip_5min,
        "consumers": [
            {
                "name": consumer.name,
                "requests_per_second": consumer.requests_per_second,
                "burst": consumer.burst,
                "monthly_quota": consumer.monthly_quota,
                "key_version": consumer.key_version,
            }
            for consumer in edge.consumers
        ],
        "manage_api_gateway_account": edge.manage_api_gateway_account,
    }
