"""ImageCache: ECR pull-through cache rules, so every image the stack runs is pulled from the account's registry.

Nodes then pull through the ecr.api/ecr.dkr interface endpoints (and S3's gateway endpoint for layers), never from
Docker Hub through the NAT's one address, which anonymous limits exhaust within a crash loop or a scale-out burst.
The first pull of a tag imports it from upstream; later pulls, on every node, are served by ECR.
"""

import json
from typing import Any, TypedDict

import pulumi
import pulumi_aws as aws

from vllm_eks.planning.catalog import PULL_THROUGH_UPSTREAMS, HelmChart
from vllm_eks.iam.iam_documents import pull_through_import_policy


def registry_host(account_id: str, region: str) -> str:
    return f"{account_id}.dkr.ecr.{region}.amazonaws.com"


def cached_image(image: str, host: str) -> str:
    """The pull-through path of an upstream image: docker.io/vllm/x:1 -> <host>/docker-hub/vllm/x:1.

    Docker's reference rules: a first path segment with a dot or colon (or `localhost`) is a registry, anything
    else is Docker Hub, whose one-segment names live under `library/`. An image already in `host` is kept.
    """
    first, _, rest = image.partition("/")
    if first == host:
        return image
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = "docker.io", image
    if registry not in PULL_THROUGH_UPSTREAMS:
        raise ValueError(
            f"image {image!r}: registry {registry} has no pull-through cache rule; expected one of "
            f"{', '.join(sorted(PULL_THROUGH_UPSTREAMS))} (vllm_eks/planning/catalog.py PULL_THROUGH_UPSTREAMS)"
        )
    if registry == "docker.io" and "/" not in path:
        path = f"library/{path}"
    return f"{host}/{PULL_THROUGH_UPSTREAMS[registry][0]}/{path}"


def chart_image_values(chart: HelmChart, host: str) -> dict[str, Any]:
    """Helm values that make every image of `chart` (catalog `HelmChart.images`) pull through the cache rules."""
    values: dict[str, Any] = {}
    for image in chart.images:
        cached = cached_image(image.upstream, host)
        if image.split:
            _, _, repository = image.upstream.partition("/")
            override = {"registry": cached.removesuffix(f"/{repository}")}
        else:
            override = {"repository": cached}
        *parents, leaf = image.path
        node = values
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = override
    return values


def with_chart_images(values: dict[str, Any], chart: HelmChart, host: str) -> dict[str, Any]:
    """`values` with the chart's image registries pointed at the cache (a deep merge; other keys untouched)."""
    return _deep_merge(values, chart_image_values(chart, host))


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        merged[key] = _deep_merge(merged[key], value) if isinstance(merged.get(key), dict) and isinstance(value, dict) else value
    return merged


class ImageCacheArgs(TypedDict):
    region: str
    """The Region of the account's ECR registry."""
    account_id: str
    """The AWS account that owns the registry."""
    docker_hub_credentials_secret_name: str
    """Secrets Manager secret (name starting ecr-pullthroughcache/) with Docker Hub `username` and `accessToken`."""
    github_credentials_secret_name: str
    """Secrets Manager secret (name starting ecr-pullthroughcache/) with a GitHub `username` and a token with
    read:packages as `accessToken` (KEDA and the certgen Job are on ghcr.io)."""


class ImageCache(pulumi.ComponentResource):
    """ECR pull-through cache rules (Docker Hub and GitHub with their credentials secrets, ECR Public, Quay,
    registry.k8s.io): every image the stack renders and every image of its Helm charts (Karpenter, Load Balancer
    Controller, KEDA, kube-prometheus-stack with Grafana) is pulled from the account's registry, `IfNotPresent`; both
    node roles may import through those rules only (`ecr:BatchImportUpstreamImage`, and `ecr:CreateRepository` for an
    image's first pull).
    """

    registry_host: str
    """The account's ECR registry host (a plain value: image references are built before any resource exists)."""
    node_import_policy: pulumi.Output[str]
    """The policy every node role needs to import images through these rules on their first pull."""

    def __init__(self, name: str, args: ImageCacheArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("vllm-eks:index:ImageCache", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        secret_names = {
            "docker_hub": args["docker_hub_credentials_secret_name"],
            "github": args["github_credentials_secret_name"],
        }
        for registry, (prefix, upstream, credentials) in sorted(PULL_THROUGH_UPSTREAMS.items()):
            credential_arn = None
            if credentials:
                secret = aws.secretsmanager.get_secret_output(
                    name=secret_names[credentials], opts=pulumi.InvokeOutputOptions(parent=self)
                )
                credential_arn = secret.arn
            aws.ecr.PullThroughCacheRule(
                f"{name}-{prefix}",
                ecr_repository_prefix=prefix,
                upstream_registry_url=upstream,
                credential_arn=credential_arn,
                opts=child,
            )
        self.registry_host = registry_host(args["account_id"], args["region"])
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition
        prefixes = sorted(prefix for prefix, _, _ in PULL_THROUGH_UPSTREAMS.values())
        self.node_import_policy = partition.apply(
            lambda value: json.dumps(pull_through_import_policy(value, args["region"], args["account_id"], prefixes))
        )
        self.register_outputs({"node_import_policy": self.node_import_policy})
