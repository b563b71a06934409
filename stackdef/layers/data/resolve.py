"""The data layer's decisions: names, pods and their bill, volumes, images, who reads the feature server.

Billed in the stack's CPU pool like every CPU pod: Redis and the feature server always run;
the validation, apply and materialization jobs run minutes at a time, so the pool keeps room
for the largest of them (one at a time), not for all of them at once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from stackdef import __version__
from stackdef.layers.data.spec import DataSection, Dataset
from stackdef.naming import k8s_name
from stackdef.resolve.context import ResolveContext
from stackdef.resolve.model import CacheVolume, PodSet, PodSize, ResolvedLayer, Sizing

IMAGE_REPOSITORY = "stackdef-runtime"
VALIDATE_POD = PodSize("500m", "1Gi")
APPLY_POD = PodSize("500m", "1Gi")
MATERIALIZE_POD = PodSize("1", "2Gi")
#: On a laptop (kind): what the same pods get unless the spec sizes them (a small dataset, one user).
LOCAL_JOB_POD = PodSize("250m", "512Mi")
LOCAL_SERVER = PodSize("250m", "512Mi")
LOCAL_REDIS = PodSize("100m", "256Mi")
FEATURE_PORT = 6566  # feast serve's default (feast-feature-server chart, online mode)
REDIS_PORT = 6379
#: Pinned Redis image (Docker Official Image; runs as uid 999 "redis").
REDIS_IMAGE = "redis:7.4.1"
REDIS_UID = 999
#: The stackdef-runtime image runs as this non-root user (see the Dockerfile).
RUNTIME_UID = 10001
DATA_MOUNT = "/data"
REGISTRY_MOUNT = "/feast/registry"
REPO_MOUNT = "/feast/repo"
CHECKS_MOUNT = "/etc/stackdef/data"


@dataclass(frozen=True)
class DataDetail:
    image: str
    #: Object names, by role.
    names: dict[str, str]
    labels: dict[str, str]
    #: Datasets validated on their own schedule.
    scheduled: tuple[str, ...]
    #: Sizes of the job pods and of the long-running ones (laptop sizes on a local target).
    validate_pod: PodSize = VALIDATE_POD
    apply_pod: PodSize = APPLY_POD
    materialize_pod: PodSize = MATERIALIZE_POD
    server_pod: PodSize | None = None
    redis_pod: PodSize | None = None
    #: feature view -> dataset validated first (block), or None.
    gates: dict[str, str | None] = field(default_factory=dict)
    data_volume: CacheVolume | None = None
    #: Where the layer's pods may run (off GPU nodes).
    placement: Any = None
    registry_volume: CacheVolume | None = None
    redis_volume: CacheVolume | None = None
    #: In-cluster URL of the feature server, if any.
    feature_server: str | None = None
    #: service name -> feature services it reads.
    consumers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Hash of the Feast repository: the apply Job's name changes with it.
    repo_hash: str = ""


def runtime_image(section: DataSection) -> str:
    return f"{section.image.registry}/{IMAGE_REPOSITORY}:{section.image.tag or __version__}"


def gate_of(section: DataSection, dataset: Dataset | None, validate_first: bool) -> str | None:
    """The dataset a materialization validates first, when its failure blocks."""
    if dataset is None or not validate_first or dataset.checks is None or dataset.checks.empty:
        return None
    return dataset.name if dataset.on_failure == "block" else None


def resolve_data(ctx: ResolveContext, section: DataSection) -> ResolvedLayer:
    stack = ctx.stack
    ns = stack.resolved_namespace
    labels = {**ctx.labels, "app.kubernetes.io/part-of": "stackdef-data", "stackdef.dev/layer": "data"}
    names: dict[str, str] = {"checks": k8s_name("ConfigMap", "data-checks")}
    datasets = {d.name: d for d in section.datasets}
    scheduled = tuple(d.name for d in section.datasets if d.schedule and d.checks is not None and not d.checks.empty)
    for d in scheduled:
        names[f"validate:{d}"] = k8s_name("CronJob", "validate", d)
    local = ctx.target.local
    validate_pod, apply_pod, materialize_pod = (LOCAL_JOB_POD,) * 3 if local else (VALIDATE_POD, APPLY_POD, MATERIALIZE_POD)
    fixed: list[PodSize] = []
    transient: list[PodSize] = [validate_pod] if scheduled else []
    sizes: dict[str, Any] = {"validate_pod": validate_pod, "apply_pod": apply_pod, "materialize_pod": materialize_pod}
    data_volume = (
        ctx.volume("data.volume", section.volume.size, None, section.volume.storage_class, owner="data", noun="data volume", readers=2)
        if section.volume
        else None
    )
    if data_volume is not None:
        names["data_volume"] = k8s_name("PersistentVolumeClaim", "data")
    detail_kw: dict[str, Any] = {}
    fs = section.feature_store
    if fs is not None:
        names.update(
            repo=k8s_name("ConfigMap", "feast-repo"),
            server=k8s_name("Deployment", "feast-server"),
            server_service=k8s_name("Service", "feast-server"),
            server_policy=k8s_name("NetworkPolicy", "feast-server"),
            registry=k8s_name("PersistentVolumeClaim", "feast-registry"),
        )
        explicit = {"cpu", "memory"} & fs.server.model_fields_set
        server = LOCAL_SERVER if local and not explicit else PodSize(fs.server.cpu, fs.server.memory)
        sizes["server_pod"] = server
        fixed.extend([server] * fs.server.replicas)
        transient.append(apply_pod)
        registry = ctx.volume(
            "data.feature_store.registry", fs.registry.size, None, fs.registry.storage_class, owner="feast", noun="Feast registry", readers=2
        )
        redis_volume = None
        if fs.online_store.type == "redis":
            names.update(
                redis=k8s_name("StatefulSet", "feast-redis"),
                redis_service=k8s_name("Service", "feast-redis"),
                redis_policy=k8s_name("NetworkPolicy", "feast-redis"),
            )
            explicit = {"cpu", "memory"} & fs.online_store.model_fields_set
            redis = LOCAL_REDIS if local and not explicit else PodSize(fs.online_store.cpu, fs.online_store.memory)
            sizes["redis_pod"] = redis
            fixed.append(redis)
            redis_volume = ctx.volume(
                "data.feature_store.online_store", fs.online_store.storage, "ReadWriteOnce", fs.online_store.storage_class,
                owner="feast-redis", noun="Redis volume", readers=1,
            )
        gates: dict[str, str | None] = {}
        for v in fs.feature_views:
            if v.materialize is not None:
                names[f"materialize:{v.name}"] = k8s_name("CronJob", "materialize", v.name)
                gates[v.name] = gate_of(section, datasets.get(v.source.dataset), v.materialize.validate_first)
                transient.append(materialize_pod)
        consumers: dict[str, list[str]] = {}
        for s in fs.feature_services:
            for c in s.consumers:
                consumers.setdefault(c, []).append(s.name)
        detail_kw = dict(
            gates=gates,
            registry_volume=registry,
            redis_volume=redis_volume,
            feature_server=f"http://{names['server_service']}.{ns}.svc.cluster.local:{FEATURE_PORT}",
            consumers={k: tuple(v) for k, v in sorted(consumers.items())},
            repo_hash=hashlib.sha256(fs.model_dump_json().encode() + section.model_dump_json().encode()).hexdigest()[:8],
        )
        names["apply"] = k8s_name("Job", "feast-apply", detail_kw["repo_hash"])
    if transient:
        # One job slot: the largest transient pod.
        fixed.append(max(transient, key=lambda p: p.load))
    pods = PodSet(fixed=tuple(fixed))
    image = runtime_image(section)
    images = (image,)  # Redis and the rest come from public registries
    notes = [f"data: the jobs and the feature server run {image}, built from stackdef's Dockerfile (it must exist in that registry before deploy)"]
    if transient:
        notes.append(f"data: {len(transient)} job(s) are billed as one job slot of the largest ({max(transient, key=lambda p: p.load).cpu} CPU)")
    return ResolvedLayer(
        name="data",
        spec=section,
        pods=pods,
        bill=ctx.bill(Sizing(), pods.cpu_load(), None, (data_volume, detail_kw.get("registry_volume"), detail_kw.get("redis_volume"))),
        images=images,
        notes=tuple(notes),
        detail=DataDetail(
            image=image,
            names=names,
            labels=labels,
            scheduled=scheduled,
            data_volume=data_volume,
            placement=ctx.cpu_placement(),
            **sizes,
            **detail_kw,
        ),
    )
