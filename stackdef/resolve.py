"""Resolve: pure decisions taken once, before anything is compiled.

Turns a validated :class:`~stackdef.spec.Stack` into a :class:`ResolvedStack`:
how each service runs on the target (``llm-ray``, ``llm-cpu``, ``model-ray``),
GPU sizing and the instance type (:mod:`stackdef.sizing`), what it costs
(:mod:`stackdef.cost`), budget caps, every object name, images, replica and
worker-group bounds and GPU node placement. No I/O, no clock, no randomness:
the same spec (and price catalog) always resolves the same way. Problems are
raised as :class:`~stackdef.errors.SpecError` naming the field.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from stackdef import providers
from stackdef import ports
from stackdef.catalog.models import ModelArch, lookup
from stackdef.catalog.prices import TARGET_CLOUD, Instance, PriceCatalog
from stackdef.cost import (
    EPSILON_USD,
    HOURS_PER_MONTH,
    CpuLoad,
    GpuPricing,
    ServiceBill,
    cpu_nodes,
    largest_within,
    money,
    pod_size,
    replicas_per_node,
)
from stackdef.errors import Issue, SpecError
from stackdef.naming import k8s_name, label_value
from stackdef.quantity import format_cpu, format_mib, parse_bytes
from stackdef.sizing import (
    Fit,
    Option,
    Workload,
    cheapest_instance,
    engine_rule_problems,
    fit,
    options,
    rank,
    worker_share,
)
from stackdef.spec.models import Budget, LLMService, ModelArchitecture, ModelService, RemoteCode, Stack
from stackdef.versions import RAY_IMAGE, RAY_LLM_IMAGE, VLLM_CPU_IMAGE

Mode = Literal["llm-ray", "llm-cpu", "model-ray"]

#: Memory a Ray worker pod needs on top of its replicas (raylet, object store
#: minimum, Python runtime). Ray reserves 30% of pod memory for the object
#: store by default, so 1 GiB keeps a 2 GiB replica schedulable.
RAY_WORKER_OVERHEAD_BYTES = 1 * 2**30

INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
#: GPU Feature Discovery (GPU operator) marks GPU nodes with it; on an existing
#: cluster CPU pods stay off nodes that carry it.
GPU_PRESENT_LABEL = "nvidia.com/gpu.present"


@dataclass(frozen=True)
class PodSize:
    """Requests (= limits) of one container."""

    cpu: str
    memory: str

    @property
    def load(self) -> tuple[float, float]:
        """(CPUs, GiB)."""
        return pod_size(self.cpu, self.memory)


#: Ray head pods run GCS, dashboard, the Serve controller and a proxy (a local
#: Ray 2.56 with one Serve replica peaks at ~1.1 GB). LLM heads also host the
#: OpenAI ingress on LLM_HEAD_RAY_CPUS Ray CPUs, so the endpoint stays up while
#: GPU workers are at zero; model-service heads run ``num-cpus: 0`` (replicas
#: live on workers, which autoscale) and need only the system processes.
LLM_HEAD = PodSize("4", "8Gi")
LLM_HEAD_RAY_CPUS = 2
MODEL_HEAD = PodSize("2", "4Gi")
#: On a laptop (kind) the head is sized down to what the system processes need.
MODEL_HEAD_LAPTOP = PodSize("1", "2Gi")
#: KubeRay's default autoscaler sidecar (pod.go), stated so it is billed and counted.
AUTOSCALER = PodSize("500m", "512Mi")
#: The KubeRay operator pod (chart values).
OPERATOR = PodSize("100m", "512Mi")
#: Time allowed for pulling an image before a pod's own start-up budget begins
#: (the vLLM CPU image is a few GB).
IMAGE_PULL_ALLOWANCE_S = 600
#: CPU a vLLM CPU engine leaves to its scheduler process (vLLM's OMPProcessManager
#: reserves one core on x86, utils/ompmultiprocessing.py).
VLLM_CPU_RESERVED = 1


@dataclass(frozen=True)
class Placement:
    """Where a pod may run: node selector, tolerations and node-affinity terms."""

    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: tuple[dict[str, Any], ...] = ()
    #: Node affinity: instance type In these (a GPU family: same GPU, any size that holds a replica).
    instance_types: tuple[str, ...] = ()
    #: Node affinity: instance type NotIn these (CPU pods stay off GPU nodes).
    avoid_instance_types: tuple[str, ...] = ()
    #: Node affinity: these labels DoesNotExist.
    avoid_labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class CacheVolume:
    """The model-cache PVC as it will be created on the target."""

    size: str
    access_mode: Literal["ReadWriteMany", "ReadWriteOnce"]
    #: None: the cluster's default StorageClass.
    storage_class: str | None


@dataclass(frozen=True)
class WorkerGroup:
    """One Ray worker group: pods of identical shape, one Serve replica each."""

    name: str
    min_workers: int
    max_workers: int
    initial_workers: int
    cpu: str
    memory: str
    gpus: int
    placement: Placement
    #: Ray custom resources the group advertises (KubeRay group ``resources``), e.g.
    #: ``{"accelerator_type:L4": "1"}`` so the autoscaler can place replicas that ask for that GPU type.
    ray_resources: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Cut:
    """A budget cap lowered a service's max_replicas."""

    from_replicas: int
    to_replicas: int
    saved_monthly_usd: float
    reason: str


