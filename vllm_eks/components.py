"""The public components, as `component_provider_host` serves them to other Pulumi languages (provider/__main__.py)."""

from pulumi import ComponentResource

from vllm_eks.autoscaling import Autoscaling
from vllm_eks.cluster import ClusterAddons, GpuCluster, ImageCache
from vllm_eks.edge import Edge
from vllm_eks.model_store import ModelStore
from vllm_eks.network import Network
from vllm_eks.observability import Observability
from vllm_eks.serving import InternalApiKey, VllmService

PUBLIC_COMPONENTS: list[type[ComponentResource]] = [
    Network,
    ImageCache,
    GpuCluster,
    ClusterAddons,
    ModelStore,
    InternalApiKey,
    VllmService,
    Observability,
    Edge,
    Autoscaling,
]
