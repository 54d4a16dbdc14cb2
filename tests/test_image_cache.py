"""Images pull from the account's ECR through pull-through cache rules, never anonymously from Docker Hub."""

from __future__ import annotations

import copy
import json

import pytest

from vllm_eks.planning.catalog import AWS_LOAD_BALANCER_CONTROLLER_CHART, KARPENTER_CHART, KEDA_CHART, KUBE_PROMETHEUS_STACK_CHART, PULL_THROUGH_UPSTREAMS
from vllm_eks.cluster.image_cache import cached_image, chart_image_values
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
    """nvcr.io is not among the upstreams ECR pull-through cache supports (Amazon ECR User Guide, "Sync an upstream
    registry with an Amazon ECR private registry")."""
    with pytest.raises(ValueError) as raised:
        cached_image("nvcr.io/nvidia/k8s/dcgm-exporter:4.6.0-4.8.3-distroless", HOST)
    assert str(raised.value) == (
        "image 'nvcr.io/nvidia/k8s/dcgm-exporter:4.6.0-4.8.3-distroless': registry nvcr.io has no pull-through cache "
        f"rule; expected one of {', '.join(sorted(PULL_THROUGH_UPSTREAMS))} (vllm_eks/planning/catalog.py "
        "PULL_THROUGH_UPSTREAMS)")


@pytest.mark.parametrize("image, registry", [
    ("localhost/team/vllm:1", "localhost"),         # `localhost` is a registry without a dot
    ("registry:5000/team/vllm:1", "registry:5000"),  # so is a host with a port
])
def test_a_registry_named_by_port_or_localhost_is_not_docker_hub(image, registry):
    """Docker's reference grammar (distribution/reference, "normalize.go" splitDockerDomain): the first path segment
    is a registry when it holds a `.` or `:` or is `localhost`; such a registry has no cache rule here."""
    with pytest.raises(ValueError, match=f"registry {registry} has no pull-through cache rule"):
        cached_image(image, HOST)


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
    assert rules["github"]["upstreamRegistryUrl"] == "ghcr.io"
    assert rules["github"]["credentialArn"].startswith(
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/github-")
    for prefix, upstream in (("quay", "quay.io"), ("kubernetes", "registry.k8s.io")):
        assert rules[prefix]["upstreamRegistryUrl"] == upstream and "credentialArn" not in rules[prefix]


@pytest.mark.parametrize("key", ["dockerHubCredentialsSecretName", "githubCredentialsSecretName"])
def test_pull_through_credentials_secrets_must_carry_the_ecr_prefix(key):
    """AWS, "Storing your upstream repository credentials in an AWS Secrets Manager secret": the secret's name must
    start with ecr-pullthroughcache/."""
    sections = {key.split(":", 1)[1]: value for key, value in read_stack_config("prod").items() if key.startswith("vllm-eks:")}
    sections["cluster"] = {**sections.get("cluster", {}), key: "docker-hub"}
    with pytest.raises(StackConfigError, match=f"cluster.{key}: got 'docker-hub'"):
        load_stack_config(sections)
    sections["cluster"][key] = "ecr-pullthroughcache/team-hub"
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
            f"arn:aws:ecr:us-east-1:123456789012:repository/{prefix}/*"
            for prefix in ("docker-hub", "ecr-public", "github", "kubernetes", "quay")
        ]


