"""Model architectures for sizing, built from ``data/models.csv``.

``data/models.csv`` is stackdef's cited model data: each row keeps its
sources (``arch_source_url``, ``params_source_url``) and ``source_date``.
A spec can name a catalog entry (``architecture: Qwen2.5-7B-Instruct``) or
declare an unknown model inline; by default the model is looked up from the
service's Hugging Face ``source``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

_DATA = Path(__file__).parent / "data" / "models.csv"


@dataclass(frozen=True)
class ModelArch:
    name: str
    params: int
    layers: int
    hidden_size: int
    attention_heads: int
    kv_heads: int
    head_dim: int
    max_context: int
    vocab_size: int | None = None
    tie_word_embeddings: bool = False
    experts: int | None = None
    hf_repo: str | None = None
    #: MLP width (per expert for MoE); None when an inline declaration leaves it out.
    intermediate_size: int | None = None
    #: Experts each token is routed to (MoE).
    experts_per_token: int | None = None
    #: Whether q/k/v projections carry biases (Qwen2 does; the catalog's parameter counts include them).
    qkv_bias: bool = False
    source: str = "declared in the spec"

    def kv_bytes_per_token(self, bytes_per_value: float = 2.0) -> float:
        """K and V for every layer and KV head: 2 × layers × kv_heads × head_dim × bytes."""
        return 2 * self.layers * self.kv_heads * self.head_dim * bytes_per_value

    @property
    def embedding_params(self) -> int:
        """Input embedding (+ LM head unless tied) — left unquantized by AWQ/GPTQ/fp8."""
        if not self.vocab_size:
            return 0
        return self.vocab_size * self.hidden_size * (1 if self.tie_word_embeddings else 2)


def _dense_params(a: ModelArch) -> int:
    """Parameters of a Llama/Qwen2-style decoder from its dimensions (biases excluded)."""
    h, e = a.hidden_size, a.experts or 1
    attn = h * (a.attention_heads + 2 * a.kv_heads) * a.head_dim + a.attention_heads * a.head_dim * h
    mlp = 3 * h * (a.intermediate_size or 0) * e + (h * e if a.experts else 0)
    return a.layers * (attn + mlp + 2 * h) + h + a.embedding_params


def _row(r: dict[str, str]) -> ModelArch:
    arch = _from_row(r)
    bias = arch.layers * (arch.attention_heads + 2 * arch.kv_heads) * arch.head_dim
    # The CSV's params_computed includes q/k/v biases exactly when the model has them.
    return replace(arch, qkv_bias=arch.params == _dense_params(arch) + bias)


def _from_row(r: dict[str, str]) -> ModelArch:
    return ModelArch(
        name=r["model"],
        params=int(r["params_computed"]),
        layers=int(r["num_layers"]),
        hidden_size=int(r["hidden_size"]),
        attention_heads=int(r["num_attention_heads"]),
        kv_heads=int(r["num_kv_heads"]),
        head_dim=int(r["head_dim"]),
        max_context=int(r["max_position_embeddings"]),
        vocab_size=int(r["vocab_size"]),
        tie_word_embeddings=r["tie_word_embeddings"].strip().lower() == "true",
        experts=int(r["num_experts"]) if r["num_experts"] else None,
        hf_repo=r["hf_repo"],
        intermediate_size=int(r["intermediate_size"]),
        experts_per_token=int(r["experts_per_token"]) if r["experts_per_token"] else None,
        source=f"{r['arch_source_url']} ({r['source_date']})",
    )


@lru_cache(maxsize=1)
def catalog() -> dict[str, ModelArch]:
    with _DATA.open(newline="", encoding="utf-8") as f:
        return {r["model"]: _row(r) for r in csv.DictReader(f)}


def lookup(name_or_source: str) -> ModelArch | None:
    """By catalog name, or by Hugging Face id (case-insensitive)."""
    cat = catalog()
    if name_or_source in cat:
        return cat[name_or_source]
    key = name_or_source.lower()
    for arch in cat.values():
        if arch.hf_repo and arch.hf_repo.lower() == key:
            return arch
    return None
