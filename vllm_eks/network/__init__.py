"""The VPC (subnets, NAT, endpoints, flow logs) and the Kubernetes NetworkPolicies of the serving namespaces."""

from vllm_eks.network.network import Network, NetworkArgs

__all__ = ["Network", "NetworkArgs"]
