"""What vLLM 0.22 refuses, checked before anything is deployed.

Each rule names the vLLM code that enforces it and, where vLLM has one, its message. Some
rules vLLM applies in ``create_engine_config`` (the tests run that, in the vLLM checker
venv, on every combination the spec accepts); others only when a GPU worker builds the
model — quantized-layer shapes per tensor-parallel shard, kernels per GPU — and would fail
minutes into a deploy, so stackdef checks them here from vLLM's source.

The planner asks the same rules of every (GPU, tensor × pipeline) split it considers, so a
config it chooses is one vLLM loads.
"""

from __future__ import annotations

from dataclasses import dataclass

from stackdef.catalog.gpus import GPU_TYPES
from stackdef.catalog.models import ModelArch
from stackdef.memory import intermediate

#: AWQ checkpoints vLLM runs with its Marlin kernels (``awq_marlin.py`` ``is_awq_marlin_compatible``):
#: 4-bit with zero points and one of these group sizes. Others stay on the plain AWQ kernel (float16 only).
MARLIN_GROUP_SIZES = (-1, 32, 64, 128)
#: GPTQ group sizes vLLM's kernels take (``marlin_utils.py`` ``verify_marlin_supported``).
GPTQ_GROUP_SIZES = (-1, 32, 64, 128)


@dataclass(frozen=True)
class Problem:
    field: str
    problem: str
    fix: str
    #: Where vLLM refuses it: "config" (``create_engine_config``, on any platform), "config-cuda"
    #: (there, but only on a GPU platform), "load" (building the model on the GPU workers),
    #: "worker" (GPU worker start), or "policy" (vLLM would run it; stackdef refuses, saying why).
    stage: str = "config"
    #: Only a warning (vLLM starts, but slower or with less than asked).
    warning: bool = False


@dataclass(frozen=True)
class EngineChoice:
    """The engine arguments the rules read."""

    dtype: str
    quantization: str | None
    kv_cache_dtype: str | None
    max_model_len: int | None
    group_size: int = 128
    #: The checkpoint is stored quantized (False: fp8 / bitsandbytes applied to a 16-bit one as it loads).
    prequantized: bool = True


def parallel_problems(arch: ModelArch, tp: int, pp: int) -> list[Problem]:
    """Tensor and pipeline sizes vLLM rejects for this model."""
    out = []
    if arch.attention_heads % tp:
        out.append(
            Problem(
                "engine.tensor_parallel_size",
                f"tensor_parallel_size {tp} does not divide {arch.name}'s {arch.attention_heads} attention heads "
                f"(vLLM: \"Total number of attention heads ({arch.attention_heads}) must be divisible by tensor parallel size ({tp}).\")",
                f"use one of {', '.join(str(n) for n in range(1, 9) if arch.attention_heads % n == 0)}",
            )
        )
    elif arch.kv_heads % tp and tp % arch.kv_heads:
        # models/llama.py, qwen2.py: K/V heads are split when TP divides them, replicated when TP is a multiple.
        out.append(
            Problem(
                "engine.tensor_parallel_size",
                f"tensor_parallel_size {tp} neither divides nor is a multiple of {arch.name}'s {arch.kv_heads} KV heads "
                "(vLLM's model code asserts one or the other)",
                "use a tensor_parallel_size that divides the KV heads or is a multiple of them",
                stage="load",
            )
        )
    elif arch.intermediate_size and arch.intermediate_size % tp:
        out.append(
            Problem(
                "engine.tensor_parallel_size",
                f"tensor_parallel_size {tp} does not divide {arch.name}'s MLP width {arch.intermediate_size} (vLLM's model code asserts it)",
                "use a tensor_parallel_size that divides intermediate_size",
                stage="load",
            )
        )
    if pp > arch.layers:
        # get_pp_indices would hand some stages no layers at all; vLLM does not check it.
        out.append(
            Problem(
                "engine.pipeline_parallel_size",
                f"pipeline_parallel_size {pp} exceeds {arch.name}'s {arch.layers} layers (some stages would hold none)",
                f"use at most {arch.layers} stages",
                stage="policy",
            )
        )
    return out


def shard_sizes(arch: ModelArch, tp: int) -> dict[str, int]:
    """Input width per tensor-parallel shard of the row-parallel layers (o_proj, down_proj)."""
    return {
        "o_proj": arch.attention_heads * arch.head_dim // tp,
        "down_proj": intermediate(arch) // tp,
    }


