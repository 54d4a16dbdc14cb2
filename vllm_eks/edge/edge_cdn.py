"""The Edge's public side: the AWS WAF web ACL and, in prod, the CloudFront distribution in front of API Gateway.

Helpers of `vllm_eks/edge/edge.py` (children are parented to the Edge); the rules and the function code come from
the pure builders in `edge_specs`. The origin timeouts fit edge.cloudfrontOriginTimeoutQuotaSeconds (checked at
config load).
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from vllm_eks.edge import edge_specs as specs
from vllm_eks.planning.catalog import (
    CLOUDFRONT_ALL_VIEWER_EXCEPT_HOST_POLICY_ID,
    CLOUDFRONT_HOSTED_ZONE_ID,
    CLOUDFRONT_CACHING_DISABLED_POLICY_ID,
    CLOUDFRONT_MINIMUM_TLS,
)
from vllm_eks.edge.edge_api import STAGE_NAME
from vllm_eks.edge.settings import EdgeSettings


def web_acl(parent: pulumi.Resource, name: str, prefix: str, config: EdgeSettings, scope: str) -> aws.wafv2.WebAcl:
    """`prefix` scopes the CloudWatch metric names to the stack (metrics of two stacks in one account never mix)."""
    return aws.wafv2.WebAcl(
        f"{name}-waf",
        scope=scope,
        # CloudFront web ACLs live in us-east-1 whatever the stack's region.
        region="us-east-1" if scope == "CLOUDFRONT" else None,
        default_action={"allow": {}},
        rules=specs.waf_rules(prefix, config["max_body_kib"], config["rate_limit_per_key_5min"], config["rate_limit_per_ip_5min"]),
        association_config=specs.waf_association_config(scope, config["max_body_kib"]),
        visibility_config={"cloudwatch_metrics_enabled": True, "sampled_requests_enabled": True, "metric_name": f"{prefix}-waf"},
        opts=pulumi.ResourceOptions(parent=parent),
    )


def distribution(
    parent: pulumi.Resource,
    name: str,
    config: EdgeSettings,
    api: aws.apigateway.RestApi,
    stage: aws.apigateway.Stage,
    acl: aws.wafv2.WebAcl,
    origin_secret: random.RandomPassword,
    region: str,
    timeouts: specs.TimeoutChain,
) -> aws.cloudfront.Distribution:
    """HTTPS only, TLS 1.2+, nothing cached, origin timeouts above API Gateway's, the origin-verify header added."""
    child = pulumi.ResourceOptions(parent=parent)
    certificate: aws.cloudfront.DistributionViewerCertificateArgsDict
    if config.get("domain_name") and config.get("certificate_arn"):
        certificate = {
            "acm_certificate_arn": config.get("certificate_arn"),
            "ssl_support_method": "sni-only",
            "minimum_protocol_version": CLOUDFRONT_MINIMUM_TLS,
        }
    else:
        certificate = {"cloudfront_default_certificate": True, "minimum_protocol_version": CLOUDFRONT_MINIMUM_TLS}
    return aws.cloudfront.Distribution(
        f"{name}-cdn",
        enabled=True,
        comment=f"{name}: OpenAI-compatible API",
        aliases=[domain_name] if (domain_name := config.get("domain_name")) else None,
        http_version="http2and3",
        price_class="PriceClass_100",
        web_acl_id=acl.arn,
        origins=[
            {
                "origin_id": "api-gateway",
                "domain_name": api.id.apply(lambda api_id: f"{api_id}.execute-api.{region}.amazonaws.com"),
                "origin_path": f"/{STAGE_NAME}",
                "custom_origin_config": {
                    "http_port": 80,
                    "https_port": 443,
                    "origin_protocol_policy": "https-only",
                    "origin_ssl_protocols": ["TLSv1.2"],
                    "origin_read_timeout": timeouts.cloudfront_read_seconds,
                    "origin_keepalive_timeout": 60,
                },
                "response_completion_timeout": timeouts.cloudfront_completion_seconds,
                "custom_headers": [{"name": specs.ORIGIN_VERIFY_HEADER, "value": origin_secret.result}],
            }
        ],
        default_cache_behavior={
            "target_origin_id": "api-gateway",
            "viewer_protocol_policy": "https-only",
            "allowed_methods": ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"],
            "cached_methods": ["GET", "HEAD"],
            "cache_policy_id": CLOUDFRONT_CACHING_DISABLED_POLICY_ID,
            # All viewer headers but Host (API Gateway needs its own), Authorization included.
            "origin_request_policy_id": CLOUDFRONT_ALL_VIEWER_EXCEPT_HOST_POLICY_ID,
            "compress": False,  # SSE must not wait for a compression buffer
            # No viewer-response function: CloudFront runs none when the origin answers 400 or more (developer
            # guide, "Restrictions on all edge functions"), so it could never add Retry-After to a cold-start 503.
        },
        restrictions={"geo_restriction": {"restriction_type": "none"}},
        viewer_certificate=certificate,
        opts=child.merge(pulumi.ResourceOptions(depends_on=[stage])),
    )


def domain_record(parent: pulumi.Resource, name: str, config: EdgeSettings, cdn: aws.cloudfront.Distribution) -> pulumi.Output[str]:
    """An alias A record in the named hosted zone, or the CNAME the owner of the domain's DNS must create."""
    domain = config.get("domain_name")
    if not domain:
        return pulumi.Output.from_input("none: clients use the CloudFront domain of apiEndpoint")
    if not config.get("hosted_zone_id"):
        return cdn.domain_name.apply(lambda host: f"create: {domain} CNAME {host}")
    # IPv4 only: the distribution leaves IPv6 off, so an AAAA alias would have nothing to point at.
    aws.route53.Record(
        f"{name}-dns",
        zone_id=config.get("hosted_zone_id"),
        name=domain,
        type="A",
        aliases=[{"name": cdn.domain_name, "zone_id": CLOUDFRONT_HOSTED_ZONE_ID, "evaluate_target_health": False}],
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return pulumi.Output.from_input(f"created: {domain} alias A in {config.get('hosted_zone_id')}")
