"""The ``llm`` kind's decisions: how the model runs on the target, on which GPUs, at what size.

On targets with GPUs an LLM service becomes a RayService running Ray Serve LLM
on GPU workers (``llm-ray``); on targets without (kind) it becomes the CPU
profile, one vLLM CPU pod (``llm-cpu``). GPU sizing and the instance planner
are :mod:`stackdef.sizing`; billing is :mod:`stackdef.cost`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from stackdef import coldstart
from stackdef.catalog.gpus import GPU_TYPES
from stackdef.catalog.models import ModelArch, lookup
from stackdef.coldstart import ColdStart, llm_cold_start
from stackdef.cost import pod_size
from stackdef.errors import Issue
from stackdef.kinds.llm.spec import LLMService, ModelArchitecture
from stackdef.kinds.ray_common import OPERATORS, ray_names, ray_pods
from stackdef.memory import Engine, checkpoint_bytes
from stackdef.naming import k8s_name
from stackdef.resolve.context import ResolveContext
from stackdef.resolve.model import PodSet, PodSize, ResolvedService, Sizing, WorkerGroup
from stackdef.sizing import (
    Option,
    Workload,
    best_split,
    cheapest_instance,
    fit,
    options,
    rank,
    scheduler_problems,
    split_problems,
    splits,
    worker_share,
)
from stackdef.versions import RAY_LLM_IMAGE, VLLM_CPU_IMAGE
from stackdef.vllm_rules import Problem, static_problems
from stackdef.vllm_rules import split_problems as vllm_split_problems

#: LLM heads host the OpenAI ingress on these Ray CPUs, so the endpoint stays
#: up while GPU workers are at zero (4 CPU / 8 GiB pod: the ingress plus Ray's
#: GCS, dashboard, Serve controller and proxy).
LLM_HEAD = PodSize("4", "8Gi")
LLM_HEAD_RAY_CPUS = 2
#: Time allowed for pulling an image before a pod's own start-up budget begins
#: (the vLLM CPU image is a few GB).
IMAGE_PULL_ALLOWANCE_S = 600
#: CPU a vLLM CPU engine leaves to its scheduler process (vLLM's OMPProcessManager
#: reserves one core on x86, utils/ompmultiprocessing.py).
VLLM_CPU_RESERVED = 1
#: The CPU profile serves bfloat16 (vLLM's CPU backend computes in it).
CPU_DTYPE = "bfloat16"


@dataclass(frozen=True)
class LLMDetail:
    """What only the llm kind's compile step and plan entry read."""

    served_model_name: str
    #: What the pods load: the service's source, or the CPU profile's model.
    model: str
    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    #: Requests a replica accepts at once.
    max_ongoing_requests: int = 1
    #: Ray Serve LLM's ``accelerator_type`` (None: placed by node labels alone, see catalog.gpus).
    accelerator_type: str | None = None
    #: vLLM's ``quantization``: AWQ checkpoints that fit its Marlin kernels are asked for by that name
    #: (an explicit "awq" forces the slower, float16-only kernel; vLLM still checks the checkpoint).
    quantization: str | None = None
    #: Scheduler limits passed to vLLM (the values sizing assumed); None: vLLM's own defaults.
    max_num_batched_tokens: int | None = None
    max_num_seqs: int | None = None
    #: OpenMP threads of the CPU profile's engine (its CPU limit minus what vLLM keeps for its scheduler).
    cpu_threads: int | None = None
    cpu_dtype: str = CPU_DTYPE


def served_model_name(svc: LLMService) -> str:
    if svc.served_model_name:
        return svc.served_model_name
    return svc.source.rstrip("/").rsplit("/", 1)[-1].lower()


def architecture(svc: LLMService) -> ModelArch | None:
    a = svc.architecture
    if isinstance(a, ModelArchitecture):
        return ModelArch(
            name=svc.name,
            params=a.params,
            layers=a.layers,
            hidden_size=a.hidden_size,
            attention_heads=a.attention_heads,
            kv_heads=a.kv_heads,
            head_dim=a.head_dim or a.hidden_size // a.attention_heads,
            max_context=a.max_context,
            vocab_size=a.vocab_size,
            tie_word_embeddings=a.tie_word_embeddings,
            experts=a.experts,
            experts_per_token=a.experts_per_token,
            intermediate_size=a.intermediate_size,
        )
    return lookup(a) if isinstance(a, str) else lookup(svc.source)


