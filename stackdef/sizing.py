"""The instance planner: the cheapest GPU configuration on which vLLM really starts.

A configuration is an instance type, GPUs per replica and how they split into tensor × pipeline
parallel. It is feasible when vLLM accepts it (:mod:`stackdef.vllm_rules`: head and KV-head
divisibility, quantized shapes per shard, dtypes per GPU) and its memory model
(:mod:`stackdef.memory`: weights, activation, non-torch, CUDA graphs, KV cache) leaves room for
one request of ``max_model_len`` tokens on every GPU, which is vLLM's own start-up condition.
For each instance type and GPU count the planner keeps the split with the fewest pipeline stages
that is feasible (tensor parallelism first: it is the faster split; pipeline stages where the
shapes or heads do not divide), and ranks configurations by the billing rule of
:mod:`stackdef.cost`: ceiling monthly cost in whole cents, then baseline in cents, then hourly
price, fewer GPUs, instance name.
"""

from __future__ import annotations

from dataclasses import dataclass

from stackdef.catalog.gpus import GPU_TYPES
from stackdef.catalog.models import ModelArch
from stackdef.catalog.prices import Instance
from stackdef.cost import HOURS_PER_MONTH, NODE_RESERVED_CPU, GpuPricing, allocatable_memory_gib, replicas_per_node
from stackdef.memory import BIG_GPU_DEFAULTS, BIG_GPU_GIB, GPU_DEFAULTS, Engine, Memory, replica_memory
from stackdef.vllm_rules import EngineChoice, Problem, problems

#: Smallest share of a node a GPU replica's pod may get (CPU threads for the
#: engine and tokenizer, host memory for loading weights).
MIN_REPLICA_CPU = 2
MIN_REPLICA_MEMORY_GIB = 8
#: GPU counts a replica may have (vLLM's tensor-parallel sizes are powers of two in practice).
GPU_COUNTS = (1, 2, 4, 8)


@dataclass(frozen=True)
class Workload:
    """What sizing needs to know about one LLM service (None: vLLM's default)."""

    arch: ModelArch
    dtype: str
    quantization: str | None
    max_model_len: int | None
    max_num_seqs: int | None
    gpu_memory_utilization: float
    kv_cache_dtype: str | None = None
    max_num_batched_tokens: int | None = None
    enforce_eager: bool = False
    group_size: int = 128
    #: engine.extra.enable_chunked_prefill (vLLM enables it for generative models).
    chunked_prefill: bool = True
    #: engine.extra.performance_mode == "throughput" (vLLM doubles its batch defaults).
    throughput_mode: bool = False
    #: The checkpoint is stored quantized (False: vLLM quantizes a 16-bit checkpoint as it loads).
    prequantized: bool = True

    @property
    def context(self) -> int:
        return self.max_model_len or self.arch.max_context

    @property
    def choice(self) -> EngineChoice:
        return EngineChoice(self.dtype, self.quantization, self.kv_cache_dtype, self.max_model_len, self.group_size, self.prequantized)


def scheduler_limits(w: Workload, gpu: str) -> tuple[int, int]:
    """(max_num_batched_tokens, max_num_seqs) as vLLM's OpenAI server sets them on this GPU.

    ``engine/arg_utils.py`` ``get_batch_defaults``: (8192, 1024) on GPUs of ≥ 70 GiB (NVML's total)
    that are not an A100, else (2048, 256); then ``_set_default_max_num_seqs_and_batched_tokens_args``:
    throughput mode doubles the defaulted ones; a defaulted batch limit is raised to
    ``max_model_len`` without chunked prefill and capped at ``max_num_seqs × max_model_len``;
    a defaulted ``max_num_seqs`` is capped at the batch limit. stackdef passes the result to vLLM.
    """
    g = GPU_TYPES[gpu]
    big = g.nvml_mib >= BIG_GPU_GIB * 1024 and not gpu.startswith("A100")
    t_default, s_default = BIG_GPU_DEFAULTS if big else GPU_DEFAULTS
    factor = 2 if w.throughput_mode else 1
    seqs = w.max_num_seqs or s_default * factor
    if w.max_num_batched_tokens is not None:
        tokens = w.max_num_batched_tokens
    else:
        tokens = t_default * factor
        if not w.chunked_prefill:
            tokens = max(w.context, tokens)
        tokens = min(seqs * w.context, tokens)
    if w.max_num_seqs is None:
        seqs = min(seqs, tokens)
    return tokens, seqs