def marlin_shapes(arch: ModelArch, tp: int) -> dict[str, tuple[int, int]]:
    """(K inputs, N outputs) per shard of each linear layer, as vLLM's Marlin kernels see them."""
    h, hd = arch.hidden_size, arch.head_dim
    kv = max(1, arch.kv_heads // tp)
    return {
        "qkv_proj": (h, (arch.attention_heads // tp + 2 * kv) * hd),
        "o_proj": (arch.attention_heads * hd // tp, h),
        "gate_up_proj": (h, 2 * intermediate(arch) // tp),
        "down_proj": (intermediate(arch) // tp, h),
    }


#: GPTQ group sizes Machete (vLLM's kernel on H100/H200, compute capability 9.0) takes in 16 bits.
MACHETE_GROUP_SIZES = (-1, 64, 128)


def _machete_fits(arch: ModelArch, e: EngineChoice, tp: int, gpu: str | None) -> bool:
    """``MacheteLinearKernel.can_implement``: sm 9.0, group -1/64/128, every shard K % 64 and N % 128."""
    if gpu is None or GPU_TYPES[gpu].compute_capability != (9, 0) or e.group_size not in MACHETE_GROUP_SIZES:
        return False
    return all(k % 64 == 0 and n % 128 == 0 for k, n in marlin_shapes(arch, tp).values())


def kernel_problems(arch: ModelArch, e: EngineChoice, tp: int, gpu: str | None) -> list[Problem]:
    """Group-quantized layers vLLM's fast kernels cannot take at this split, on this GPU.

    GPTQ: vLLM tries Machete (sm 9.0) before Marlin (``kernels/linear/__init__.py``); a shard
    neither takes falls to Exllama, which runs float16 only. AWQ (served as awq_marlin): a layer
    Marlin cannot take falls back to the plain AWQ kernel (``awq_marlin.py``), float16 only.
    Marlin's tiles: every shard's inputs × 128 and outputs × 64 (``marlin_utils.py``).
    """
    q = e.quantization
    if q not in ("gptq", "awq") or _machete_fits(arch, e, tp, gpu if q == "gptq" else None):
        return []
    if q == "awq" and e.group_size not in MARLIN_GROUP_SIZES:
        return []  # not a Marlin checkpoint at all: dtype_problems says float16
    bad = [f"{layer} {k}×{n}" for layer, (k, n) in marlin_shapes(arch, tp).items() if k % 128 or n % 64]
    if not bad:
        return []
    fallback = "Exllama" if q == "gptq" else "plain AWQ"
    if e.dtype == "bfloat16":
        vllm = ' (vLLM: "Failed to find a kernel that can implement the WNA16 linear layer")' if q == "gptq" else ""
        return [
            Problem(
                "engine.tensor_parallel_size",
                f"{q.upper()} layers at tensor_parallel_size {tp} that vLLM's Marlin kernel cannot take ({', '.join(bad)}; it needs "
                f"inputs × 128 and outputs × 64{', and Machete does not fit either' if q == 'gptq' and gpu and GPU_TYPES[gpu].compute_capability == (9, 0) else ''}) "
                f"fall to the {fallback} kernel, which runs float16 only{vllm}",
                "use dtype float16, or a tensor_parallel_size whose shards fit",
                stage="load",
            )
        ]
    return [
        Problem(
            "engine.tensor_parallel_size",
            f"{q.upper()} layers at tensor_parallel_size {tp} fall back from vLLM's Marlin kernel to the slower {fallback} one ({', '.join(bad)})",
            "use a tensor_parallel_size whose shards fit (inputs × 128, outputs × 64)",
            stage="load",
            warning=True,
        )
    ]


def quantized_shape_problems(arch: ModelArch, e: EngineChoice, tp: int) -> list[Problem]:
    """Group-quantized layers split across GPUs must split on group boundaries."""
    q, g = e.quantization, e.group_size
    if q not in ("awq", "gptq"):
        return []
    if q == "awq" and g == -1 and tp > 1:
        return [
            Problem(
                "engine.tensor_parallel_size",
                f"a per-channel (group_size -1) AWQ checkpoint cannot be split across {tp} GPUs "
                "(vLLM awq.py: \"The input size is not aligned with the quantized weight shape\")",
                "use tensor_parallel_size 1 with pipeline_parallel_size for more GPUs",
                stage="load",
            )
        ]
    if g == -1:
        return []
    bad = {layer: k for layer, k in shard_sizes(arch, tp).items() if k % g}
    if not bad:
        return []
    where = ", ".join(f"{layer} {k} per GPU" for layer, k in bad.items())
    if q == "awq":
        why = "vLLM fails loading the weights: \"The input size is not aligned with the quantized weight shape. This can be caused by too large tensor parallel size.\""
    else:
        why = "vLLM has no check for it and loads mis-split GPTQ groups, serving wrong output (or finds no kernel in bfloat16)"
    fits = [n for n in (1, 2, 4, 8) if not [k for k in shard_sizes(arch, n).values() if k % g] and not parallel_problems(arch, n, 1)]
    known = "" if arch.intermediate_size else " (intermediate_size estimated: declare architecture.intermediate_size from the checkpoint's config.json)"
    return [
        Problem(
            "engine.tensor_parallel_size",
            f"tensor_parallel_size {tp} splits {arch.name}'s {q} layers off their {g}-wide groups ({where}){known}: {why}",
            f"use tensor_parallel_size {' or '.join(map(str, fits))} with pipeline_parallel_size for the other GPUs, "
            "or a checkpoint padded for tensor parallelism (declare its intermediate_size)",
            stage="load",
        )
    ]


def dtype_problems(e: EngineChoice, gpu: str | None) -> list[Problem]:
    """dtype × quantization × kv-cache dtype × GPU."""
    out = []
    q, d = e.quantization, e.dtype
    if q and d == "float32":
        vllm = {
            "awq": "torch.float32 is not supported for quantization method awq_marlin. Supported dtypes: [torch.float16, torch.bfloat16]",
            "gptq": "torch.float32 is not supported for quantization method auto_gptq. Supported dtypes: [torch.float16, torch.bfloat16]",
            "fp8": "torch.float32 is not supported for quantization method fp8. Supported dtypes: [torch.bfloat16, torch.float16]",
        }.get(q)
        out.append(
            Problem(
                "engine.dtype",
                f"dtype float32 with quantization {q}: "
                + (f"vLLM rejects it (\"{vllm}\")" if vllm else "quantized kernels compute in 16 bits, float32 only costs memory"),
                "use bfloat16 or float16",
                stage="config" if vllm else "policy",
            )
        )
    if q == "awq" and e.group_size not in MARLIN_GROUP_SIZES and d == "bfloat16":
        out.append(
            Problem(
                "engine.dtype",
                f"an AWQ checkpoint with group_size {e.group_size} runs on vLLM's plain AWQ kernel, which is float16 only "
                "(vLLM: \"torch.bfloat16 is not supported for quantization method awq. Supported dtypes: [torch.float16]\")",
                "use dtype float16",
                stage="config-cuda",
            )
        )
    if q == "gptq" and e.group_size not in GPTQ_GROUP_SIZES:
        out.append(
            Problem(
                "checkpoint.group_size",
                f"GPTQ group_size {e.group_size}: vLLM's kernels take {', '.join(map(str, GPTQ_GROUP_SIZES))} "
                f"(\"Marlin does not support group_size = {e.group_size}\")",
                "use a checkpoint quantized with one of those group sizes",
                stage="load",
            )
        )
    if e.kv_cache_dtype == "fp8_e5m2" and q in ("fp8", "compressed-tensors"):
        out.append(
            Problem(
                "engine.kv_cache_dtype",
                f"kv_cache_dtype fp8_e5m2 with quantization {q}: vLLM fails building the model "
                "(\"fp8_e5m2 kv-cache is not supported with fp8 checkpoints.\")",
                "use kv_cache_dtype fp8 (e4m3) or auto",
                stage="load",
            )
        )
    if gpu is not None and d == "bfloat16" and GPU_TYPES[gpu].compute_capability < (8, 0):
        g = GPU_TYPES[gpu]
        cc = ".".join(map(str, g.compute_capability))
        out.append(
            Problem(
                "engine.dtype",
                f"dtype bfloat16 on {gpu}: vLLM's GPU worker refuses it (\"Bfloat16 is only supported on GPUs with compute "
                f"capability of at least 8.0. Your {g.nvml_name} GPU has compute capability {cc}.\")",
                "use dtype float16, or auto (vLLM then picks float16 there)",
                stage="worker",
            )
        )
    return out


def bnb_problems(e: EngineChoice, tp: int) -> list[Problem]:
    # Only checkpoints stored in bitsandbytes form (bitsandbytes_loader.py, pre_quant); a 16-bit
    # checkpoint quantized as it loads splits like any other.
    if e.quantization == "bitsandbytes" and e.prequantized and tp > 1:
        return [
            Problem(
                "engine.tensor_parallel_size",
                "bitsandbytes with tensor_parallel_size > 1: vLLM refuses it (\"Prequant BitsAndBytes models with tensor "
                "parallelism is not supported. Please try with pipeline parallelism.\")",
                "use tensor_parallel_size 1 and pipeline_parallel_size for more GPUs",
                stage="load",
            )
        ]
    return []


def context_problems(arch: ModelArch, e: EngineChoice) -> list[Problem]:
    if e.max_model_len is not None and e.max_model_len > arch.max_context:
        return [
            Problem(
                "engine.max_model_len",
                f"max_model_len {e.max_model_len} exceeds {arch.name}'s max_position_embeddings {arch.max_context} (vLLM rejects it)",
                f"set max_model_len ≤ {arch.max_context}",
            )
        ]
    return []


def static_problems(arch: ModelArch, e: EngineChoice, gpu: str | None) -> list[Problem]:
    """What vLLM refuses whatever the split (``gpu`` None: checks that need the GPU are skipped)."""
    return context_problems(arch, e) + dtype_problems(e, gpu)


def split_problems(arch: ModelArch, e: EngineChoice, tp: int, pp: int, gpu: str | None = None) -> list[Problem]:
    """What vLLM refuses for this tensor × pipeline split (kernel rules only when the GPU is known)."""
    kernels = kernel_problems(arch, e, tp, gpu) if gpu else []
    return parallel_problems(arch, tp, pp) + quantized_shape_problems(arch, e, tp) + kernels + bnb_problems(e, tp)


def problems(arch: ModelArch, e: EngineChoice, gpu: str | None, tp: int, pp: int) -> list[Problem]:
    """Everything vLLM would refuse for this model, engine, GPU and split (errors first, then warnings)."""
    return sorted(static_problems(arch, e, gpu) + split_problems(arch, e, tp, pp, gpu), key=lambda p: p.warning)