def vllm_quantization(svc: LLMService) -> str | None:
    """vLLM's ``quantization`` argument. For AWQ none: vLLM reads the checkpoint and serves it with
    its Marlin kernels when they fit (awq_marlin.py ``override_quantization_method``), else the plain
    AWQ kernel; an explicit "awq" would force the plain one, an explicit "awq_marlin" would fail on a
    checkpoint Marlin cannot take."""
    q = svc.engine.quantization
    return None if q == "awq" else q


def prequantized(svc: LLMService) -> bool:
    """Whether the checkpoint is stored quantized. AWQ, GPTQ and compressed-tensors always are; fp8
    and bitsandbytes may be applied as a 16-bit checkpoint loads, which is what a catalog model's own
    Hugging Face repository is (the catalog holds base models)."""
    if svc.checkpoint.prequantized is not None:
        return svc.checkpoint.prequantized
    if svc.engine.quantization in ("fp8", "bitsandbytes"):
        base = lookup(svc.source)
        return base is None  # the base model's own repo: 16-bit weights, quantized at load
    return True


def workload(svc: LLMService, arch: ModelArch) -> Workload:
    e = svc.engine
    return Workload(
        arch=arch,
        dtype=e.dtype,
        quantization=e.quantization,
        max_model_len=e.max_model_len,
        max_num_seqs=e.max_num_seqs,
        gpu_memory_utilization=e.gpu_memory_utilization,
        kv_cache_dtype=e.kv_cache_dtype,
        max_num_batched_tokens=e.max_num_batched_tokens,
        enforce_eager=e.enforce_eager,
        group_size=svc.checkpoint.group_size,
        chunked_prefill=e.extra.get("enable_chunked_prefill", True) is not False,
        throughput_mode=e.extra.get("performance_mode") == "throughput",
        prequantized=prequantized(svc),
    )


def _describe(opt: Option) -> str:
    split = f", TP {opt.tensor_parallel} × PP {opt.pipeline_parallel}" if opt.pipeline_parallel > 1 else ""
    return (
        f"{opt.gpus_per_replica}× {opt.instance.gpu} on {opt.instance.instance_type} "
        f"${opt.instance.usd_per_hour:g}/h ({opt.replicas_per_node} replica(s) per node{split})"
    )


@dataclass(frozen=True)
class _Plan:
    """Phase-one decision for one LLM service on a GPU target."""

    gpu: str | None
    gpus: int
    tp: int
    pp: int
    sizing: Sizing
    worker_cpu: str
    worker_memory: str
    #: (max_num_batched_tokens, max_num_seqs) passed to vLLM; None leaves vLLM's defaults.
    limits: tuple[int, int] | None = None


