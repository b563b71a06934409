"""The ``model`` kind's decisions: a Ray Serve app on CPU or GPU workers, one replica per pod."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, replace

from stackdef.cost import pod_size, replicas_per_node
from stackdef.kinds.model.spec import ModelService, RemoteCode
from stackdef.kinds.ray_common import OPERATORS, RAY_WORKER_OVERHEAD_BYTES, ray_names, ray_pods
from stackdef.naming import k8s_name
from stackdef.quantity import format_cpu, format_mib, parse_bytes
from stackdef.resolve.context import ResolveContext
from stackdef.resolve.model import PodSize, ResolvedService, Sizing, WorkerGroup
from stackdef.sizing import cheapest_instance
from stackdef.versions import RAY_IMAGE

#: Model-service heads run ``num-cpus: 0`` (replicas live on workers, which
#: autoscale), so they need only Ray's system processes (GCS, dashboard, Serve
#: controller, proxy: a local Ray 2.56 with one replica peaks at ~1.1 GB).
MODEL_HEAD = PodSize("2", "4Gi")
#: On a cluster on the user's machine (kind) the head is sized down to that.
MODEL_HEAD_LOCAL = PodSize("1", "2Gi")


@dataclass(frozen=True)
class ModelDetail:
    #: (relative path, text) of local application code, shipped as a ConfigMap.
    code_files: tuple[tuple[str, str], ...] = ()


def resolve_model(ctx: ResolveContext, i: int, svc: ModelService) -> ResolvedService:
    auto = svc.autoscaling
    initial, selector, labels = ctx.identity(svc, "model")
    res = svc.resources
    notes: list[str] = []
    gpu = res.accelerator
    gpus = res.gpus
    if gpus and not ctx.target.supports("gpus"):
        notes.append(f"{ctx.target.name} has no GPUs: the {gpus}× {gpu} request is dropped and the replica runs on CPU")
        gpu, gpus = None, 0
    head = MODEL_HEAD_LOCAL if ctx.target.local else MODEL_HEAD
    worker_cpu = format_cpu(max(1, math.ceil(res.cpu)))
    worker_mem = format_mib(parse_bytes(res.memory) + RAY_WORKER_OVERHEAD_BYTES)
    pod_cpu, pod_mem = pod_size(worker_cpu, worker_mem)
    instance = cheapest_instance(ctx.gpu_instances, gpu, gpus, pod_cpu, pod_mem) if gpu and ctx.pricing else None
    # The same packing rule as LLM replicas: GPUs and the pod's CPU/memory both bound it.
    rpn = replicas_per_node(instance, gpus, pod_cpu, pod_mem) if instance else None
    pods = ray_pods(head, PodSize(worker_cpu, worker_mem), gpus)
    sizing = Sizing(instance=instance, replicas_per_node=rpn)
    sizing = replace(sizing, bill=ctx.bill(sizing, pods.cpu_load(), gpu))
    cpu_placement = ctx.cpu_placement()
    placement, ray_resources = ctx.gpu_placement(gpu, gpus, (pod_cpu, pod_mem)) if gpu else (cpu_placement, {})
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
        shm="8Gi" if gpus else "1Gi",
    )
    if isinstance(svc.code, RemoteCode):
        notes.append(f"application code is downloaded by Ray from {svc.code.working_dir}")
    names = ray_names(svc.name)
    code_files = ctx.code.get(svc.name, ())
    if code_files:
        # Named by content, like Kustomize's generated ConfigMaps: new code is a new ConfigMap that the
        # RayService's pods mount, so KubeRay rolls a new cluster that imports it (a replaced ConfigMap
        # under the same name would reach no running replica).
        digest = hashlib.sha256(json.dumps(sorted(code_files), ensure_ascii=False).encode()).hexdigest()[:8]
        names["code"] = k8s_name("ConfigMap", svc.name, "code", digest)
    return ResolvedService(
        index=i,
        spec=svc,
        kind="model",
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
        pods=pods,
        operators=OPERATORS,
        notes=tuple(notes),
        sizing=sizing,
        head=head,
        cpu_placement=cpu_placement,
        endpoint=ctx.endpoint(names["service"]),
        detail=ModelDetail(code_files=code_files),
    )