@dataclass(frozen=True)
class Sizing:
    """GPU sizing and pricing of one service (None parts are unknown)."""

    arch: ModelArch | None = None
    fit: Fit | None = None
    instance: Instance | None = None
    replicas_per_node: int | None = None
    runner_ups: tuple[Option, ...] = ()
    bill: ServiceBill | None = None


@dataclass(frozen=True)
class ResolvedService:
    index: int
    spec: LLMService | ModelService
    mode: Mode
    image: str
    labels: dict[str, str]
    #: Labels that select this service's pods (Services, NetworkPolicies).
    selector: dict[str, str]
    names: dict[str, str]
    min_replicas: int
    max_replicas: int
    initial_replicas: int
    gpu_type: str | None
    gpus_per_replica: int
    workers: WorkerGroup | None
    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    served_model_name: str | None = None
    #: (relative path, text) of local application code, shipped as a ConfigMap.
    code_files: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()
    sizing: Sizing = field(default_factory=Sizing)
    cut: Cut | None = None
    #: Ray head pod (RayService modes); its autoscaler sidecar is AUTOSCALER.
    head: PodSize | None = None
    #: Where head and CPU workers may run.
    cpu_placement: Placement = field(default_factory=Placement)
    cache: CacheVolume | None = None
    #: Seconds the deploy edge waits for this service's pods to become ready.
    ready_timeout_s: int | None = None
    #: OpenMP threads of a vLLM CPU engine (its CPU limit minus what vLLM keeps for its scheduler).
    cpu_threads: int | None = None
    #: In-cluster HTTP endpoint.
    endpoint: str = ""

    def pod_load(self, replicas: int) -> tuple[float, float, int]:
        """(CPUs, GiB, GPUs) every pod of this service requests at ``replicas`` replicas."""
        cpu = mem = 0.0
        gpus = 0
        if self.head is not None:
            for part in (self.head, AUTOSCALER):
                c, m = part.load
                cpu, mem = cpu + c, mem + m
        if self.workers is not None:
            c, m = pod_size(self.workers.cpu, self.workers.memory)
            cpu, mem = cpu + c * replicas, mem + m * replicas
            gpus = self.workers.gpus * replicas
        elif self.spec.type == "llm":  # the CPU profile: one vLLM pod
            c, m = pod_size(self.spec.cpu_profile.cpu, self.spec.cpu_profile.memory)  # type: ignore[union-attr]
            cpu, mem = cpu + c * replicas, mem + m * replicas
        return cpu, mem, gpus

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True)
class ResolvedStack:
    stack: Stack
    namespace: str
    target: str
    labels: dict[str, str]
    services: tuple[ResolvedService, ...]
    needs_kuberay: bool
    unsupported: tuple[str, ...]
    notes: tuple[str, ...]
    #: Cloud and region prices come from, if any.
    priced: tuple[str, str] | None = None
    fixed_hourly_usd: float = 0.0
    fixed_items: tuple[tuple[str, float], ...] = ()
    warnings: tuple[Issue, ...] = ()
    #: CPU node type the stack's CPU pods are packed onto (None: unpriced or kind).
    cpu_instance: Instance | None = None
    #: Pods shared by the stack (operators).
    shared_pods: tuple[PodSize, ...] = ()
    #: Things the cluster must provide before deploy (StorageClasses, drivers).
    cluster_needs: tuple[str, ...] = ()

    def requests(self, at_max: bool) -> tuple[float, float, int]:
        """(CPUs, GiB, GPUs) requested by every pod of the stack, at min or max replicas."""
        cpu = sum(p.load[0] for p in self.shared_pods)
        mem = sum(p.load[1] for p in self.shared_pods)
        gpus = 0
        for rs in self.services:
            c, m, g = rs.pod_load(rs.max_replicas if at_max else rs.min_replicas)
            cpu, mem, gpus = cpu + c, mem + m, gpus + g
        return cpu, mem, gpus


