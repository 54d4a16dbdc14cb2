"""The ports of the request path, in one leaf module: the containers listen on them, the Services, target groups,
security groups and NetworkPolicies open them. Nothing here imports the components, so any module may use it."""

VLLM_PORT = 8000  # vLLM's OpenAI-compatible API and its /metrics (`--port`)
ROUTER_PORT = 8000  # vllm-router's API (`--port`), the ALB's target
ROUTER_METRICS_PORT = 29000  # vllm-router's Prometheus endpoint (`--prometheus-port`)
