"""Images pull from the account's ECR through pull-through cache rules, never anonymously from Docker Hub."""

from __future__ import annotations

import copy
import json

import pytest

from components.image_cache import cached_image
from preflight.render import read_stack_config, render_config
from rendered import resources_of
from stack_config import StackConfigError, load_stack_config

HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
WORKLOADS = ("kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:Job")


@pytest.mark.parametrize("upstream,cached", [
    ("docker.io/vllm/vllm-openai:v0.32.0", f"{HOST}/docker-hub/vllm/vllm-openai:v0.32.0"),
    ("vllm/vllm-router:v0.1.17@sha256:" + "a" * 64, f"{HOST}/docker-hub/vllm/vllm-router:v0.1.17@sha256:" + "a" * 64),
    ("busybox:1.37.0", f"{HOST}/docker-hub/library/busybox:1.37.0"),
    ("public.ecr.aws/aws-cli/aws-cli:2.27.9", f"{HOST}/ecr-public/aws-cli/aws-cli:2.27.9"),
    (f"{HOST}/team/vllm:1", f"{HOST}/team/vllm:1"),
])
def test_cached_image_paths(upstream, cached):
    """AWS, "Pulling an image with a pull through cache rule in Amazon ECR": <registry>/<prefix>/<upstream path>;
    Docker Hub official images live under library/ (Docker, "Docker Hub" official images)."""
    assert cached_image(upstream, HOST) == cached


def test_an_image_from_a_registry_without_a_rule_is_refused():
    with pytest.raises(ValueError, match="registry quay.io has no pull-through cache rule"):
        cached_image("quay.io/prometheus/prometheus:v3.0.0", HOST)


def _containers(snapshot):
    for workload in (r for t in WORKLOADS for r in resources_of(snapshot, t)):
        spec = workload["props"]["spec"]["template"]["spec"]
        yield from spec.get("initContainers", []) + spec["containers"]


@pytest.fixture(scope="module")
def synced_snapshot() -> dict:
    """dev with its model synced from Hugging Face and loaded by the s3-sync init container: every image kind."""
    config = copy.deepcopy(read_stack_config("dev"))
    config["vllm-eks:models"][0].update({"syncFromHuggingFace": True, "loadFormat": "s3-sync"})
    config["vllm-eks:models"][0].setdefault("huggingFaceId", "Qwen/Qwen3-1.7B")
    return render_config("dev-synced", config)


@pytest.mark.parametrize("stack", ["dev_snapshot", "prod_snapshot", "synced_snapshot"])
def test_every_rendered_image_comes_from_the_account_registry_if_not_present(stack, request):
    """Docker, "Docker Hub usage and limits": anonymous pulls are 10 per hour per IPv4 address (a manifest check
    counts) and every node leaves through the NAT's; Kubernetes, "Images": `Always` asks the registry on every start."""
    snapshot = request.getfixturevalue(stack)
    containers = list(_containers(snapshot))
    expected = {"vllm", "router"} | ({"fetch-weights", "download", "upload"} if stack == "synced_snapshot" else set())
    assert expected <= {container["name"] for container in containers}
    for container in containers:
        assert container["image"].startswith(f"{HOST}/"), container["image"]
        assert container.get("imagePullPolicy", "IfNotPresent") == "IfNotPresent", container["name"]
    rules = {r["props"]["ecrRepositoryPrefix"]: r["props"] for r in resources_of(snapshot, "aws:ecr/pullThroughCacheRule:PullThroughCacheRule")}
    assert rules["docker-hub"]["upstreamRegistryUrl"] == "registry-1.docker.io"
    assert rules["docker-hub"]["credentialArn"].startswith(
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/docker-hub-")
    assert rules["ecr-public"]["upstreamRegistryUrl"] == "public.ecr.aws" and "credentialArn" not in rules["ecr-public"]


def test_docker_hub_credentials_secret_must_carry_the_ecr_prefix():
    """AWS, "Storing your upstream repository credentials in an AWS Secrets Manager secret": the secret's name must
    start with ecr-pullthroughcache/."""
    sections = {key.split(":", 1)[1]: value for key, value in read_stack_config("prod").items() if key.startswith("vllm-eks:")}
    sections["cluster"] = {**sections.get("cluster", {}), "dockerHubCredentialsSecretName": "docker-hub"}
    with pytest.raises(StackConfigError, match="cluster.dockerHubCredentialsSecretName: got 'docker-hub'"):
        load_stack_config(sections)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_node_role_may_import_through_the_cache_rules_and_nothing_else(stack, request):
    """Amazon ECR User Guide, "IAM permissions required to sync an upstream registry with an Amazon ECR private
    registry": the principal that pulls needs `ecr:BatchImportUpstreamImage`, and `ecr:CreateRepository` while the
    cached repository does not exist (every image's first pull). AmazonEC2ContainerRegistryPullOnly, the nodes'
    managed policy, only pulls (AWS Managed Policy reference). Both node roles pull: system nodes (router, controllers)
    and Karpenter's GPU nodes (vLLM)."""
    snapshot = request.getfixturevalue(f"{stack}_snapshot")
    node_roles = {"cluster-system-node-role", "cluster-karpenter-node-role"}
    policies = {
        resource["name"]: json.loads(resource["props"]["policy"])
        for resource in resources_of(snapshot, "aws:iam/rolePolicy:RolePolicy")
        if resource["name"].endswith("-image-import")
    }
    assert set(policies) == {f"{role}-image-import" for role in node_roles}
    for document in policies.values():
        (statement,) = document["Statement"]
        assert statement["Action"] == ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"]
        assert statement["Resource"] == [
            f"arn:aws:ecr:us-east-1:123456789012:repository/{prefix}/*" for prefix in ("docker-hub", "ecr-public")
        ]