def served_model_name(svc: LLMService) -> str:
    if svc.served_model_name:
        return svc.served_model_name
    return svc.source.rstrip("/").rsplit("/", 1)[-1].lower()


def _common_labels(stack: Stack) -> dict[str, str]:
    labels = {
        "app.kubernetes.io/part-of": label_value(stack.name),
        "app.kubernetes.io/managed-by": "stackdef",
        "stackdef.dev/stack": label_value(stack.name),
    }
    labels.update(stack.labels)
    return labels


def _names(svc_name: str, mode: Mode) -> dict[str, str]:
    names = {
        "service": k8s_name("Service", svc_name),
        "network_policy": k8s_name("NetworkPolicy", svc_name),
        "model_cache": k8s_name("PersistentVolumeClaim", svc_name, "model-cache"),
        "code": k8s_name("ConfigMap", svc_name, "code"),
    }
    if mode == "llm-cpu":
        names["deployment"] = k8s_name("Deployment", svc_name)
    else:
        names["rayservice"] = k8s_name("RayService", svc_name)
    return names


def _gpu_placement(
    stack: Stack, catalog: PriceCatalog, gpu: str | None, gpus: int, pod: tuple[float, float] | None
) -> tuple[Placement, dict[str, str]]:
    """(placement, Ray resources) of GPU workers.

    On priced clouds the workers may run on any instance type of the chosen
    GPU's family that holds one replica's pod (node affinity on the kubelet's
    ``node.kubernetes.io/instance-type``, set on every node whatever created
    it); the bill assumes the cheapest. The group advertises the Ray
    ``accelerator_type:<GPU>`` resource that the Serve replica asks for, so
    Ray's autoscaler can scale it up from zero.
    """
    if gpu is None:
        return Placement(), {}
    p = providers.get(stack.target.type).gpu_placement(stack.target, gpu)
    family: tuple[str, ...] = ()
    region = pricing_region(stack)
    if region is not None and stack.target.type in TARGET_CLOUD and pod is not None:
        fits = [i for i in catalog.gpu_instances(*region) if i.gpu == gpu and replicas_per_node(i, gpus, *pod) >= 1]
        family = tuple(i.instance_type for i in sorted(fits, key=lambda i: (i.usd_per_hour, i.instance_type)))
    placement = Placement(dict(sorted(p.node_selector.items())), tuple(p.tolerations), instance_types=family)
    return placement, {f"accelerator_type:{gpu}": "1"}


def _cpu_placement(stack: Stack, catalog: PriceCatalog) -> Placement:
    """Heads and CPU workers stay off GPU nodes (GPU hours are the expensive ones)."""
    t = stack.target.type
    if t in TARGET_CLOUD:
        cloud = TARGET_CLOUD[t]
        gpu_types = sorted({i.instance_type for i in catalog.instances if i.provider == cloud and i.gpu})
        return Placement(avoid_instance_types=tuple(gpu_types))
    if t == "existing":
        return Placement(avoid_labels=(GPU_PRESENT_LABEL,))
    return Placement()


