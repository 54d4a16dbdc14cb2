"""ImageCache: ECR pull-through cache rules, so every image the stack runs is pulled from the account's registry.

Nodes then pull through the ecr.api/ecr.dkr interface endpoints (and S3's gateway endpoint for layers), never from
Docker Hub through the NAT's one address, which anonymous limits exhaust within a crash loop or a scale-out burst.
The first pull of a tag imports it from upstream; later pulls, on every node, are served by ECR.
"""

from __future__ import annotations

from typing import TypedDict

import json

import pulumi
import pulumi_aws as aws

from components.catalog import PULL_THROUGH_UPSTREAMS
from components.iam_documents import pull_through_import_policy


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
            f"{', '.join(sorted(PULL_THROUGH_UPSTREAMS))} (components/catalog.py PULL_THROUGH_UPSTREAMS)"
        )
    if registry == "docker.io" and "/" not in path:
        path = f"library/{path}"
    return f"{host}/{PULL_THROUGH_UPSTREAMS[registry][0]}/{path}"


class ImageCacheArgs(TypedDict):
    region: str
    account_id: str
    # Secrets Manager secret (name starting ecr-pullthroughcache/) with Docker Hub `username` and `accessToken`.
    docker_hub_credentials_secret_name: str


class ImageCache(pulumi.ComponentResource):
    registry_host: str  # a plain value: image references are built before any resource exists
    # The policy every node role needs to import images through these rules on their first pull.
    node_import_policy: pulumi.Output[str]

    def __init__(self, name: str, args: ImageCacheArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("vllm-eks:index:ImageCache", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        for registry, (prefix, upstream, needs_credentials) in sorted(PULL_THROUGH_UPSTREAMS.items()):
            credential_arn = None
            if needs_credentials:
                secret = aws.secretsmanager.get_secret_output(
                    name=args["docker_hub_credentials_secret_name"], opts=pulumi.InvokeOutputOptions(parent=self)
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
