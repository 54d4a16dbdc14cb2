"""A TypeScript/YAML/Go consumer's `providers: {kubernetes: ...}` reaches the Kubernetes children of a component the
provider host constructs (issue 19: the library's Args carry no Provider object).

The path is the SDK's own: the engine's ConstructRequest.providers becomes the component's `providers` resource option
(pulumi/provider/server.py `ProviderServicer._construct_options`, used by `component_provider_host` through
pulumi/provider/experimental/host.py -> pulumi.provider.main), the camelCase inputs become the component's Args
(pulumi/provider/experimental/component.py `ComponentProvider.construct`), and every child created with
`parent=self` inherits the parent's provider for its package (pulumi/resource.py). Rendered under the same mocks
as `preflight render`.
"""

from __future__ import annotations

import textwrap

from preflight.render import render_config

PROGRAM = '''
import pulumi
import pulumi_kubernetes as k8s
from pulumi.provider.experimental.component import ComponentProvider
from pulumi.provider.server import ProviderServicer
from pulumi.runtime.proto import provider_pb2

from vllm_eks.components import PUBLIC_COMPONENTS

SERVICE_INPUTS = {
    "model": {
        "name": "tiny", "servedName": "tiny", "catalogModel": "qwen3-1.7b", "modelPrefix": "models/tiny",
        "dtype": "auto", "gpuMemoryUtilization": 0.9, "maxModelLen": 8192, "loadFormat": "runai_streamer",
        "loraAdapters": [], "capacityType": "on-demand", "minReplicas": 1, "startupBudgetSeconds": 600,
    },
    "plan": {"instanceType": "g6.2xlarge", "tensorParallelSize": 1, "weightBytes": 4000000000, "podCpu": 6,
             "podMemoryGib": 24},
    "namespace": "vllm-tiny", "readRoleArn": "arn:aws:iam::123456789012:role/tiny-read", "bucketName": "weights",
    "region": "us-east-1", "apiKey": "internal-key", "shutdownTimeoutSeconds": 300,
    "imageRegistry": "123456789012.dkr.ecr.us-east-1.amazonaws.com",
}
cluster = k8s.Provider("their-cluster", kubeconfig="{}")


def construct(reference: str) -> None:
    options = ProviderServicer._construct_options(provider_pb2.ConstructRequest(providers={"kubernetes": reference}))
    ComponentProvider(PUBLIC_COMPONENTS, "vllm-eks").construct("tiny", "vllm-eks:index:VllmService", SERVICE_INPUTS, options)


pulumi.Output.all(cluster.urn, cluster.id).apply(lambda values: construct(f"{values[0]}::{values[1]}"))
'''


def test_construct_request_providers_reach_every_kubernetes_child(tmp_path):
    (tmp_path / "__main__.py").write_text(textwrap.dedent(PROGRAM))
    snapshot = render_config("byo", {"aws:region": "us-east-1"}, tmp_path)
    (provider,) = [r for r in snapshot["resources"] if r["type"] == "pulumi:providers:kubernetes"]
    children = [r for r in snapshot["resources"] if r["type"].startswith("kubernetes:")]
    assert {r["type"] for r in children} >= {"kubernetes:apps/v1:Deployment", "kubernetes:core/v1:Namespace",
                                            "kubernetes:core/v1:Service", "kubernetes:policy/v1:PodDisruptionBudget"}
    assert all(r["parent"].endswith("vllm-eks:index:VllmService::tiny") for r in children)
    assert {r["options"]["provider"].rsplit("::", 1)[0] for r in children} == {provider["urn"]}
    deployment = next(r for r in children if r["type"] == "kubernetes:apps/v1:Deployment")
    container = deployment["props"]["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"  # integers survived the provider's mapping
