"""The EKS cluster with Karpenter GPU capacity, its add-ons and the ECR pull-through image cache."""

from vllm_eks.cluster.cluster_addons import ClusterAddons, ClusterAddonsArgs
from vllm_eks.cluster.gpu_cluster import GpuCluster, GpuClusterArgs
from vllm_eks.cluster.image_cache import ImageCache, ImageCacheArgs

__all__ = ["ClusterAddons", "ClusterAddonsArgs", "GpuCluster", "GpuClusterArgs", "ImageCache", "ImageCacheArgs"]
