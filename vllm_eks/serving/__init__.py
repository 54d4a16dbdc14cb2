"""One hardened, self-sized vLLM Deployment per model, and the internal API key the servers share."""

from vllm_eks.serving.internal_api_key import InternalApiKey, InternalApiKeyArgs
from vllm_eks.serving.vllm_service import VllmService, VllmServiceArgs

__all__ = ["InternalApiKey", "InternalApiKeyArgs", "VllmService", "VllmServiceArgs"]
