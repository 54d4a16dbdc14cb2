"""Router health as rendered: probes and the ALB's health check ask for the router process, never its workers."""

from __future__ import annotations

import pytest

from rendered import resources_of

STACKS = ["dev_snapshot", "prod_snapshot"]


def _routers(snapshot):
    return [d for d in resources_of(snapshot, "kubernetes:apps/v1:Deployment") if d["props"]["metadata"]["name"] == "vllm-router"]


@pytest.mark.parametrize("stack", STACKS)
def test_router_probes_and_alb_check_use_liveness_not_health(stack, request):
    """vllm-router 0.1.17, measured here (../shared/FACTS.md "vLLM router", health endpoints): /health went 200 -> 503
    with one of two workers killed while /liveness stayed 200. A probe or target-group check on /health would restart
    every router of the model, and empty its target group, for one bad vLLM replica."""
    snapshot = request.getfixturevalue(stack)
    routers = _routers(snapshot)
    assert routers
    for router in routers:
        (container,) = router["props"]["spec"]["template"]["spec"]["containers"]
        for probe in ("livenessProbe", "readinessProbe"):
            assert container[probe]["httpGet"]["path"] == "/liveness", probe
    groups = resources_of(snapshot, "aws:lb/targetGroup:TargetGroup")
    assert groups and all(group["props"]["healthCheck"]["path"] == "/liveness" for group in groups)


@pytest.mark.parametrize("stack", STACKS)
def test_router_checks_its_workers_every_few_seconds(stack, request):
    """vllm-router 0.1.17 `--health-check-interval-secs` defaults to 60 (../shared/FACTS.md "vLLM router"): a dead
    worker would stay in rotation for up to a minute."""
    for router in _routers(request.getfixturevalue(stack)):
        args = router["props"]["spec"]["template"]["spec"]["containers"][0]["args"]
        interval = float(args[args.index("--health-check-interval-secs") + 1])
        assert interval == 5


@pytest.mark.parametrize("stack", STACKS)
def test_load_balancer_controller_pod_webhook_admits_only_router_pods(stack, request):
    """aws/eks-charts stable/aws-load-balancer-controller/templates/webhook.yaml: the `mpod.elbv2.k8s.aws` webhook
    (failurePolicy from podMutatorWebhookConfig, Fail by default) matches every pod created in a namespace labelled
    elbv2.k8s.aws/pod-readiness-gate-inject=enabled, narrowed by `.Values.objectSelector`. The serving namespaces carry
    that label, so without the selector a controller outage blocks vLLM pods too."""
    snapshot = request.getfixturevalue(stack)
    (release,) = [r for r in resources_of(snapshot, "kubernetes:helm.sh/v3:Release") if r["props"]["chart"] == "aws-load-balancer-controller"]
    selector = release["props"]["values"]["objectSelector"]
    router_labels = _routers(snapshot)[0]["props"]["spec"]["template"]["metadata"]["labels"]
    vllm_labels = next(d for d in resources_of(snapshot, "kubernetes:apps/v1:Deployment")
                       if d["props"]["metadata"]["name"].startswith("vllm-") and d["props"]["metadata"]["name"] != "vllm-router")
    vllm_labels = vllm_labels["props"]["spec"]["template"]["metadata"]["labels"]
    matches = lambda labels: all(labels.get(key) == value for key, value in selector["matchLabels"].items())  # noqa: E731
    assert matches(router_labels) and not matches(vllm_labels)