def _cache(stack: Stack, i: int, svc: LLMService, max_replicas: int, out: _Collector) -> CacheVolume | None:
    """The model-cache PVC's access mode and StorageClass on this target, and what the cluster must provide."""
    cache = svc.model_cache
    if cache is None:
        return None
    path = f"services[{i}].model_cache"
    storage = providers.get(stack.target.type).storage
    mode = cache.access_mode or ("ReadWriteMany" if storage.read_write_many is not None else "ReadWriteOnce")
    if mode == "ReadWriteMany" and storage.read_write_many is None:
        out.notes.append(f"{svc.name}: {stack.target.type} offers only ReadWriteOnce volumes: the model cache is ReadWriteOnce there")
        mode = "ReadWriteOnce"
    choice = storage.read_write_many if mode == "ReadWriteMany" else storage.read_write_once
    assert choice is not None
    if cache.storage_class is not None:
        out.needs.append(f"StorageClass {cache.storage_class} ({mode}) for services[{i}].model_cache")
        klass: str | None = cache.storage_class
    else:
        klass = choice.name
        if not choice.builtin:
            out.needs.append(f"{choice.needs}, for services[{i}].model_cache")
            out.warnings.append(
                Issue(path, f"the cluster must provide {choice.needs}", "install it before deploy, or set model_cache.storage_class")
            )
    if mode == "ReadWriteOnce" and max_replicas > 1 and storage.read_write_many is not None:
        out.warnings.append(
            Issue(
                f"{path}.access_mode",
                f"a ReadWriteOnce cache mounts on one node only, so replicas on other nodes of the {max_replicas} stay Pending",
                "use ReadWriteMany (the target's default) or max_replicas 1",
            )
        )
    return CacheVolume(cache.size, mode, klass)  # type: ignore[arg-type]


def pricing_region(stack: Stack) -> tuple[str, str] | None:
    t = stack.target
    if t.type in TARGET_CLOUD:
        return TARGET_CLOUD[t.type], t.region  # type: ignore[union-attr]
    if t.type == "existing" and t.cloud and t.region:
        return t.cloud, t.region
    return None


def _arch(svc: LLMService) -> ModelArch | None:
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


def _workload(svc: LLMService, arch: ModelArch) -> Workload:
    e = svc.engine
    return Workload(
        arch=arch,
        dtype=e.dtype,
        quantization=e.quantization,
        max_model_len=e.max_model_len,
        max_num_seqs=e.max_num_seqs,
        gpu_memory_utilization=e.gpu_memory_utilization,
        kv_cache_dtype=e.extra.get("kv_cache_dtype"),
    )


def _describe(opt: Option) -> str:
    return (
        f"{opt.gpus_per_replica}× {opt.instance.gpu} on {opt.instance.instance_type} "
        f"${opt.instance.usd_per_hour:g}/h ({opt.replicas_per_node} replica(s) per node)"
    )


class _Collector:
    def __init__(self) -> None:
        self.issues: list[Issue] = []
        self.warnings: list[Issue] = []
        #: Stack notes (plan shows them).
        self.notes: list[str] = []
        #: What the cluster must provide before deploy.
        self.needs: list[str] = []


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


def _parallelism(svc: LLMService) -> tuple[int | None, int, bool]:
    """(GPUs per replica if decided, pipeline size, tensor size explicitly set)."""
    e = svc.engine
    tp_set = "tensor_parallel_size" in e.model_fields_set
    pp = e.pipeline_parallel_size
    if svc.accelerator.gpus_per_replica is not None:
        return svc.accelerator.gpus_per_replica, pp, tp_set
    if tp_set or "pipeline_parallel_size" in e.model_fields_set or svc.accelerator.type != "auto":
        return e.tensor_parallel_size * pp, pp, tp_set
    return None, pp, tp_set


def _plan_llm(stack: Stack, i: int, svc: LLMService, catalog: PriceCatalog, out: _Collector) -> _Plan | None:
    path = f"services[{i}]"
    region = pricing_region(stack)
    instances = catalog.gpu_instances(*region) if region else ()
    gpus, pp, _ = _parallelism(svc)
    gpu = None if svc.accelerator.type == "auto" else svc.accelerator.type
    arch = _arch(svc)
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
        w = _workload(svc, arch)
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


def _bill(stack: Stack, catalog: PriceCatalog, sizing: Sizing, cpu_load: CpuLoad, gpu: str | None) -> ServiceBill | None:
    """The service's bill, or None when a part of it has no price (unknown, never silently $0)."""
    if stack.target.type == "kind":
        return ServiceBill(None, None, cpu_load)  # kind costs nothing
    region = pricing_region(stack)
    if region is None:
        return None
    cpu_instance = catalog.cpu_instance(*region)
    if cpu_instance is None or (gpu is not None and sizing.instance is None):
        return None
    gpu_pricing = GpuPricing(sizing.instance, sizing.replicas_per_node or 1) if sizing.instance else None
    return ServiceBill(gpu_pricing, cpu_instance, cpu_load)


