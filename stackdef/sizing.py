"""GPU memory fit and the instance planner. Pure arithmetic, every constant stated.

Fit of one replica (all sizes in GiB = 2**30 bytes)::

    weights  = embedding_params × 2 B + (params − embedding_params) × bytes_per_param(dtype, quantization)
    kv_cache = kv_bytes_per_token × max_model_len × concurrency
               (kv_bytes_per_token = 2 × layers × kv_heads × head_dim × kv bytes;
                concurrency = max_num_seqs when set, else 1)
    overhead = RUNTIME_OVERHEAD_GIB × gpus
    needed   = weights + kv_cache + overhead
    offered  = usable_gib(GPU) × gpu_memory_utilization × gpus

It fits when ``needed ≤ offered``. vLLM also rejects a tensor-parallel size
that does not divide the attention heads and a ``max_model_len`` above the
model's ``max_position_embeddings``; both are checked here too.

The planner enumerates (instance type, GPUs per replica) in the target's
price catalog, keeps what fits, and ranks by the billing rule of
:mod:`stackdef.cost` (ceiling monthly cost in whole cents, then baseline in cents,
then hourly price, fewer GPUs, instance name).
"""

from __future__ import annotations

from dataclasses import dataclass

from stackdef.catalog.gpus import GPU_TYPES
from stackdef.catalog.models import ModelArch
from stackdef.catalog.prices import Instance
from stackdef.cost import HOURS_PER_MONTH, NODE_RESERVED_CPU, GpuPricing, allocatable_memory_gib, replicas_per_node

GIB = 2**30

#: Per-GPU memory vLLM needs beyond weights and KV cache: CUDA context,
#: activation peak of the profiling run and the CUDA-graph pool. vLLM measures
#: this at start-up; 1.5 GiB is stackdef's planning allowance (an engineering
#: assumption, conservative for ≤ 70B dense models; override by lowering
#: gpu_memory_utilization if your runs show more).
RUNTIME_OVERHEAD_GIB = 1.5

#: Bytes per weight by quantization (None = the dtype's width). 4-bit methods
#: store group-wise scales and zeros (16-bit each per 128 weights → +0.25 bit).
QUANT_BYTES = {
    "fp8": 1.0,
    "awq": (4 + 0.25) / 8,
    "gptq": (4 + 0.25) / 8,
    "bitsandbytes": (4 + 0.25) / 8,
    "compressed-tensors": 1.0,  # W8A8 is the common case; declare others via dtype
}
DTYPE_BYTES = {"auto": 2.0, "bfloat16": 2.0, "float16": 2.0, "float32": 4.0}
FP8_KV = {"fp8", "fp8_e4m3", "fp8_e5m2"}

#: Smallest share of a node a GPU replica's pod may get (CPU threads for the
#: engine and tokenizer, host memory for loading weights).
MIN_REPLICA_CPU = 2
MIN_REPLICA_MEMORY_GIB = 8


@dataclass(frozen=True)
class Fit:
    weights_gib: float
    kv_cache_gib: float
    overhead_gib: float
    offered_gib: float
    gpus: int
    gpu: str
    max_model_len: int
    concurrency: int

    @property
    def needed_gib(self) -> float:
        return self.weights_gib + self.kv_cache_gib + self.overhead_gib

    @property
    def fits(self) -> bool:
        return self.needed_gib <= self.offered_gib + 1e-9

    def summary(self) -> str:
        return (
            f"needs {self.needed_gib:.1f} GiB per replica (weights {self.weights_gib:.1f} + KV cache "
            f"{self.kv_cache_gib:.1f} for {self.max_model_len} tokens × {self.concurrency} sequences + overhead "
            f"{self.overhead_gib:.1f}) and {self.gpus}× {self.gpu} offer {self.offered_gib:.1f} GiB"
        )


@dataclass(frozen=True)
class Workload:
    """What sizing needs to know about one LLM service."""

    arch: ModelArch
    dtype: str
    quantization: str | None
    max_model_len: int | None
    max_num_seqs: int | None
    gpu_memory_utilization: float
    kv_cache_dtype: str | None = None

    @property
    def context(self) -> int:
        return self.max_model_len or self.arch.max_context

    @property
    def concurrency(self) -> int:
        return self.max_num_seqs or 1


