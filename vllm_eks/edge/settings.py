"""What a consumer of the Edge component sets: the request path's entry, limits and API consumers."""

from typing import NotRequired, TypedDict


class EdgeConsumer(TypedDict):
    """One API consumer: their own key, usage plan and limits."""

    name: str
    """DNS label naming the consumer's key, secret and usage plan."""
    requests_per_second: float
    """Steady-state request rate of the consumer's usage plan."""
    burst: int
    """Burst limit of the consumer's usage plan."""
    monthly_quota: NotRequired[int | None]
    """Requests per month; absent or null means no quota."""
    key_version: int
    """Bumping it replaces the key (rotation)."""


class EdgeSettings(TypedDict):
    """What the request path promises: its entry, its time and size limits, its consumers."""

    cloudfront: bool
    """CloudFront in front of API Gateway (the WAF then sits on the distribution)."""
    domain_name: NotRequired[str | None]
    """The API's public name; with CloudFront it needs certificate_arn."""
    certificate_arn: NotRequired[str | None]
    """ACM certificate for domain_name in us-east-1."""
    hosted_zone_id: NotRequired[str | None]
    """Route 53 public hosted zone of domain_name: the alias record is created there."""
    max_request_seconds: int
    """The longest request (streaming included); every hop's timeout derives from it."""
    max_body_kib: int
    """Largest request body the WAF inspects and admits."""
    rate_limit_per_key_5min: int
    """WAF rate limit per API key over 5 minutes."""
    rate_limit_per_ip_5min: int
    """WAF rate limit per client address over 5 minutes."""
    consumers: list[EdgeConsumer]
    """The API's consumers, one key and usage plan each."""
    manage_api_gateway_account: bool
    """Whether this stack owns the account-and-region-wide API Gateway CloudWatch role."""