def parallelism(svc: LLMService) -> tuple[int | None, int | None, int | None]:
    """(GPUs per replica, tensor size, pipeline size), each None where the planner decides.

    An unset tensor_parallel_size follows gpus_per_replica and vice versa; a named GPU type
    without either means one GPU.
    """
    e = svc.engine
    fields = e.model_fields_set
    tp = e.tensor_parallel_size if "tensor_parallel_size" in fields else None
    pp = e.pipeline_parallel_size if "pipeline_parallel_size" in fields else None
    gpus = svc.accelerator.gpus_per_replica
    if tp is not None or pp is not None:
        pp = pp or 1
        tp = tp or (gpus // pp if gpus else 1)
        return tp * pp, tp, pp
    if gpus is not None:
        return gpus, None, None
    if svc.accelerator.type != "auto":
        return 1, 1, 1
    return None, None, None


def _issues(out: Any, path: str, found: list[Problem]) -> bool:
    """Report vLLM's refusals at their fields; True if any was an error."""
    for p in found:
        (out.warnings if p.warning else out.issues).append(Issue(f"{path}.{p.field}", p.problem, p.fix))
    return any(not p.warning for p in found)


def plan_gpus(ctx: ResolveContext, i: int, svc: LLMService) -> _Plan | None:
    """GPU type, count, split and instance of one replica (the planner for `accelerator: auto`), and its pod size."""
    path = f"services[{i}]"
    out = ctx.out
    region = ctx.pricing
    instances = ctx.gpu_instances
    catalog = ctx.catalog
    gpus, tensor, pipeline = parallelism(svc)
    gpu = None if svc.accelerator.type == "auto" else svc.accelerator.type
    arch = architecture(svc)
    auto = svc.autoscaling
    if isinstance(svc.architecture, str) and arch is None:
        out.issues.append(Issue(f"{path}.architecture", f"{svc.architecture!r} is not in the model catalog", "name a catalog model or declare the architecture inline"))
        return None
    if arch is None:
        if gpu is None:
            out.issues.append(
                Issue(
                    f"{path}.accelerator.type",
                    f"accelerator auto needs the model's architecture and {svc.source} is not in the catalog",
                    "declare `architecture` (params, layers, heads, ...) or pick a GPU type",
                )
            )
            return None
        out.warnings.append(
            Issue(f"{path}.architecture", f"{svc.source} is not in the model catalog, so GPU memory fit is not checked", "declare `architecture` to check it")
        )
        n = gpus or 1
        tp, pp = (tensor, pipeline) if tensor is not None else (n, 1)
        inst = cheapest_instance(instances, gpu, n) if instances else None
        if inst is None:
            return _Plan(gpu, n, tp, pp, Sizing(), svc.worker.cpu, svc.worker.memory)
        chosen = Option(inst, n, None, tp, pp)
        return _choose(ctx, path, svc, chosen, [chosen], Sizing())
    w = workload(svc, arch)
    if _issues(out, path, static_problems(arch, w.choice, gpu)):
        return None
    if tensor is not None and _issues(out, path, vllm_split_problems(arch, w.choice, tensor, pipeline or 1, gpu)):
        return None
    if not instances:
        if gpu is None:
            out.issues.append(
                Issue(
                    f"{path}.accelerator.type",
                    "accelerator auto needs the target's prices",
                    "use an eks/gke/aks target in a catalog region, an existing target with cloud and region, or add prices",
                )
            )
            return None
        n = gpus or 1
        found = best_split(w, gpu, n, tensor, pipeline)
        if found is None:
            tp, pp = (tensor, pipeline or 1) if tensor is not None else splits(n)[0]
            alt = rank(options(w, catalog.instances), auto.min_replicas, auto.max_replicas)[:3]
            fix = "fits: " + "; ".join(_describe(o) for o in alt) if alt else "no catalog GPU fits it: shorten max_model_len, lower max_num_seqs or quantize"
            out.issues.append(Issue(f"{path}.accelerator", f"{arch.name} does not fit: {_why(w, gpu, n, tensor, pipeline)}", fix))
            return None
        tp, pp, mem = found
        if _issues(out, path, scheduler_problems(w, gpu)):
            return None
        return _Plan(gpu, n, tp, pp, Sizing(arch=arch, memory=mem), svc.worker.cpu, svc.worker.memory, _limits(mem))
    fitting = options(w, instances, gpu=gpu, gpus_per_replica=gpus, tensor=tensor, pipeline=pipeline)
    if not fitting:
        alt = rank(options(w, instances), auto.min_replicas, auto.max_replicas)[:3]
        where = f"{region[0]} {region[1]}"  # type: ignore[index]
        offered = {i.gpu for i in instances if i.whole_gpus >= (gpus or 1)}
        if gpu and gpu not in offered:
            what = f"no instance in {where} offers {gpus or 1}× {gpu} per node for {arch.name}"
        elif gpu:
            what = f"{arch.name} does not fit: {_why(w, gpu, gpus or 1, tensor, pipeline)}"
        else:
            what = f"no {'GPU' if gpus is None else f'{gpus}-GPU'} configuration in {where} fits {arch.name}"
        fix = "cheapest that fit: " + "; ".join(_describe(o) for o in alt) if alt else f"nothing in {where} fits: shorten max_model_len, lower max_num_seqs or quantize"
        out.issues.append(Issue(f"{path}.accelerator", what, fix))
        return None
    ranked = rank(fitting, auto.min_replicas, auto.max_replicas)
    best = ranked[0]
    if _issues(out, path, scheduler_problems(w, best.instance.gpu)):  # type: ignore[arg-type]
        return None
    if tensor is None:  # the planner's split: say what vLLM will only warn about
        _issues(out, path, [p for p in vllm_split_problems(arch, w.choice, best.tensor_parallel, best.pipeline_parallel, best.instance.gpu) if p.warning])
    return _choose(ctx, path, svc, best, ranked, Sizing(arch=arch))


def _why(w: Workload, gpu: str, gpus: int, tensor: int | None, pipeline: int | None) -> str:
    """Why no split of ``gpus`` × ``gpu`` works: vLLM's refusal, or the memory model of the best try."""
    tried = splits(gpus, tensor, pipeline)
    refused = [(tp, pp, split_problems(w, gpu, tp, pp)) for tp, pp in tried]
    allowed = [(tp, pp) for tp, pp, found in refused if not found]
    if not allowed:
        return "; ".join(f"TP {tp} × PP {pp}: {found[0].problem}" for tp, pp, found in refused[:2])
    tp, pp = allowed[0]
    return fit(w, gpu, tp, pp).summary() + f" — {fit(w, gpu, tp, pp).problem}"


def _limits(mem: Any) -> tuple[int, int]:
    return mem.engine.max_num_batched_tokens, mem.engine.max_num_seqs


def _choose(ctx: ResolveContext, path: str, svc: LLMService, chosen: Option, ranked: list[Option], base: Sizing) -> _Plan | None:
    out = ctx.out
    share_cpu, share_mem = worker_share(chosen)
    if "worker" in svc.model_fields_set:
        want_cpu, want_mem = pod_size(svc.worker.cpu, svc.worker.memory)
        if want_cpu > share_cpu or want_mem > share_mem:
            out.issues.append(
                Issue(
                    f"{path}.worker",
                    f"worker {svc.worker.cpu} CPU / {svc.worker.memory} exceeds the {share_cpu} CPU / {share_mem}Gi a replica "
                    f"gets on {chosen.instance.instance_type} ({chosen.replicas_per_node} per node)",
                    "lower worker, or drop it to let stackdef size it from the instance",
                )
            )
            return None
        cpu, mem = svc.worker.cpu, svc.worker.memory
    else:
        cpu, mem = str(share_cpu), f"{share_mem}Gi"
    sizing = replace(
        base,
        memory=chosen.memory,
        instance=chosen.instance,
        replicas_per_node=chosen.replicas_per_node,
        runner_ups=tuple(ranked[1:4]),
    )
    limits = _limits(chosen.memory) if chosen.memory is not None else None
    return _Plan(chosen.instance.gpu, chosen.gpus_per_replica, chosen.tensor_parallel, chosen.pipeline_parallel, sizing, cpu, mem, limits)


def load_warnings(path: str, svc: LLMService, mem: Any) -> list[Issue]:
    """A replica that barely starts, or that holds fewer full-length requests than the autoscaler sends it."""
    out = []
    if mem.tight:
        out.append(
            Issue(
                f"{path}.accelerator",
                f"tight fit: {mem.headroom / 2**30:.2f} GiB per GPU to spare after one {mem.engine.max_model_len}-token request "
                f"(under 5% of {mem.worst.requested / 2**30:.1f} GiB); a few hundred MiB more in any term and vLLM does not start",
                "shorten max_model_len, use kv_cache_dtype fp8, or give it more or larger GPUs",
            )
        )
    target = svc.autoscaling.target_ongoing_requests
    if target > mem.engine.max_num_seqs:
        out.append(
            Issue(
                f"{path}.autoscaling.target_ongoing_requests",
                f"target_ongoing_requests {target:g} is above max_num_seqs {mem.engine.max_num_seqs}: a replica runs at most "
                f"{mem.engine.max_num_seqs} sequences at once and queues the rest",
                f"set target_ongoing_requests ≤ {mem.engine.max_num_seqs}, or raise max_num_seqs",
            )
        )
    elif target > mem.max_concurrency:
        out.append(
            Issue(
                f"{path}.autoscaling.target_ongoing_requests",
                f"a replica's KV cache holds {mem.tokens:,} tokens: {mem.max_concurrency:.2f} requests of {mem.engine.max_model_len} "
                f"tokens at once, fewer than target_ongoing_requests {target:g}, so long requests would queue inside the engine",
                f"set target_ongoing_requests ≤ {max(1, int(mem.max_concurrency))}, shorten max_model_len, or use kv_cache_dtype fp8",
            )
        )
    return out


def _cold_start(ctx: ResolveContext, arch: ModelArch | None, engine: Engine | None, volume: Any, *, gpu: bool, prequantized: bool = True) -> ColdStart | None:
    if engine is None or arch is None:
        return None
    return llm_cold_start(
        node=ctx.target.gpu_node_start if gpu else (),
        image=coldstart.RAY_LLM_IMAGE if gpu else coldstart.VLLM_CPU_IMAGE,
        weights_bytes=checkpoint_bytes(arch, engine, prequantized),
        params=arch.params,
        cache_read=volume.read if volume is not None else None,
        cached=volume is not None,
        gpu=gpu,
        enforce_eager=engine.enforce_eager,
    )


def cold_start_warnings(path: str, svc: LLMService, cold: ColdStart) -> list[Issue]:
    """Scale-to-zero whose first request would wait longer than the client does."""
    if svc.autoscaling.min_replicas > 0 or cold.known_s <= svc.request_timeout_s:
        return []
    at_least = "" if cold.total_s is not None else "at least "
    slowest = max((t for t in cold.terms if t.seconds), key=lambda t: t.seconds or 0)
    remedy = {
        "node": "warm GPU capacity (a standby node or a capacity buffer) shortens the node start",
        "image": "a smaller or pre-pulled image (or lazy pulling: SOCI, GKE image streaming) shortens the pull",
        "weights": "add a model_cache so later starts read a volume instead of downloading"
        if svc.model_cache is None
        else "a faster StorageClass for the model cache shortens the weights",
        "compile": "enforce_eager skips torch.compile and CUDA graphs (slower serving)",
        "graphs": "enforce_eager skips torch.compile and CUDA graphs (slower serving)",
        "engine": "",
    }[slowest.name]
    parts = [f"the slowest part is {slowest.name} ({slowest.seconds:.0f} s): {remedy}" if remedy else ""]
    if svc.model_cache is None and slowest.name != "weights":
        parts.append("add a model_cache so later starts read a volume instead of downloading")
    parts.append("keep min_replicas 1, or raise request_timeout_s")
    fix = "; ".join(p for p in parts if p)
    return [
        Issue(
            f"{path}.autoscaling.min_replicas",
            f"scaling from zero takes {at_least}~{cold.known_s / 60:.0f} min ({', '.join(f'{t.name} {t.seconds:.0f} s' for t in cold.terms if t.seconds)}), "
            f"longer than request_timeout_s {svc.request_timeout_s}: the first request after an idle spell times out",
            fix,
        )
    ]


def _cpu_profile(ctx: ResolveContext, i: int, svc: LLMService) -> ResolvedService:
    """No GPUs on the target: one vLLM CPU pod serving the profile's small model, same API and name."""
    auto = svc.autoscaling
    prof = svc.cpu_profile
    _, selector, labels = ctx.identity(svc, "llm")
    notes = ["kind CPU profile: plain vLLM CPU Deployment, 1 replica, model " + prof.source]
    if auto.min_replicas == 0 or auto.max_replicas > 1:
        notes.append(f"autoscaling {auto.min_replicas}–{auto.max_replicas} applies on GPU targets; kind runs exactly 1 replica")
    names = {
        "service": k8s_name("Service", svc.name),
        "network_policy": k8s_name("NetworkPolicy", svc.name),
        "model_cache": k8s_name("PersistentVolumeClaim", svc.name, "model-cache"),
        "code": k8s_name("ConfigMap", svc.name, "code"),
        "deployment": k8s_name("Deployment", svc.name),
    }
    cache = svc.model_cache
    volume = ctx.volume(f"services[{i}].model_cache", cache.size, cache.access_mode, cache.storage_class, owner=svc.name, noun="model cache", readers=1) if cache else None
    small = lookup(prof.source)
    engine = Engine(CPU_DTYPE, None, None, prof.max_model_len, prof.max_num_seqs, prof.max_model_len, 1.0)
    cold = _cold_start(ctx, small, engine, volume, gpu=False) if small else None
    return ResolvedService(
        index=i,
        spec=svc,
        kind="llm",
        mode="llm-cpu",
        image=VLLM_CPU_IMAGE,
        labels=labels,
        selector=selector,
        names=names,
        min_replicas=1,
        max_replicas=1,
        initial_replicas=1,
        gpu_type=None,
        gpus_per_replica=0,
        workers=None,
        pods=PodSet(per_replica=(PodSize(prof.cpu, prof.memory),)),
        notes=tuple(notes),
        sizing=Sizing(bill=ctx.bill(Sizing(), PodSet().cpu_load(), None, (volume,))),
        cache=volume,
        cold_start=cold,
        # The startup probe allows loading_timeout_s once the image is there.
        ready_timeout_s=svc.loading_timeout_s + IMAGE_PULL_ALLOWANCE_S,
        endpoint=ctx.endpoint(names["service"]),
        detail=LLMDetail(
            served_model_name=served_model_name(svc),
            model=prof.source,
            cpu_threads=max(1, math.floor(pod_size(prof.cpu, prof.memory)[0]) - VLLM_CPU_RESERVED),
        ),
    )


def resolve_llm(ctx: ResolveContext, i: int, svc: LLMService) -> ResolvedService | None:
    if not ctx.target.supports("gpus"):
        return _cpu_profile(ctx, i, svc)
    auto = svc.autoscaling
    initial, selector, labels = ctx.identity(svc, "llm")
    plan = plan_gpus(ctx, i, svc)
    if plan is None:
        return None
    pods = ray_pods(LLM_HEAD, PodSize(plan.worker_cpu, plan.worker_memory), plan.gpus)
    cache = svc.model_cache
    volume = ctx.volume(
        f"services[{i}].model_cache", cache.size, cache.access_mode, cache.storage_class,
        owner=svc.name, noun="model cache", readers=auto.max_replicas,
    ) if cache else None
    sizing = replace(plan.sizing, bill=ctx.bill(plan.sizing, pods.cpu_load(), plan.gpu, (volume,)))
    placement, ray_resources = ctx.gpu_placement(plan.gpu, plan.gpus, pod_size(plan.worker_cpu, plan.worker_memory))
    workers = WorkerGroup(
        name="gpu",
        # One Serve replica per worker pod, each pod holding exactly the
        # replica's GPUs, so Ray can place every replica the autoscaler asks for.
        min_workers=auto.min_replicas,
        max_workers=auto.max_replicas,
        initial_workers=initial,
        cpu=plan.worker_cpu,
        memory=plan.worker_memory,
        gpus=plan.gpus,
        placement=placement,
        ray_resources=ray_resources,
        shm="8Gi",
    )
    names = ray_names(svc.name)
    if plan.sizing.memory is not None:
        ctx.out.warnings.extend(load_warnings(f"services[{i}]", svc, plan.sizing.memory))
    cold = _cold_start(ctx, plan.sizing.arch, plan.sizing.memory.engine if plan.sizing.memory else None, volume, gpu=True, prequantized=prequantized(svc))
    if cold is not None:
        ctx.out.warnings.extend(cold_start_warnings(f"services[{i}]", svc, cold))
    return ResolvedService(
        index=i,
        spec=svc,
        kind="llm",
        mode="llm-ray",
        image=RAY_LLM_IMAGE,
        labels=labels,
        selector=selector,
        names=names,
        min_replicas=auto.min_replicas,
        max_replicas=auto.max_replicas,
        initial_replicas=initial,
        gpu_type=plan.gpu,
        gpus_per_replica=plan.gpus,
        workers=workers,
        pods=pods,
        operators=OPERATORS,
        sizing=sizing,
        head=LLM_HEAD,
        head_ray_cpus=LLM_HEAD_RAY_CPUS,
        cpu_placement=ctx.cpu_placement(),
        cache=volume,
        cold_start=cold,
        endpoint=ctx.endpoint(names["service"]),
        detail=LLMDetail(
            served_model_name=served_model_name(svc),
            model=svc.source,
            tensor_parallel_size=plan.tp,
            pipeline_parallel_size=plan.pp,
            max_ongoing_requests=svc.max_ongoing_requests or max(1, math.ceil(2 * auto.target_ongoing_requests)),
            accelerator_type=GPU_TYPES[plan.gpu].serve_llm_type if plan.gpu else None,
            quantization=vllm_quantization(svc),
            max_num_batched_tokens=plan.limits[0] if plan.limits else None,
            max_num_seqs=plan.limits[1] if plan.limits else None,
        ),
    )
