"""Resolve: pure decisions taken once, before anything is compiled.

Turns a validated :class:`~stackdef.spec.Stack` into a :class:`ResolvedStack`:
how each service runs on the target (``llm-ray``, ``llm-cpu``, ``model-ray``),
every object name, images, replica bounds, worker-group bounds and GPU node
placement. Compile reads only these decisions plus the spec; no I/O, no clock,
no randomness, so the same spec always resolves the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import providers
from stackdef.naming import k8s_name, label_value
from stackdef.quantity import format_cpu, format_mib, parse_bytes
from stackdef.spec.models import LLMService, ModelService, RemoteCode, Stack
from stackdef.versions import RAY_IMAGE, RAY_LLM_IMAGE, VLLM_CPU_IMAGE

Mode = Literal["llm-ray", "llm-cpu", "model-ray"]

#: Memory a Ray worker pod needs on top of its replicas (raylet, object store
#: minimum, Python runtime). Ray reserves 30% of pod memory for the object
#: store by default, so 1 GiB keeps a 2 GiB replica schedulable.
RAY_WORKER_OVERHEAD_BYTES = 1 * 2**30

#: Head pod of every RayService: GCS, dashboard, Serve controller and proxy.
#: For LLM services it also hosts the OpenAI ingress (``num-cpus`` below), so
#: the endpoint stays schedulable while GPU workers are scaled to zero.
HEAD_CPU = "4"
HEAD_MEMORY = "8Gi"
LLM_HEAD_RAY_CPUS = 2


@dataclass(frozen=True)
class Placement:
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: tuple[dict[str, Any], ...] = ()


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
    served_model_name: str | None = None
    #: (relative path, text) of local application code, shipped as a ConfigMap.
    code_files: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()

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
        "service_account": k8s_name("ServiceAccount", svc_name),
    }
    if mode == "llm-cpu":
        names["deployment"] = k8s_name("Deployment", svc_name)
    else:
        names["rayservice"] = k8s_name("RayService", svc_name)
    return names


def _placement(stack: Stack, gpu: str | None) -> Placement:
    if gpu is None:
        return Placement()
    p = providers.get(stack.target.type).gpu_placement(stack.target, gpu)
    return Placement(dict(p.node_selector), tuple(p.tolerations))


def _resolve_llm(stack: Stack, i: int, svc: LLMService, base: dict[str, str]) -> ResolvedService:
    auto = svc.autoscaling
    initial = auto.initial_replicas if auto.initial_replicas is not None else auto.min_replicas
    selector = {"stackdef.dev/stack": label_value(stack.name), "stackdef.dev/service": svc.name}
    labels = {**base, "app.kubernetes.io/name": svc.name, "app.kubernetes.io/component": "llm", **selector}
    if stack.target.type == "kind":
        notes = ["kind CPU profile: plain vLLM CPU Deployment, 1 replica, model " + svc.cpu_profile.source]
        if auto.min_replicas == 0 or auto.max_replicas > 1:
            notes.append(
                f"autoscaling {auto.min_replicas}–{auto.max_replicas} applies on GPU targets; kind runs exactly 1 replica"
            )
        return ResolvedService(
            index=i,
            spec=svc,
            mode="llm-cpu",
            image=VLLM_CPU_IMAGE,
            labels=labels,
            selector=selector,
            names=_names(svc.name, "llm-cpu"),
            min_replicas=1,
            max_replicas=1,
            initial_replicas=1,
            gpu_type=None,
            gpus_per_replica=0,
            workers=None,
            served_model_name=served_model_name(svc),
            notes=tuple(notes),
        )
    gpus = svc.gpus_per_replica
    workers = WorkerGroup(
        name="gpu",
        # One Serve replica per worker pod, each pod holding exactly the
        # replica's GPUs, so Ray can place every replica the autoscaler asks for.
        min_workers=auto.min_replicas,
        max_workers=auto.max_replicas,
        initial_workers=initial,
        cpu=svc.worker.cpu,
        memory=svc.worker.memory,
        gpus=gpus,
        placement=_placement(stack, svc.accelerator.type),
    )
    return ResolvedService(
        index=i,
        spec=svc,
        mode="llm-ray",
        image=RAY_LLM_IMAGE,
        labels=labels,
        selector=selector,
        names=_names(svc.name, "llm-ray"),
        min_replicas=auto.min_replicas,
        max_replicas=auto.max_replicas,
        initial_replicas=initial,
        gpu_type=svc.accelerator.type,
        gpus_per_replica=gpus,
        workers=workers,
        served_model_name=served_model_name(svc),
    )


def _resolve_model(
    stack: Stack, i: int, svc: ModelService, base: dict[str, str], code: tuple[tuple[str, str], ...]
) -> ResolvedService:
    auto = svc.autoscaling
    initial = auto.initial_replicas if auto.initial_replicas is not None else auto.min_replicas
    selector = {"stackdef.dev/stack": label_value(stack.name), "stackdef.dev/service": svc.name}
    labels = {**base, "app.kubernetes.io/name": svc.name, "app.kubernetes.io/component": "model", **selector}
    res = svc.resources
    notes: list[str] = []
    gpu = res.accelerator
    gpus = res.gpus
    if stack.target.type == "kind" and gpus:
        notes.append(f"kind has no GPUs: the {gpus}× {gpu} request is dropped and the replica runs on CPU")
        gpu, gpus = None, 0
    workers = WorkerGroup(
        name="gpu" if gpus else "cpu",
        min_workers=auto.min_replicas,
        max_workers=auto.max_replicas,
        initial_workers=initial,
        cpu=format_cpu(max(1, math.ceil(res.cpu))),
        memory=format_mib(parse_bytes(res.memory) + RAY_WORKER_OVERHEAD_BYTES),
        gpus=gpus,
        placement=_placement(stack, gpu),
    )
    if isinstance(svc.code, RemoteCode):
        notes.append(f"application code is downloaded by Ray from {svc.code.working_dir}")
    return ResolvedService(
        index=i,
        spec=svc,
        mode="model-ray",
        image=svc.image or RAY_IMAGE,
        labels=labels,
        selector=selector,
        names=_names(svc.name, "model-ray"),
        min_replicas=auto.min_replicas,
        max_replicas=auto.max_replicas,
        initial_replicas=initial,
        gpu_type=gpu,
        gpus_per_replica=gpus,
        workers=workers,
        code_files=code,
        notes=tuple(notes),
    )


def resolve(stack: Stack, code: dict[str, tuple[tuple[str, str], ...]] | None = None) -> ResolvedStack:
    """Decide everything compile needs. Pure: same input, same output."""
    code = code or {}
    base = _common_labels(stack)
    services = []
    for i, svc in enumerate(stack.services):
        if isinstance(svc, LLMService):
            services.append(_resolve_llm(stack, i, svc, base))
        else:
            services.append(_resolve_model(stack, i, svc, base, code.get(svc.name, ())))
    provider = providers.get(stack.target.type)
    return ResolvedStack(
        stack=stack,
        namespace=stack.resolved_namespace,
        target=stack.target.type,
        labels=base,
        services=tuple(services),
        needs_kuberay=any(s.mode != "llm-cpu" for s in services),
        unsupported=tuple(provider.capabilities.unsupported()),
        notes=provider.capabilities.notes,
    )
