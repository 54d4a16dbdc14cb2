"""The request path: CloudFront + WAF -> API Gateway -> VPC link -> internal ALB -> one router per model -> vLLM."""

from vllm_eks.edge.edge import Edge, EdgeArgs

__all__ = ["Edge", "EdgeArgs"]