def _identity(stack: Stack, svc: LLMService | ModelService, base: dict[str, str], component: str) -> tuple[int, dict[str, str], dict[str, str]]:
    """(initial replicas, pod selector, labels) of a service."""
    auto = svc.autoscaling
    initial = auto.initial_replicas if auto.initial_replicas is not None else auto.min_replicas
    selector = {"stackdef.dev/stack": label_value(stack.name), "stackdef.dev/service": svc.name}
    labels = {**base, "app.kubernetes.io/name": svc.name, "app.kubernetes.io/component": component, **selector}
    return initial, selector, labels


def _head_load(head: PodSize) -> CpuLoad:
    """The head pod (head container plus autoscaler sidecar) runs whatever the replica count."""
    (hc, hm), (ac, am) = head.load, AUTOSCALER.load
    return CpuLoad(hc + ac, hm + am)


def _endpoint(stack: Stack, names: dict[str, str]) -> str:
    return f"http://{names['service']}.{stack.resolved_namespace}.svc.cluster.local:{ports.HTTP}"


def _resolve_llm(
    stack: Stack, i: int, svc: LLMService, base: dict[str, str], catalog: PriceCatalog, out: _Collector
) -> ResolvedService | None:
    auto = svc.autoscaling
    initial, selector, labels = _identity(stack, svc, base, "llm")
    if stack.target.type == "kind":
        prof = svc.cpu_profile
        notes = ["kind CPU profile: plain vLLM CPU Deployment, 1 replica, model " + prof.source]
        if auto.min_replicas == 0 or auto.max_replicas > 1:
            notes.append(
                f"autoscaling {auto.min_replicas}–{auto.max_replicas} applies on GPU targets; kind runs exactly 1 replica"
            )
        names = _names(svc.name, "llm-cpu")
        return ResolvedService(
            index=i,
            spec=svc,
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
            served_model_name=served_model_name(svc),
            notes=tuple(notes),
            sizing=Sizing(bill=ServiceBill(None, None, CpuLoad(0, 0))),
            cache=_cache(stack, i, svc, 1, out),
            # The startup probe allows loading_timeout_s once the image is there.
            ready_timeout_s=svc.loading_timeout_s + IMAGE_PULL_ALLOWANCE_S,
            cpu_threads=max(1, math.floor(pod_size(prof.cpu, prof.memory)[0]) - VLLM_CPU_RESERVED),
            endpoint=_endpoint(stack, names),
        )
    plan = _plan_llm(stack, i, svc, catalog, out)
    if plan is None:
        return None
    sizing = replace(plan.sizing, bill=_bill(stack, catalog, plan.sizing, _head_load(LLM_HEAD), plan.gpu))
    placement, ray_resources = _gpu_placement(
        stack, catalog, plan.gpu, plan.gpus, pod_size(plan.worker_cpu, plan.worker_memory)
    )
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
    )
    names = _names(svc.name, "llm-ray")
    return ResolvedService(
        index=i,
        spec=svc,
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
        tensor_parallel_size=plan.tp,
        pipeline_parallel_size=plan.pp,
        served_model_name=served_model_name(svc),
        sizing=sizing,
        head=LLM_HEAD,
        cpu_placement=_cpu_placement(stack, catalog),
        cache=_cache(stack, i, svc, auto.max_replicas, out),
        endpoint=_endpoint(stack, names),
    )