def weights_gib(w: Workload) -> float:
    width = DTYPE_BYTES[w.dtype]
    if w.quantization is None:
        return w.arch.params * width / GIB
    emb = w.arch.embedding_params
    return (emb * 2.0 + (w.arch.params - emb) * QUANT_BYTES[w.quantization]) / GIB


def kv_cache_gib(w: Workload) -> float:
    kv = w.kv_cache_dtype or "auto"
    kv_bytes = 1.0 if kv in FP8_KV else 2.0 if kv in ("float16", "bfloat16") else DTYPE_BYTES[w.dtype]
    return w.arch.kv_bytes_per_token(kv_bytes) * w.context * w.concurrency / GIB


def fit(w: Workload, gpu: str, gpus: int) -> Fit:
    return Fit(
        weights_gib=weights_gib(w),
        kv_cache_gib=kv_cache_gib(w),
        overhead_gib=RUNTIME_OVERHEAD_GIB * gpus,
        offered_gib=GPU_TYPES[gpu].usable_gib * w.gpu_memory_utilization * gpus,
        gpus=gpus,
        gpu=gpu,
        max_model_len=w.context,
        concurrency=w.concurrency,
    )


def valid_tensor_sizes(arch: ModelArch, limit: int = 8) -> list[int]:
    return [n for n in range(1, limit + 1) if arch.attention_heads % n == 0]


def engine_rule_problems(w: Workload, tensor_parallel: int) -> list[tuple[str, str, str]]:
    """(field, problem, fix) for what vLLM itself rejects."""
    out = []
    if w.arch.attention_heads % tensor_parallel:
        sizes = ", ".join(map(str, valid_tensor_sizes(w.arch)))
        out.append(
            (
                "engine.tensor_parallel_size",
                f"tensor_parallel_size {tensor_parallel} does not divide {w.arch.name}'s "
                f"{w.arch.attention_heads} attention heads (vLLM rejects it)",
                f"use one of {sizes}",
            )
        )
    if w.max_model_len is not None and w.max_model_len > w.arch.max_context:
        out.append(
            (
                "engine.max_model_len",
                f"max_model_len {w.max_model_len} exceeds {w.arch.name}'s max_position_embeddings "
                f"{w.arch.max_context} (vLLM rejects it)",
                f"set max_model_len ≤ {w.arch.max_context}",
            )
        )
    return out


@dataclass(frozen=True)
class Option:
    """One way to run a replica: instance type, GPUs per replica, packing."""

    instance: Instance
    gpus_per_replica: int
    #: None when the model's architecture is unknown (no fit check possible).
    fit: Fit | None

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


def cents(usd: float) -> int:
    """Whole cents (half up), the unit money is compared in."""
    return int(usd * 100 + 0.5)


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


def options(
    w: Workload,
    instances: tuple[Instance, ...],
    *,
    gpu: str | None = None,
    gpus_per_replica: int | None = None,
    pipeline: int = 1,
    fitting_only: bool = True,
) -> list[Option]:
    """Every (instance, GPUs per replica) allowed by the constraints; fitting ones only by default.

    A replica's GPUs are ``tensor × pipeline``; vLLM's head rule applies to the tensor part.
    """
    out = []
    for inst in instances:
        if not inst.gpu or inst.whole_gpus == 0 or (gpu is not None and inst.gpu != gpu):
            continue
        for n in (1, 2, 4, 8):
            if n > inst.whole_gpus or (gpus_per_replica is not None and n != gpus_per_replica):
                continue
            if n % pipeline or w.arch.attention_heads % (n // pipeline):
                continue
            opt = Option(inst, n, fit(w, inst.gpu, n))
            if opt.replicas_per_node < 1:
                continue
            if fitting_only and not opt.fit.fits:
                continue
            out.append(opt)
    return out


def rank(opts: list[Option], min_replicas: int, max_replicas: int) -> list[Option]:
    return sorted(opts, key=lambda o: o.key(min_replicas, max_replicas))
