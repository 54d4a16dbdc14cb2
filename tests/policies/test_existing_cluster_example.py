"""examples/existing-cluster (issue 19: bring your own cluster) renders under the same mocks as `preflight render` and
passes the policy pack's gate, first preview and applied, through the Analyzer protocol.

What the program does not create (the cluster's StorageClasses and Karpenter NodePools, the VPC's endpoints and
load-balancer subnets) the pack cannot see: those policies answer "not applicable: not in this stack" instead of
passing silently or failing on a resource that exists elsewhere (policies/_aws.py cluster_outside_stack). The stacks
that create their cluster (dev, prod) are judged as before: tests/policies/test_cluster_policies.py and the parity tests.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from preflight.gate import run_gate
from preflight.render import render_stack

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "existing-cluster"
OUTSIDE = {"gpu-on-demand-pool", "s3-gateway-endpoint", "volume-claims-name-a-stack-storage-class",
           "router-serving-port-from-alb-only"}


@pytest.fixture(scope="module")
def renders() -> dict:
    return {"preview": render_stack("dev", EXAMPLE, preview=True), "applied": render_stack("dev", EXAMPLE)}


def test_example_deploys_the_library_components_on_an_existing_cluster(renders):
    types = {r["type"] for r in renders["applied"]["resources"]}
    assert {"vllm-eks:index:ModelStore", "vllm-eks:index:VllmService", "vllm-eks:index:Autoscaling",
            "vllm-eks:index:Observability", "vllm-eks:index:Edge"} <= types
    assert not types & {"vllm-eks:index:GpuCluster", "vllm-eks:index:Network", "eks:index:Cluster", "aws:ec2/vpc:Vpc"}


def test_example_passes_the_gate(pack, renders):
    gate = run_gate(pack, **renders)
    mandatory = [(name, v.policy_name, v.message) for name, result in gate.checks.items()
                 for v in result.violations if v.enforcement_level == "mandatory"]
    assert gate.passed and not mandatory, mandatory
    reasons = {item["policy"]: item["reason"] for item in gate.checks["applied"].not_applicable}
    assert OUTSIDE <= set(reasons), reasons
    assert all(reasons[policy].startswith("not in this stack") for policy in OUTSIDE)


def test_router_fence_still_judges_what_the_stack_holds(pack, renders):
    """With the VPC outside the stack, an ipBlock cannot be judged, but a pod peer on the router's port still fails."""
    applied = copy.deepcopy(renders["applied"])
    (fence,) = [r for r in applied["resources"] if r["name"].endswith("-router-from-alb")]
    fence["props"]["spec"]["ingress"][0]["from"] = [{"podSelector": {}}]
    violations = [v for v in pack.check(applied).violations if v.policy_name == "router-serving-port-from-alb-only"]
    assert violations and "pods (podSelector/namespaceSelector)" in violations[0].message