def _resolve_model(
    stack: Stack,
    i: int,
    svc: ModelService,
    base: dict[str, str],
    code: tuple[tuple[str, str], ...],
    catalog: PriceCatalog,
) -> ResolvedService:
    auto = svc.autoscaling
    initial, selector, labels = _identity(stack, svc, base, "model")
    res = svc.resources
    notes: list[str] = []
    gpu = res.accelerator
    gpus = res.gpus
    if stack.target.type == "kind" and gpus:
        notes.append(f"kind has no GPUs: the {gpus}× {gpu} request is dropped and the replica runs on CPU")
        gpu, gpus = None, 0
    head = MODEL_HEAD_LAPTOP if stack.target.type == "kind" else MODEL_HEAD
    worker_cpu = format_cpu(max(1, math.ceil(res.cpu)))
    worker_mem = format_mib(parse_bytes(res.memory) + RAY_WORKER_OVERHEAD_BYTES)
    region = pricing_region(stack)
    pod_cpu, pod_mem = pod_size(worker_cpu, worker_mem)
    instance = cheapest_instance(catalog.gpu_instances(*region), gpu, gpus, pod_cpu, pod_mem) if gpu and region else None
    # The same packing rule as LLM replicas: GPUs and the pod's CPU/memory both bound it.
    rpn = replicas_per_node(instance, gpus, pod_cpu, pod_mem) if instance else None
    sizing = Sizing(instance=instance, replicas_per_node=rpn)
    per_cpu, per_mem = (0.0, 0.0) if gpu else (pod_cpu, pod_mem)
    load = replace(_head_load(head), per_replica_cpu=per_cpu, per_replica_memory_gib=per_mem)
    sizing = replace(sizing, bill=_bill(stack, catalog, sizing, load, gpu))
    cpu_placement = _cpu_placement(stack, catalog)
    placement, ray_resources = _gpu_placement(stack, catalog, gpu, gpus, (pod_cpu, pod_mem)) if gpu else (cpu_placement, {})
    workers = WorkerGroup(
        name="gpu" if gpus else "cpu",
        min_workers=auto.min_replicas,
        max_workers=auto.max_replicas,
        initial_workers=initial,
        cpu=worker_cpu,
        memory=worker_mem,
        gpus=gpus,
        placement=placement,
        ray_resources=ray_resources,
    )
    if isinstance(svc.code, RemoteCode):
        notes.append(f"application code is downloaded by Ray from {svc.code.working_dir}")
    names = _names(svc.name, "model-ray")
    return ResolvedService(
        index=i,
        spec=svc,
        mode="model-ray",
        image=svc.image or RAY_IMAGE,
        labels=labels,
        selector=selector,
        names=names,
        min_replicas=auto.min_replicas,
        max_replicas=auto.max_replicas,
        initial_replicas=initial,
        gpu_type=gpu,
        gpus_per_replica=gpus,
        workers=workers,
        code_files=code,
        notes=tuple(notes),
        sizing=sizing,
        head=head,
        cpu_placement=cpu_placement,
        endpoint=_endpoint(stack, names),
    )


# --------------------------------------------------------------------------- #
# Budgets
# --------------------------------------------------------------------------- #


def _with_max(rs: ResolvedService, new_max: int, cut: Cut) -> ResolvedService:
    assert rs.workers is not None
    initial = min(rs.initial_replicas, new_max)
    workers = replace(rs.workers, max_workers=new_max, initial_workers=initial)
    return replace(rs, max_replicas=new_max, initial_replicas=initial, workers=workers, cut=cut)


def _over(what: str, budget: Budget, cost: float, baseline: bool) -> str:
    level = "baseline (min replicas)" if baseline else "ceiling (max replicas)"
    return f"{what} {level} costs ${cost:,.2f}/month, over the ${budget.monthly_usd:,.2f} budget by ${cost - budget.monthly_usd:,.2f}"


class StackCost:
    """Monthly cost of the whole stack as each service's replica count changes.

    fixed + every service's GPU nodes + the stack's CPU pods packed onto whole
    CPU nodes (:mod:`stackdef.cost`). Running sums make one change O(1), so a
    cap over thousands of services stays linear.
    """

    def __init__(self, fixed_hourly: float, cpu_instance: Instance | None, shared: tuple[float, float], bills: dict[int, ServiceBill], replicas: dict[int, int]):
        self.fixed = fixed_hourly
        self.cpu_instance = cpu_instance
        self.bills = bills
        self.replicas = dict(replicas)
        self.gpu = sum(b.gpu_hourly(replicas[k]) for k, b in bills.items())
        self.cpu, self.mem = shared
        for k, b in bills.items():
            c, m = b.cpu_load.at(replicas[k])
            self.cpu, self.mem = self.cpu + c, self.mem + m

    def pool_hourly(self, cpu: float, mem: float) -> float:
        if self.cpu_instance is None:
            return 0.0
        return cpu_nodes(self.cpu_instance, cpu, mem) * self.cpu_instance.usd_per_hour

    def monthly(self) -> float:
        return (self.fixed + self.gpu + self.pool_hourly(self.cpu, self.mem)) * HOURS_PER_MONTH

    def monthly_with(self, k: int, r: int) -> float:
        """The total if service ``k`` ran ``r`` replicas, the others unchanged."""
        b, old = self.bills[k], self.replicas[k]
        c0, m0 = b.cpu_load.at(old)
        c1, m1 = b.cpu_load.at(r)
        gpu = self.gpu - b.gpu_hourly(old) + b.gpu_hourly(r)
        return (self.fixed + gpu + self.pool_hourly(self.cpu - c0 + c1, self.mem - m0 + m1)) * HOURS_PER_MONTH

    def set(self, k: int, r: int) -> None:
        b, old = self.bills[k], self.replicas[k]
        c0, m0 = b.cpu_load.at(old)
        c1, m1 = b.cpu_load.at(r)
        self.gpu += b.gpu_hourly(r) - b.gpu_hourly(old)
        self.cpu, self.mem = self.cpu - c0 + c1, self.mem - m0 + m1
        self.replicas[k] = r


