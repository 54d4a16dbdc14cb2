"""Model weights in S3, readable by one pod role per model, and the optional Hugging Face sync Job."""

from vllm_eks.model_store.model_store import ModelStore, ModelStoreArgs

__all__ = ["ModelStore", "ModelStoreArgs"]