def scheduler_problems(w: Workload, gpu: str) -> list[Problem]:
    """The scheduler limits vLLM's SchedulerConfig refuses (``config/scheduler.py``)."""
    tokens, seqs = scheduler_limits(w, gpu)
    out = []
    if tokens < seqs:
        out.append(
            Problem(
                "engine.max_num_seqs",
                f"on {gpu} max_num_batched_tokens would be {tokens} and max_num_seqs {seqs}: vLLM refuses it "
                f"(\"max_num_batched_tokens ({tokens}) must be greater than or equal to max_num_seqs ({seqs})\")",
                f"lower max_num_seqs to ≤ {tokens}, or set max_num_batched_tokens ≥ {seqs}",
            )
        )
    if not w.chunked_prefill and tokens < w.context:
        out.append(
            Problem(
                "engine.max_num_batched_tokens",
                f"without chunked prefill a batch must hold a whole prompt, and max_num_batched_tokens {tokens} < max_model_len "
                f"{w.context}: vLLM refuses it (\"max_num_batched_tokens ({tokens}) is smaller than max_model_len ({w.context})\")",
                f"set max_num_batched_tokens ≥ {w.context}, or keep chunked prefill on",
            )
        )
    return out


def engine(w: Workload, gpu: str, tensor: int, pipeline: int = 1) -> Engine:
    tokens, seqs = scheduler_limits(w, gpu)
    return Engine(
        dtype=w.dtype,
        quantization=w.quantization,
        kv_cache_dtype=w.kv_cache_dtype,
        max_model_len=w.context,
        max_num_seqs=seqs,
        max_num_batched_tokens=tokens,
        gpu_memory_utilization=w.gpu_memory_utilization,
        tensor_parallel=tensor,
        pipeline_parallel=pipeline,
        enforce_eager=w.enforce_eager,
        group_size=w.group_size,
    )


def fit(w: Workload, gpu: str, tensor: int, pipeline: int = 1) -> Memory:
    """The memory model of one replica on ``tensor × pipeline`` GPUs of type ``gpu``."""
    return replica_memory(w.arch, engine(w, gpu, tensor, pipeline), gpu)


def split_problems(w: Workload, gpu: str | None, tensor: int, pipeline: int) -> list[Problem]:
    """What vLLM refuses for this split on this GPU (errors only; the scheduler limits are checked
    on the chosen GPU, see :func:`scheduler_problems`: they are the user's to fix, not a reason to
    look elsewhere)."""
    return [p for p in problems(w.arch, w.choice, gpu, tensor, pipeline) if not p.warning]


def splits(gpus: int, tensor: int | None = None, pipeline: int | None = None) -> list[tuple[int, int]]:
    """(tensor, pipeline) pairs of ``gpus`` GPUs, fewest pipeline stages first."""
    out = []
    for pp in (1, 2, 4, 8, 16, 32, 64):
        if gpus % pp or (pipeline is not None and pp != pipeline):
            continue
        tp = gpus // pp
        if tensor is not None and tp != tensor:
            continue
        out.append((tp, pp))
    return out


def cents(usd: float) -> int:
    """Whole cents (half up), the unit money is compared in."""
    return int(usd * 100 + 0.5)