def stack_cost(rst_like: Any, at_max: bool, services: list[ResolvedService] | tuple[ResolvedService, ...] | None = None) -> StackCost:
    """The StackCost of the known-cost services at min or max replicas."""
    svcs = services if services is not None else rst_like.services
    bills = {k: rs.sizing.bill for k, rs in enumerate(svcs) if rs.sizing.bill is not None}
    replicas = {k: (svcs[k].max_replicas if at_max else svcs[k].min_replicas) for k in bills}
    shared = (sum(p.load[0] for p in rst_like.shared_pods), sum(p.load[1] for p in rst_like.shared_pods))
    return StackCost(rst_like.fixed_hourly_usd, rst_like.cpu_instance, shared, bills, replicas)  # type: ignore[arg-type]


@dataclass(frozen=True)
class _CostBasis:
    fixed_hourly_usd: float
    cpu_instance: Instance | None
    shared_pods: tuple[PodSize, ...]


def apply_budgets(
    stack: Stack, services: list[ResolvedService], basis: _CostBasis, out: _Collector
) -> list[ResolvedService]:
    """Service budgets first, then the stack budget.

    Under ``cap`` the stack budget is met by lowering max_replicas in reverse
    declaration order (the last service is cut first, each only as far as
    needed and never below min_replicas), so list services most important
    first. Every cut is reported. When some costs are unknown the stack budget
    is checked against the known ones: if those alone exceed it, that is
    reported under the budget's policy.
    """
    result = list(services)
    for k, rs in enumerate(result):
        b = rs.spec.budget
        bill = rs.sizing.bill
        if b is None or bill is None:
            continue
        path = f"services[{rs.index}].budget"
        base = bill.monthly(rs.min_replicas)
        if base > b.monthly_usd + EPSILON_USD:
            out.issues.append(Issue(path, _over(f"service {rs.name!r}", b, base, True), "raise the budget or lower min_replicas"))
            continue
        ceiling = bill.monthly(rs.max_replicas)
        if ceiling <= b.monthly_usd + EPSILON_USD:
            continue
        if b.policy == "fail":
            out.issues.append(Issue(path, _over(f"service {rs.name!r}", b, ceiling, False), "raise the budget, lower max_replicas, or use policy cap"))
        elif b.policy == "warn":
            out.warnings.append(Issue(path, _over(f"service {rs.name!r}", b, ceiling, False), "raise the budget or lower max_replicas"))
        else:
            best = bill.largest_within(b.monthly_usd, rs.min_replicas, rs.max_replicas)
            assert best is not None
            result[k] = _with_max(rs, best, Cut(rs.max_replicas, best, money(ceiling - bill.monthly(best)), "service budget"))
    b = stack.budget
    if b is None:
        return result
    unknown = [rs.name for rs in result if rs.sizing.bill is None]
    what = "the stack"
    if unknown:
        what = "the stack (known costs only)"
        out.warnings.append(
            Issue(
                "budget",
                f"costs of {', '.join(unknown[:3])}{' and others' if len(unknown) > 3 else ''} are unknown, "
                "so the stack budget is checked against the known costs only",
                "add prices for the target",
            )
        )
    base = stack_cost(basis, False, result).monthly()
    if base > b.monthly_usd + EPSILON_USD:
        out.issues.append(Issue("budget", _over(what, b, base, True), "raise the budget or lower min_replicas"))
        return result
    cost = stack_cost(basis, True, result)
    ceiling = cost.monthly()
    if ceiling <= b.monthly_usd + EPSILON_USD:
        return result
    if b.policy == "fail":
        out.issues.append(Issue("budget", _over(what, b, ceiling, False), "raise the budget, lower max_replicas, or use policy cap"))
    elif b.policy == "warn":
        out.warnings.append(Issue("budget", _over(what, b, ceiling, False), "raise the budget or lower max_replicas"))
    else:
        for k in sorted(cost.bills, reverse=True):
            rs = result[k]
            best = largest_within(lambda r: cost.monthly_with(k, r), b.monthly_usd, rs.min_replicas, rs.max_replicas)
            best = rs.min_replicas if best is None else best
            if best < rs.max_replicas:
                bill = cost.bills[k]
                prev = rs.cut.from_replicas if rs.cut else rs.max_replicas
                saved = bill.monthly(rs.max_replicas) - bill.monthly(best) + (rs.cut.saved_monthly_usd if rs.cut else 0)
                result[k] = _with_max(rs, best, Cut(prev, best, money(saved), "stack budget"))
                cost.set(k, best)
            if cost.monthly() <= b.monthly_usd + EPSILON_USD:
                break
    return result


