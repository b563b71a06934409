"""The ``llm`` kind's decisions: how the model runs on the target, on which GPUs, at what size.

On targets with GPUs an LLM service becomes a RayService running Ray Serve LLM
on GPU workers (``llm-ray``); on targets without (kind) it becomes the CPU
profile, one vLLM CPU pod (``llm-cpu``). GPU sizing and the instance planner
are :mod:`stackdef.sizing`; billing is :mod:`stackdef.cost`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from stackdef.catalog.gpus import GPU_TYPES
from stackdef.catalog.models import ModelArch, lookup
from stackdef.cost import pod_size
from stackdef.errors import Issue
from stackdef.kinds.llm.spec import LLMService, ModelArchitecture
from stackdef.kinds.ray_common import OPERATORS, ray_names, ray_pods
from stackdef.naming import k8s_name
from stackdef.resolve.context import ResolveContext
from stackdef.resolve.model import PodSet, PodSize, ResolvedService, Sizing, WorkerGroup
from stackdef.sizing import (
    Option,
    Workload,
    cheapest_instance,
    engine_rule_problems,
    fit,
    options,
    rank,
    worker_share,
)
from stackdef.versions import RAY_LLM_IMAGE, VLLM_CPU_IMAGE

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
        )
    return lookup(a) if isinstance(a, str) else lookup(svc.source)


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
    )


def _describe(opt: Option) -> str:
    return (
        f"{opt.gpus_per_replica}× {opt.instance.gpu} on {opt.instance.instance_type} "
        f"${opt.instance.usd_per_hour:g}/h ({opt.replicas_per_node} replica(s) per node)"
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


def parallelism(svc: LLMService) -> tuple[int | None, int, bool]:
    """(GPUs per replica if decided, pipeline size, tensor size explicitly set)."""
    e = svc.engine
    tp_set = "tensor_parallel_size" in e.model_fields_set
    pp = e.pipeline_parallel_size
    if svc.accelerator.gpus_per_replica is not None:
        return svc.accelerator.gpus_per_replica, pp, tp_set
    if tp_set or "pipeline_parallel_size" in e.model_fields_set or svc.accelerator.type != "auto":
        return e.tensor_parallel_size * pp, pp, tp_set
    return None, pp, tp_set


def plan_gpus(ctx: ResolveContext, i: int, svc: LLMService) -> _Plan | None:
    """GPU type, count and instance of one replica (the planner for `accelerator: auto`), and its pod size."""
    path = f"services[{i}]"
    out = ctx.out
    region = ctx.pricing
    instances = ctx.gpu_instances
    catalog = ctx.catalog
    gpus, pp, _ = parallelism(svc)
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
    if arch is not None:
        w = workload(svc, arch)
        problems = engine_rule_problems(w, (gpus // pp) if gpus else 1)
        for fld, problem, fix in problems:
            out.issues.append(Issue(f"{path}.{fld}", problem, fix))
        if problems:
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
            f = fit(w, gpu, gpus or 1)
            if not f.fits:
                alt = rank(options(w, catalog.instances), auto.min_replicas, auto.max_replicas)[:3]
                fix = "fits: " + "; ".join(_describe(o) for o in alt) if alt else "no catalog GPU fits it: shorten max_model_len, lower max_num_seqs or quantize"
                out.issues.append(Issue(f"{path}.accelerator", f"{arch.name} does not fit: {f.summary()}", fix))
                return None
            return _Plan(gpu, gpus or 1, (gpus or 1) // pp, pp, Sizing(arch=arch, fit=f), svc.worker.cpu, svc.worker.memory)
        fitting = options(w, instances, gpu=gpu, gpus_per_replica=gpus, pipeline=pp)
        if not fitting:
            wanted = fit(w, gpu or "H100", gpus or 1) if gpu or gpus else None
            alt = rank(options(w, instances), auto.min_replicas, auto.max_replicas)[:3]
            where = f"{region[0]} {region[1]}"  # type: ignore[index]
            if wanted is not None and gpu and not wanted.fits:
                what = f"{arch.name} does not fit: {wanted.summary()}"
            elif wanted is not None and gpu:
                what = f"no instance in {where} offers {gpus or 1}× {gpu} per node for {arch.name}"
            else:
                what = f"no {gpu or 'GPU'} configuration in {where} fits {arch.name}"
            fix = "cheapest that fit: " + "; ".join(_describe(o) for o in alt) if alt else f"nothing in {where} fits: shorten max_model_len, lower max_num_seqs or quantize"
            out.issues.append(Issue(f"{path}.accelerator", what, fix))
            return None
        ranked = rank(fitting, auto.min_replicas, auto.max_replicas)
        chosen = ranked[0]
    else:
        # Unknown architecture with an explicit GPU: cheapest instance with enough GPUs.
        inst = cheapest_instance(instances, gpu, gpus or 1)
        if inst is None:
            return _Plan(gpu, gpus or 1, (gpus or 1) // pp, pp, Sizing(), svc.worker.cpu, svc.worker.memory)
        chosen = Option(inst, gpus or 1, None)
        ranked = [chosen]
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
    g = chosen.gpus_per_replica
    sizing = Sizing(
        arch=arch,
        fit=chosen.fit,
        instance=chosen.instance,
        replicas_per_node=chosen.replicas_per_node,
        runner_ups=tuple(ranked[1:4]),
    )
    return _Plan(chosen.instance.gpu, g, g // pp, pp, sizing, cpu, mem)


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
        sizing=Sizing(bill=ctx.bill(Sizing(), PodSet().cpu_load(), None)),
        cache=ctx.volume(f"services[{i}].model_cache", cache.size, cache.access_mode, cache.storage_class, owner=svc.name, noun="model cache", readers=1)
        if cache
        else None,
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
    sizing = replace(plan.sizing, bill=ctx.bill(plan.sizing, pods.cpu_load(), plan.gpu))
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
    cache = svc.model_cache
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
        cache=ctx.volume(
            f"services[{i}].model_cache", cache.size, cache.access_mode, cache.storage_class,
            owner=svc.name, noun="model cache", readers=auto.max_replicas,
        )
        if cache
        else None,
        endpoint=ctx.endpoint(names["service"]),
        detail=LLMDetail(
            served_model_name=served_model_name(svc),
            model=svc.source,
            tensor_parallel_size=plan.tp,
            pipeline_parallel_size=plan.pp,
            max_ongoing_requests=svc.max_ongoing_requests or max(1, math.ceil(2 * auto.target_ongoing_requests)),
            accelerator_type=GPU_TYPES[plan.gpu].serve_llm_type if plan.gpu else None,
        ),
    )
