"""KEDA scaling on vLLM's queue depth, with working hours and a wake-up signal for models at zero."""

from vllm_eks.autoscaling.autoscaling import Autoscaling, AutoscalingArgs

__all__ = ["Autoscaling", "AutoscalingArgs"]
