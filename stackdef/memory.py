"""GPU memory of one vLLM replica, term by term, as vLLM 0.22 accounts for it at start-up.

vLLM gives the KV cache what is left of ``ceil(total × gpu_memory_utilization)`` on each GPU
after four terms it measures while starting (``v1/worker/gpu_worker.py``
``Worker.determine_available_memory``)::

    kv = requested − weights − activation peak − non-torch memory − CUDA-graph estimate

and refuses to start when ``kv`` cannot hold one request of ``max_model_len`` tokens
(``v1/core/kv_cache_utils.py`` ``_check_enough_kv_cache_memory``: "To serve at least one
request with the model's max seq len ..."). A planner cannot measure, so each term here is
computed from the model's dimensions and the engine arguments, following the vLLM code named
on it; where vLLM measures something no formula gives (non-torch memory, the CUDA-graph pool),
the term is a planning constant with the published measurements it rests on. All sizes in
bytes unless a name says GiB (2**30).

Per GPU of a replica with tensor-parallel size TP and pipeline-parallel size PP (every TP rank
of a pipeline stage holds the same; the replica's capacity is set by its tightest stage):

- **weights** (``models/qwen2.py``, ``llama.py``, ``layers/vocab_parallel_embedding.py``):
  per layer ``H·hd·(nh/TP + 2·kv′) + (nh/TP)·hd·H`` attention (kv′ = max(1, nkv/TP): K/V heads
  are replicated when TP > nkv) and ``3·H·I/TP`` MLP (× experts for MoE, + the router), at the
  quantized width; ``2·H`` norm weights; the embedding on the first stage and the LM head on
  the last, each ``ceil(V/64)·64 / TP × H`` at 16 bits (quantization leaves them alone).
  Layers per stage as ``distributed/utils.py`` ``get_pp_indices`` splits them; plus 64 MiB of
  buffers created with the model (rotary caches), which vLLM counts as weights.
- **activation** (``gpu_model_runner.py`` ``profile_run``): the profiling forward pass runs
  ``max_num_batched_tokens`` (T) tokens with attention off, so it does not depend on
  ``max_model_len``; its peak is the MLP phase, ``1.5 × T·b·(H + 3·I/TP)`` (the 1.5 is fitted
  to vLLM 0.19's measured peaks, llm-d accuracy report). The last stage then runs the sampler
  on ``R = min(max_num_seqs, T)`` rows of logits gathered across TP (``_dummy_sampler_run``):
  ``R·V·18 B`` (bf16 logits, an fp32 copy, probabilities, noise, and the top-k/top-p buffer,
  bounded by R rows) ``+ T·H·b``. The term is the larger of the two, plus 64 MiB.
- **non-torch** (``utils/mem_utils.py`` ``memory_profiling``): cuBLAS and NCCL buffers vLLM
  measures after its start snapshot: 0.25 GiB on one GPU, 2.2 GiB per GPU with TP ≥ 2
  (vLLM 0.19 on H100: 0.24–0.27 and 2.07–2.17 GiB, llm-d accuracy report "Non-torch").
- **CUDA graphs** (``gpu_model_runner.py`` ``profile_cudagraph_memory``, subtracted by default
  since vLLM 0.21, ``VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS=1``): 0 with ``enforce_eager``;
  else 0.85 GiB for models under 20 B parameters (Llama-3.1-8B on H100: 0.84 estimated, 0.91
  actual) and 2 GiB above (kaito-project/kaito#2139: 1.5–1.9 GiB for large models).
- the **CUDA context** (~0.5 GiB, measured before any allocation) lies outside the budget:
  ``total × (1 − utilization)`` must hold it, or ``request_memory`` refuses to start.

KV cache (``v1/kv_cache_interface.py`` ``FullAttentionSpec``, ``kv_cache_utils.py``
``get_num_blocks``, ``get_max_concurrency_for_kv_cache_config``): blocks of 16 tokens (the
CUDA default); one block of one layer holds ``16 × kv′ × 2·hd × kv bytes``;
``blocks = kv // (page × layers of the stage)``, the minimum over stages;
``max concurrency = blocks / ceil(max_model_len / 16)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from stackdef.catalog.gpus import GPU_TYPES
from stackdef.catalog.models import ModelArch

GIB = 2**30
MIB = 2**20

#: Tokens per KV block on CUDA (``CacheConfig.DEFAULT_BLOCK_SIZE``, kept by FlashAttention/FlashInfer).
BLOCK_SIZE = 16
#: Vocabulary rows are padded to a multiple of this before sharding (``vocab_parallel_embedding.py``).
VOCAB_PADDING = 64
#: CUDA context, outside vLLM's budget (0.51 GiB measured on an empty H100 before any allocation).
CUDA_CONTEXT = 512 * MIB
NON_TORCH_ONE_GPU = GIB // 4
NON_TORCH_TENSOR_PARALLEL = int(2.2 * GIB)
CUDA_GRAPHS_SMALL = int(0.85 * GIB)
CUDA_GRAPHS_LARGE = 2 * GIB
#: Models at or above this many parameters get the large CUDA-graph allowance.
LARGE_MODEL_PARAMS = 20 * 10**9
#: Fitted factor of the profiling forward pass over its largest MLP tensors.
ACTIVATION_FACTOR = 1.5
#: Bytes per logit row element in the sampler warm-up (2 bf16 + 4 fp32 copy + 4 probs + 4 noise + 4 top-k/p buffer).
SAMPLER_BYTES_PER_LOGIT = 18
ACTIVATION_SLACK = 64 * MIB
#: Buffers created with the model beside its weights (rotary cos/sin caches, ...): vLLM counts them
#: as weights; 0.03–0.07 GiB measured (Qwen2.5-7B: 14.25 GiB loaded vs 14.18 GiB of parameters).
WEIGHT_BUFFERS = 64 * MIB
#: vLLM's scheduler defaults for the OpenAI server (``engine/arg_utils.py`` ``get_batch_defaults``):
#: GPUs with ≥ 70 GiB that are not an A100 get (8192, 1024), others (2048, 256).
BIG_GPU_DEFAULTS = (8192, 1024)
GPU_DEFAULTS = (2048, 256)
BIG_GPU_GIB = 70

#: Bytes per weight of the quantized linear layers, given the checkpoint's group size (None: dtype width).
#: 4-bit group methods store a 16-bit scale and a 4-bit zero point per group (awq, gptq);
#: bitsandbytes nf4 keeps a 32-bit absmax per 64 weights.
def linear_bytes(quantization: str | None, dtype_bytes: float, group_size: int) -> float:
    if quantization is None:
        return dtype_bytes
    if quantization in ("awq", "gptq"):
        g = group_size if group_size > 0 else 4096  # per-channel: one scale per output row, negligible
        return (4 + (16 + 4) / g) / 8
    if quantization == "bitsandbytes":
        return (4 + 32 / 64) / 8
    return 1.0  # fp8 and compressed-tensors W8A8: one byte, per-channel scales


DTYPE_BYTES = {"auto": 2.0, "bfloat16": 2.0, "float16": 2.0, "float32": 4.0}
FP8_KV = {"fp8", "fp8_e4m3", "fp8_e5m2"}


@dataclass(frozen=True)
class Engine:
    """The engine arguments memory depends on (after stackdef's defaults are applied)."""

    dtype: str
    quantization: str | None
    kv_cache_dtype: str | None
    max_model_len: int
    max_num_seqs: int
    max_num_batched_tokens: int
    gpu_memory_utilization: float
    tensor_parallel: int = 1
    pipeline_parallel: int = 1
    enforce_eager: bool = False
    group_size: int = 128

    @property
    def gpus(self) -> int:
        return self.tensor_parallel * self.pipeline_parallel


def stage_layers(layers: int, pp: int) -> list[int]:
    """Layers per pipeline stage, as ``get_pp_indices``: L // PP each, the remainder to stages PP-2, PP-3, ..."""
    base, extra = divmod(layers, pp)
    sizes = [base] * pp
    for i in range(extra):
        sizes[pp - 2 - i if pp >= 2 else 0] += 1
    return sizes


def kv_heads_per_rank(arch: ModelArch, tp: int) -> int:
    return max(1, arch.kv_heads // tp)


def intermediate(arch: ModelArch) -> int:
    """The MLP width; estimated from the parameter count when the architecture does not say."""
    if arch.intermediate_size:
        return arch.intermediate_size
    attn = arch.hidden_size * (arch.attention_heads + 2 * arch.kv_heads) * arch.head_dim + arch.attention_heads * arch.head_dim * arch.hidden_size
    per_layer = (arch.params - arch.embedding_params) / arch.layers - attn
    return max(arch.hidden_size, int(per_layer / (3 * arch.hidden_size * (arch.experts or 1))))


def _kv_bytes(e: Engine) -> float:
    kv = e.kv_cache_dtype or "auto"
    if kv in FP8_KV:
        return 1.0
    return 2.0 if kv in ("float16", "bfloat16") else DTYPE_BYTES[e.dtype]


@dataclass(frozen=True)
class Worker:
    """One GPU of a pipeline stage: what each term takes (bytes)."""

    stage: int
    layers: int
    total: int
    requested: int
    weights: int
    activation: int
    non_torch: int
    cuda_graphs: int

    @property
    def kv(self) -> int:
        return self.requested - self.weights - self.activation - self.non_torch - self.cuda_graphs


@dataclass(frozen=True)
class Memory:
    """One replica on ``gpus`` × ``gpu``: its tightest GPU and the KV cache it leaves."""

    gpu: str
    engine: Engine
    workers: tuple[Worker, ...]  # one per pipeline stage
    #: Bytes of one KV block of one layer on one GPU.
    page: int
    blocks: int
    blocks_per_request: int
    #: Why it cannot start, in vLLM's terms; None when it starts.
    problem: str | None

    @property
    def worst(self) -> Worker:
        """The stage with the fewest KV blocks (it bounds the replica)."""
        return min(self.workers, key=lambda w: (w.kv // (self.page * w.layers) if w.layers else 0, w.stage))

    @property
    def tokens(self) -> int:
        return max(0, self.blocks) * BLOCK_SIZE

    @property
    def max_concurrency(self) -> float:
        return max(0, self.blocks) / self.blocks_per_request

    @property
    def fits(self) -> bool:
        return self.problem is None

    @property
    def one_request(self) -> int:
        """KV bytes one max_model_len request needs on the tightest GPU."""
        return self.blocks_per_request * self.page * self.worst.layers

    @property
    def headroom(self) -> int:
        """KV bytes left on the tightest GPU after one full-length request."""
        return self.worst.kv - self.one_request

    @property
    def tight(self) -> bool:
        """Under 5% of the requested memory to spare: a small error in any term stops it."""
        return self.fits and self.headroom < 0.05 * self.worst.requested

    def summary(self) -> str:
        w = self.worst
        gib = lambda b: f"{b / GIB:.1f}"  # noqa: E731
        kv = f"KV {gib(w.kv)} GiB" if w.kv > 0 else f"KV {gib(w.kv)} GiB (nothing left)"
        return (
            f"per GPU of {self.engine.gpus}× {self.gpu} (TP {self.engine.tensor_parallel}, PP {self.engine.pipeline_parallel}): "
            f"{gib(w.requested)} GiB usable = weights {gib(w.weights)} + activation {gib(w.activation)} + non-torch "
            f"{gib(w.non_torch)} + CUDA graphs {gib(w.cuda_graphs)} + {kv}; one {self.engine.max_model_len}-token "
            f"request needs {gib(self.one_request)} GiB of KV"
        )


def _weights(arch: ModelArch, e: Engine, layers: int, first: bool, last: bool) -> int:
    tp = e.tensor_parallel
    h, hd = arch.hidden_size, arch.head_dim
    width = DTYPE_BYTES[e.dtype]
    lin = linear_bytes(e.quantization, width, e.group_size)
    emb_width = 2.0 if e.quantization else width
    kvh = kv_heads_per_rank(arch, tp)
    attn = h * (arch.attention_heads // tp + 2 * kvh) * hd + (arch.attention_heads // tp) * hd * h
    bias = (arch.attention_heads // tp + 2 * kvh) * hd if arch.qkv_bias else 0  # biases stay 16-bit
    mlp = 3 * h * intermediate(arch) // tp * (arch.experts or 1)
    router = h * arch.experts if arch.experts else 0
    per_layer = (attn + mlp) * lin + (2 * h + router + bias) * emb_width
    vocab = math.ceil(vocab_size(arch) / VOCAB_PADDING) * VOCAB_PADDING
    shard = vocab // tp * h * emb_width
    total = layers * per_layer
    if first:
        total += shard
    if last:
        total += h * emb_width + (shard if (not arch.tie_word_embeddings or not first) else 0)
    return int(total) + WEIGHT_BUFFERS


def _activation(arch: ModelArch, e: Engine, first: bool, last: bool) -> int:
    t = e.max_num_batched_tokens
    b = DTYPE_BYTES[e.dtype]
    h = arch.hidden_size
    mlp = intermediate(arch) * (arch.experts_per_token or 1)
    forward = ACTIVATION_FACTOR * t * b * (h + 3 * mlp / e.tensor_parallel)
    if not first:
        forward += 2 * t * h * b  # hidden states + residual received from the stage before
    peak = forward
    if last:
        rows = min(e.max_num_seqs, t)
        peak = max(forward, rows * vocab_size(arch) * SAMPLER_BYTES_PER_LOGIT + t * h * b)
    return int(peak + ACTIVATION_SLACK)


#: Vocabulary assumed when an inline architecture leaves it out (Gemma 3's 262,144, the largest common one).
ASSUMED_VOCAB = 262_144


def vocab_size(arch: ModelArch) -> int:
    return arch.vocab_size or ASSUMED_VOCAB


def checkpoint_bytes(arch: ModelArch, e: Engine, prequantized: bool = True) -> int:
    """Bytes of the weights on disk (what a cold start downloads or reads): at the quantized width
    for a checkpoint stored quantized, 16-bit for one vLLM quantizes as it loads (fp8, bitsandbytes)."""
    quant = e.quantization if prequantized else None
    dtype = e.dtype if prequantized or e.dtype == "float32" else "bfloat16"
    whole = Engine(dtype, quant, e.kv_cache_dtype, e.max_model_len, e.max_num_seqs, e.max_num_batched_tokens, e.gpu_memory_utilization, 1, 1, e.enforce_eager, e.group_size)
    return _weights(arch, whole, arch.layers, first=True, last=True) - WEIGHT_BUFFERS


def replica_memory(arch: ModelArch, e: Engine, gpu: str) -> Memory:
    """Every term on every stage of one replica, the KV blocks it leaves, and whether vLLM starts."""
    total = GPU_TYPES[gpu].usable_mib * MIB
    requested = math.ceil(total * e.gpu_memory_utilization)
    non_torch = NON_TORCH_ONE_GPU if e.tensor_parallel == 1 else NON_TORCH_TENSOR_PARALLEL
    graphs = 0 if e.enforce_eager else (CUDA_GRAPHS_LARGE if arch.params >= LARGE_MODEL_PARAMS else CUDA_GRAPHS_SMALL)
    sizes = stage_layers(arch.layers, e.pipeline_parallel)
    workers = tuple(
        Worker(
            stage=i,
            layers=n,
            total=total,
            requested=requested,
            weights=_weights(arch, e, n, first=i == 0, last=i == len(sizes) - 1),
            activation=_activation(arch, e, first=i == 0, last=i == len(sizes) - 1),
            non_torch=non_torch,
            cuda_graphs=graphs,
        )
        for i, n in enumerate(sizes)
    )
    page = BLOCK_SIZE * kv_heads_per_rank(arch, e.tensor_parallel) * 2 * arch.head_dim * int(_kv_bytes(e))
    blocks = min(w.kv // (page * w.layers) if w.kv > 0 and w.layers else 0 for w in workers)
    per_request = math.ceil(e.max_model_len / BLOCK_SIZE)
    problem = None
    if total - requested < CUDA_CONTEXT:
        problem = (
            f"gpu_memory_utilization {e.gpu_memory_utilization:g} leaves {(total - requested) / MIB:.0f} MiB of a {gpu} for the "
            f"CUDA context (~{CUDA_CONTEXT // MIB} MiB): vLLM's start-up check fails"
        )
    elif min(w.requested - w.weights for w in workers) <= 0:
        problem = "the weights alone exceed the memory vLLM may use"
    elif blocks <= 0:
        problem = "no memory is left for the KV cache"
    elif blocks < per_request:
        problem = f"the KV cache holds {blocks * BLOCK_SIZE} tokens, under one {e.max_model_len}-token request"
    return Memory(gpu=gpu, engine=e, workers=workers, page=page, blocks=blocks, blocks_per_request=per_request, problem=problem)
