"""vllm-eks: Pulumi components that run open-weight LLMs on Amazon EKS with vLLM.

One subpackage per concern: `network`, `cluster`, `model_store`, `serving`, `autoscaling`, `observability`, `edge`
(components and their pure spec builders), `iam` (policy documents, IRSA trust) and `planning` (Pulumi-free: the
catalog of facts, sizing, throughput, cost, start-up time).
"""

__version__ = "0.1.0"
