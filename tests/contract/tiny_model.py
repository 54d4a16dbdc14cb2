"""Build a tiny random Llama model and its tokenizer, offline, for the vLLM contract tests.

Run inside the vLLM venv (it has torch, transformers and tokenizers):
    python tiny_model.py OUT_DIR [HIDDEN_SIZE LAYERS INTERMEDIATE_SIZE [MAX_SHARD_MB]]
The optional numbers scale the same architecture up (the load-time measurements use a few-hundred-MB checkpoint),
and MAX_SHARD_MB splits its weights into shards as published checkpoints are split (model-0000N-of-0000M.safetensors
plus model.safetensors.index.json: transformers' save_pretrained `max_shard_size`).
Writes a Hugging Face model directory (config.json, model.safetensors in bf16, tokenizer.json,
tokenizer_config.json with a ChatML chat template) and prints one JSON line describing it.
Nothing is downloaded. The architecture numbers below are what the planner cross-check compares with:
KV bytes per token = 2 (K and V) x LAYERS x KV_HEADS x HEAD_DIM x 2 (bf16) = 1024.
"""

import json
import sys
from pathlib import Path

HIDDEN_SIZE = 256
LAYERS = 2
ATTENTION_HEADS = 8
KV_HEADS = 4  # grouped-query attention: the KV cache is sized by KV heads, not attention heads
HEAD_DIM = HIDDEN_SIZE // ATTENTION_HEADS  # 32
INTERMEDIATE_SIZE = 512
# Long enough for every --max-model-len the stacks render (Llama 3.1 goes to 131072).
MAX_POSITION_EMBEDDINGS = 131072
TOKENIZER_VOCAB = 1024
DTYPE = "bfloat16"
DTYPE_BYTES = 2

# Special tokens the per-family parsers look up in the vocabulary at start-up: Qwen3's reasoning parser
# (<think>), the hermes tool parser (<tool_call>), llama3_json (<|python_tag|>), mistral ([TOOL_CALLS]).
CHAT_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
PARSER_TOKENS = ["<think>", "</think>", "<tool_call>", "</tool_call>", "<|python_tag|>", "[TOOL_CALLS]"]
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}{{ part['text'] }}{% endfor %}{% endif %}"
    "<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n"
    # Qwen3's switch (Qwen/Qwen3-8B tokenizer_config.json chat_template): thinking off pre-fills an empty block.
    "{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n{% endif %}"
    "{% endif %}"
)


def _corpus() -> list[str]:
    """A few thousand lines of varied English-ish text; enough for a byte-level BPE of 1k tokens."""
    words = (
        "the a an of to in and is for on with as by at from that this it be are was model server token "
        "request stream cluster node pod gpu memory cache latency throughput scale replica deployment "
        "kubernetes vllm llama qwen mistral hello world answer question user assistant system think tool "
        "call json value key metric prometheus health ready drain shutdown signal timeout budget probe"
    ).split()
    lines = []
    for i in range(3000):
        n = 5 + i % 11
        lines.append(" ".join(words[(i * 7 + j * 13) % len(words)] for j in range(n)) + f" {i}.")
    return lines


def build(out_dir: Path, hidden_size: int = HIDDEN_SIZE, layers: int = LAYERS,
          intermediate_size: int = INTERMEDIATE_SIZE, max_shard_mb: int | None = None) -> dict:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    out_dir.mkdir(parents=True, exist_ok=True)

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=TOKENIZER_VOCAB,
        special_tokens=CHAT_TOKENS + PARSER_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_corpus(), trainer=trainer)

    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        bos_token=None,
        model_max_length=MAX_POSITION_EMBEDDINGS,
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out_dir)

    vocab_size = ((len(fast) + 63) // 64) * 64  # embedding rows padded to a multiple of 64
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=layers,
        num_attention_heads=ATTENTION_HEADS,
        num_key_value_heads=KV_HEADS,
        head_dim=hidden_size // ATTENTION_HEADS,
        max_position_embeddings=MAX_POSITION_EMBEDDINGS,
        bos_token_id=None,
        eos_token_id=fast.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=fast.convert_tokens_to_ids("<|endoftext|>"),
        tie_word_embeddings=False,
        rope_theta=10000.0,
    )
    config.dtype = DTYPE
    model = LlamaForCausalLM(config).to(getattr(torch, DTYPE))
    shards = {"max_shard_size": f"{max_shard_mb}MB"} if max_shard_mb else {}
    model.save_pretrained(out_dir, safe_serialization=True, **shards)
    if hasattr(model, "generation_config") and model.generation_config is not None:
        model.generation_config.save_pretrained(out_dir)

    return {
        "path": str(out_dir),
        "architecture": "LlamaForCausalLM",
        "hidden_size": hidden_size,
        "layers": layers,
        "attention_heads": ATTENTION_HEADS,
        "kv_heads": KV_HEADS,
        "head_dim": hidden_size // ATTENTION_HEADS,
        "dtype": DTYPE,
        "dtype_bytes": DTYPE_BYTES,
        "vocab_size": vocab_size,
        "tokenizer_tokens": len(fast),
        "max_position_embeddings": MAX_POSITION_EMBEDDINGS,
        "kv_bytes_per_token": 2 * layers * KV_HEADS * (hidden_size // ATTENTION_HEADS) * DTYPE_BYTES,
        "weight_bytes": sum(path.stat().st_size for path in out_dir.glob("*.safetensors")),
        "weight_files": sorted(path.name for path in out_dir.glob("*.safetensors")),
    }


if __name__ == "__main__":
    print(json.dumps(build(Path(sys.argv[1]), *(int(value) for value in sys.argv[2:6]))))
