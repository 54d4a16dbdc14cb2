"""Prometheus, alert rules, the Grafana dashboard and GPU metrics."""

from vllm_eks.observability.observability import Observability, ObservabilityArgs

__all__ = ["Observability", "ObservabilityArgs"]