@dataclass(frozen=True)
class Option:
    """One way to run a replica: instance type, GPUs per replica and their split, packing."""

    instance: Instance
    gpus_per_replica: int
    #: None when the model's architecture is unknown (no fit check possible).
    memory: Memory | None
    tensor_parallel: int = 1
    pipeline_parallel: int = 1

    @property
    def replicas_per_node(self) -> int:
        return replicas_per_node(self.instance, self.gpus_per_replica, MIN_REPLICA_CPU, MIN_REPLICA_MEMORY_GIB)

    @property
    def pricing(self) -> GpuPricing:
        return GpuPricing(self.instance, self.replicas_per_node)

    def hourly(self, replicas: int) -> float:
        return self.pricing.hourly(replicas)

    def key(self, min_replicas: int, max_replicas: int) -> tuple:
        # Money is compared in whole cents a month: price files carry 4–6 decimals, and a
        # difference below a cent (g2-standard-48 vs two g2-standard-24: $0.0015/month) must not
        # decide a tie that the baseline (half the GPUs at min_replicas) should.
        return (
            cents(self.hourly(max_replicas) * HOURS_PER_MONTH),
            cents(self.hourly(min_replicas) * HOURS_PER_MONTH),
            self.instance.usd_per_hour,
            self.gpus_per_replica,
            self.instance.instance_type,
        )


def worker_share(opt: Option) -> tuple[int, int]:
    """(CPU, memory GiB) of one replica's pod: the node's allocatable split evenly."""
    rpn = opt.replicas_per_node
    cpu = (opt.instance.vcpu - NODE_RESERVED_CPU) // rpn
    mem = int(allocatable_memory_gib(opt.instance) // rpn)
    return cpu, mem


def cheapest_instance(
    instances: tuple[Instance, ...],
    gpu: str,
    gpus: int,
    cpu: float = MIN_REPLICA_CPU,
    memory_gib: float = MIN_REPLICA_MEMORY_GIB,
) -> Instance | None:
    """Cheapest instance that holds at least one replica of ``gpus`` × ``gpu`` and its pod (no fit check)."""
    candidates = [i for i in instances if i.gpu == gpu and replicas_per_node(i, gpus, cpu, memory_gib) >= 1]
    return min(candidates, key=lambda i: (i.usd_per_hour, i.instance_type)) if candidates else None


def best_split(w: Workload, gpu: str, gpus: int, tensor: int | None = None, pipeline: int | None = None) -> tuple[int, int, Memory] | None:
    """The split of ``gpus`` × ``gpu`` with the fewest pipeline stages that vLLM accepts and that fits."""
    for tp, pp in splits(gpus, tensor, pipeline):
        if split_problems(w, gpu, tp, pp):
            continue
        mem = fit(w, gpu, tp, pp)
        if mem.fits:
            return tp, pp, mem
    return None


def options(
    w: Workload,
    instances: tuple[Instance, ...],
    *,
    gpu: str | None = None,
    gpus_per_replica: int | None = None,
    tensor: int | None = None,
    pipeline: int | None = None,
) -> list[Option]:
    """Every feasible (instance, GPUs per replica) within the constraints, each with its best split."""
    out = []
    cache: dict[tuple[str, int], tuple[int, int, Memory] | None] = {}
    for inst in instances:
        if not inst.gpu or inst.whole_gpus == 0 or (gpu is not None and inst.gpu != gpu):
            continue
        for n in GPU_COUNTS:
            if n > inst.whole_gpus or (gpus_per_replica is not None and n != gpus_per_replica):
                continue
            key = (inst.gpu, n)
            if key not in cache:  # the split depends on the GPU and its count, not on the instance
                cache[key] = best_split(w, inst.gpu, n, tensor, pipeline)
            found = cache[key]
            if found is None:
                continue
            tp, pp, mem = found
            opt = Option(inst, n, mem, tp, pp)
            if opt.replicas_per_node >= 1:
                out.append(opt)
    return out


def rank(opts: list[Option], min_replicas: int, max_replicas: int) -> list[Option]:
    return sorted(opts, key=lambda o: o.key(min_replicas, max_replicas))