def test_chart_image_values_point_each_chart_image_at_its_cache_rule():
    """Chart defaults as their values.yaml gives them (vllm_eks/planning/catalog.py names each file): Karpenter and the Load
    Balancer Controller take the whole reference in `repository` (tag and digest stay the chart's); KEDA and
    kube-prometheus-stack join `registry` and `repository`, so only the registry moves to <host>/<rule prefix>."""
    assert chart_image_values(KARPENTER_CHART, HOST) == {
        "controller": {"image": {"repository": f"{HOST}/ecr-public/karpenter/controller"}}
    }
    assert chart_image_values(AWS_LOAD_BALANCER_CONTROLLER_CHART, HOST) == {
        "image": {"repository": f"{HOST}/ecr-public/eks/aws-load-balancer-controller"}
    }
    assert chart_image_values(KEDA_CHART, HOST) == {
        "image": {part: {"registry": f"{HOST}/github"} for part in ("keda", "metricsApiServer", "webhooks")}
    }
    quay, github = {"image": {"registry": f"{HOST}/quay"}}, {"image": {"registry": f"{HOST}/github"}}
    assert chart_image_values(KUBE_PROMETHEUS_STACK_CHART, HOST) == {
        "prometheusOperator": {**quay, "prometheusConfigReloader": quay, "admissionWebhooks": {"patch": github}},
        "prometheus": {"prometheusSpec": quay},
        "alertmanager": {"alertmanagerSpec": quay},
        "kube-state-metrics": {"image": {"registry": f"{HOST}/kubernetes"}},
        "prometheus-node-exporter": quay,
        "grafana": {"image": {"registry": f"{HOST}/docker-hub"}, "sidecar": quay},
    }


def _at(values: dict, path: tuple[str, ...]) -> dict:
    for key in path:
        values = values[key]
    return values


@pytest.mark.parametrize("stack", ["dev_snapshot", "prod_snapshot"])
def test_every_chart_image_is_pulled_through_the_account_registry(stack, request):
    """Every image a Helm release runs is redirected to the account's registry; only NVIDIA's charts are not, because
    ECR pull-through cache has no rule for nvcr.io (Amazon ECR User Guide, "Sync an upstream registry with an Amazon
    ECR private registry", supported upstream registries)."""
    snapshot = request.getfixturevalue(stack)
    charts = {chart.chart: chart for chart in (KARPENTER_CHART, AWS_LOAD_BALANCER_CONTROLLER_CHART, KEDA_CHART, KUBE_PROMETHEUS_STACK_CHART)}
    releases = resources_of(snapshot, "kubernetes:helm.sh/v3:Release")
    redirected = set()
    for release in releases:
        chart_name = release["props"]["chart"].rsplit("/", 1)[-1]
        if chart_name in {"dcgm-exporter", "nvidia-device-plugin"}:
            continue
        redirected.add(chart_name)
        for image in charts[chart_name].images:
            override = _at(release["props"]["values"], image.path)
            reference = override["registry"] if image.split else override["repository"]
            assert reference.startswith(f"{HOST}/"), (chart_name, image.path, reference)
    assert redirected == set(charts)
    keda = next(r for r in releases if r["props"]["chart"] == "keda")
    assert keda["props"]["values"]["image"]["pullPolicy"] == "IfNotPresent"  # the chart's default is Always


@pytest.mark.parametrize("stack", ["dev_snapshot", "prod_snapshot"])
def test_every_chart_comes_from_its_projects_published_repository(stack, request):
    """Each project's install guide: Karpenter "Getting Started" (`oci://public.ecr.aws/karpenter/karpenter`, an OCI
    chart has no repository: Helm docs "Use OCI-based registries"); AWS Load Balancer Controller "Install with Helm"
    (`helm repo add eks https://aws.github.io/eks-charts`); KEDA "Deploying KEDA" (`https://kedacore.github.io/charts`);
    prometheus-community/helm-charts README (`https://prometheus-community.github.io/helm-charts`); NVIDIA
    dcgm-exporter README (`https://nvidia.github.io/dcgm-exporter/helm-charts`)."""
    releases = {r["name"]: r["props"] for r in resources_of(request.getfixturevalue(stack), "kubernetes:helm.sh/v3:Release")}
    assert {name: (props["chart"], props.get("repositoryOpts", {}).get("repo")) for name, props in releases.items()} == {
        "cluster-karpenter": ("oci://public.ecr.aws/karpenter/karpenter", None),
        "edge-lb-controller": ("aws-load-balancer-controller", "https://aws.github.io/eks-charts"),
        "autoscaling-keda": ("keda", "https://kedacore.github.io/charts"),
        "observability-kube-prometheus-stack": ("kube-prometheus-stack", "https://prometheus-community.github.io/helm-charts"),
        "observability-dcgm-exporter": ("dcgm-exporter", "https://nvidia.github.io/dcgm-exporter/helm-charts"),
    }