def _region_warning(stack: Stack, catalog: PriceCatalog) -> Issue | None:
    """No price rows for the target's region: costs are unknown (and the region may be a typo)."""
    region = pricing_region(stack)
    if region is None or catalog.for_region(*region):
        return None
    known = sorted({r for p, r in catalog.regions() if p == region[0]})
    close = difflib.get_close_matches(region[1], known, n=1, cutoff=0.6)
    fix = f"did you mean {close[0]!r}? Otherwise add rows for it with pricing.file or --prices" if close else (
        "add rows for it with pricing.file or --prices" + (f" (priced: {', '.join(known)})" if known else "")
    )
    return Issue("target.region", f"no prices for {region[0]} {region[1]} in the catalog, so costs are unknown", fix)


def resolve(
    stack: Stack,
    code: dict[str, tuple[tuple[str, str], ...]] | None = None,
    prices: PriceCatalog | None = None,
) -> ResolvedStack:
    """Decide everything compile needs. Pure: same input, same output."""
    code = code or {}
    catalog = prices or PriceCatalog.default()
    base = _common_labels(stack)
    out = _Collector()
    region_warning = _region_warning(stack, catalog)
    if region_warning is not None:
        out.warnings.append(region_warning)
    services: list[ResolvedService] = []
    for i, svc in enumerate(stack.services):
        if isinstance(svc, LLMService):
            rs = _resolve_llm(stack, i, svc, base, catalog, out)
            if rs is not None:
                services.append(rs)
        else:
            services.append(_resolve_model(stack, i, svc, base, code.get(svc.name, ()), catalog))
    if out.issues:
        raise SpecError("<stack>", out.issues)
    provider = providers.get(stack.target.type)
    region = pricing_region(stack)
    fixed_items: tuple[tuple[str, float], ...] = ()
    cpu_instance = None
    if region is not None and stack.target.type in TARGET_CLOUD:
        fixed_items = provider.fixed_costs(catalog.cpu_instance(*region))  # type: ignore[attr-defined]
    if region is not None and stack.target.type != "kind":
        cpu_instance = catalog.cpu_instance(*region)
    fixed = sum(v for _, v in fixed_items)
    needs_kuberay = any(s.mode != "llm-cpu" for s in services)
    shared = (OPERATOR,) if needs_kuberay else ()
    services = apply_budgets(stack, services, _CostBasis(fixed, cpu_instance, shared), out)
    if out.issues:
        raise SpecError("<stack>", out.issues)
    for rs in services:
        if rs.gpu_type and rs.max_replicas > 0 and rs.mode != "llm-cpu":
            out.warnings.append(
                Issue(
                    f"services[{rs.index}]",
                    f"upgrades use upgradeStrategy NewCluster: a rollout starts a second cluster, so up to "
                    f"{2 * rs.max_replicas * rs.gpus_per_replica} {rs.gpu_type} GPUs run until it switches over",
                    "roll out off-peak; budget the overlap",
                )
            )
    return ResolvedStack(
        stack=stack,
        namespace=stack.resolved_namespace,
        target=stack.target.type,
        labels=base,
        services=tuple(services),
        needs_kuberay=needs_kuberay,
        unsupported=tuple(provider.capabilities.unsupported()),
        notes=provider.capabilities.notes + tuple(out.notes),
        priced=region,
        fixed_hourly_usd=fixed,
        fixed_items=fixed_items,
        warnings=tuple(out.warnings),
        cpu_instance=cpu_instance,
        shared_pods=shared,
        cluster_needs=tuple(dict.fromkeys(out.needs)),
    )
