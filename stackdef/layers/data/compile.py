"""The data layer's manifests: plain Kubernetes objects, no operator.

- ``data``: the data volume, the validation job files (pandera schemas) in a ConfigMap, one
  CronJob per scheduled dataset running ``python -m stackdef.runtime.validate``.
- ``feast-online``: Redis (StatefulSet on a protected volume, password from a Secret), its
  Service and a NetworkPolicy admitting only the Feast pods.
- ``feast-registry``: the Feast repository (``feature_store.yaml`` and definitions) in a
  ConfigMap, the registry volume, and a ``feast apply`` Job named after the repository's hash,
  so a changed repository is applied again.
- ``feast-server``: the feature server Deployment and Service, a NetworkPolicy admitting only
  the consumer services' pods, and one materialization CronJob per feature view — validating
  its source first when the source's failures block.

Every container: requests = limits, non-root, read-only root filesystem, no service-account
token; secrets only as references.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from stackdef.compile.common import (
    container_security_context,
    env_list,
    metadata,
    placement_fields,
    pod_security_context,
    resources,
    secret_env,
)
from stackdef.compile.model import Component
from stackdef.layers.data import checks, feast_repo
from stackdef.layers.data.resolve import (
    CHECKS_MOUNT,
    DATA_MOUNT,
    FEATURE_PORT,
    REDIS_IMAGE,
    REDIS_PORT,
    REDIS_UID,
    REGISTRY_MOUNT,
    REPO_MOUNT,
    RUNTIME_UID,
    DataDetail,
)
from stackdef.layers.data.spec import DataSection, Dataset
from stackdef.resolve.model import CacheVolume, PodSize, ResolvedLayer, ResolvedStack
from stackdef.yamlio import dump

PROTECT = {"stackdef.dev/protect": "true"}
JOB_DEADLINE_S = 3600
JOB_TTL_S = 86400


def _labels(d: DataDetail, part: str) -> dict[str, str]:
    return {**d.labels, "app.kubernetes.io/name": part, "stackdef.dev/part": part}


def _selector(d: DataDetail, part: str) -> dict[str, str]:
    return {"stackdef.dev/stack": d.labels["stackdef.dev/stack"], "stackdef.dev/part": part}


def _pvc(name: str, ns: str, labels: dict[str, str], v: CacheVolume) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": [v.access_mode], "resources": {"requests": {"storage": v.size}}}
    if v.storage_class:
        spec["storageClassName"] = v.storage_class
    # Stateful: the deploy edge protects it (`stackdef destroy` keeps it).
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": metadata(name, ns, labels, PROTECT), "spec": spec}


def _container(name: str, image: str, command: list[str], pod: PodSize, *, env: list[dict[str, Any]], mounts: list[dict[str, Any]], env_from: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {
        "name": name,
        "image": image,
        "command": command,
        "env": env_list({"HOME": "/tmp", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}) + env,
        "resources": resources(pod.cpu, pod.memory),
        "securityContext": {**container_security_context(), "readOnlyRootFilesystem": True},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, *mounts],
    }
    if env_from:
        c["envFrom"] = env_from
    return c


def _pod_spec(rst: ResolvedStack, rl: ResolvedLayer, containers: list[dict[str, Any]], volumes: list[dict[str, Any]], *, init: list[dict[str, Any]] | None = None, restart: str | None = "Never", uid: int = RUNTIME_UID) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "securityContext": pod_security_context(uid, uid),
        **placement_fields(rl.detail.placement),
    }
    if restart:
        spec["restartPolicy"] = restart
    if init:
        spec["initContainers"] = init
    spec["containers"] = containers
    spec["volumes"] = [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}, *volumes]
    return spec


def _cronjob(name: str, ns: str, labels: dict[str, str], schedule: str, pod_spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": metadata(name, ns, labels),
        "spec": {
            "schedule": schedule,
            "timeZone": "Etc/UTC",
            # A run still going when the next is due is a problem to see, not to pile up.
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 300,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "metadata": {"labels": dict(sorted(labels.items()))},
                "spec": {
                    "backoffLimit": 0,  # a failed check is an answer, not a flake
                    "activeDeadlineSeconds": JOB_DEADLINE_S,
                    "ttlSecondsAfterFinished": JOB_TTL_S,
                    "template": {"metadata": {"labels": dict(sorted(labels.items()))}, "spec": pod_spec},
                },
            },
        },
    }


# --------------------------------------------------------------------------- validation


def _source_env(ds: Dataset) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
    src = ds.source
    if src.type == "postgres":
        return [secret_env("PGPASSWORD", src.password)], None
    creds = getattr(src, "credentials", None)
    return [], ([{"secretRef": {"name": creds}}] if creds else None)


def _data_mounts(d: DataDetail) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if d.data_volume is None:
        return [], []
    return (
        [{"name": "data", "mountPath": DATA_MOUNT, "readOnly": True}],
        [{"name": "data", "persistentVolumeClaim": {"claimName": d.names["data_volume"], "readOnly": True}}],
    )


def validate_container(d: DataDetail, ds: Dataset, name: str = "validate") -> dict[str, Any]:
    env, env_from = _source_env(ds)
    data_mounts, _ = _data_mounts(d)
    return _container(
        name,
        d.image,
        ["python", "-m", "stackdef.runtime.validate", "--job", f"{CHECKS_MOUNT}/{ds.name}.yaml", "--data-dir", DATA_MOUNT],
        d.validate_pod,
        env=env,
        env_from=env_from,
        mounts=[{"name": "checks", "mountPath": CHECKS_MOUNT, "readOnly": True}, *data_mounts],
    )


def _checks_volume(d: DataDetail) -> dict[str, Any]:
    return {"name": "checks", "configMap": {"name": d.names["checks"]}}


def data_component(rst: ResolvedStack, rl: ResolvedLayer) -> Component:
    section: DataSection = rl.spec
    d: DataDetail = rl.detail
    ns = rst.namespace
    objs: list[dict[str, Any]] = []
    if d.data_volume is not None:
        objs.append(_pvc(d.names["data_volume"], ns, _labels(d, "data"), d.data_volume))
    jobs = {
        f"{ds.name}.yaml": dump(checks.job_document(rst.stack.name, ds, section.pushgateway))
        for ds in section.datasets
        if ds.checks is not None and not ds.checks.empty
    }
    if jobs:
        objs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata(d.names["checks"], ns, _labels(d, "data-checks")), "data": dict(sorted(jobs.items()))})
    datasets = {ds.name: ds for ds in section.datasets}
    _, data_volumes = _data_mounts(d)
    for name in d.scheduled:
        ds = datasets[name]
        labels = _labels(d, "validate")
        spec = _pod_spec(rst, rl, [validate_container(d, ds)], [_checks_volume(d), *data_volumes])
        objs.append(_cronjob(d.names[f"validate:{name}"], ns, {**labels, "stackdef.dev/dataset": name}, ds.schedule, spec))  # type: ignore[arg-type]
    return Component("data", "data", tuple(objs), depends_on=("namespace",), role="layer", reads_secrets=True)


# --------------------------------------------------------------------------- Feast


def _redis_address(rst: ResolvedStack, section: DataSection, d: DataDetail) -> tuple[str, bool]:
    store = section.feature_store.online_store  # type: ignore[union-attr]
    if store.type == "redis":
        return f"{d.names['redis_service']}.{rst.namespace}.svc.cluster.local:{REDIS_PORT}", False
    return store.address, store.ssl


def _feast_env(section: DataSection) -> list[dict[str, Any]]:
    store = section.feature_store.online_store  # type: ignore[union-attr]
    return [secret_env("REDIS_PASSWORD", store.password)] if store.password is not None else []


def _feast_mounts(d: DataDetail, registry_read_only: bool, data: bool = False) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The repo and the registry; the data volume only where Feast reads datasets (materialization)."""
    data_mounts, data_volumes = _data_mounts(d) if data else ([], [])
    mounts = [
        {"name": "repo", "mountPath": REPO_MOUNT, "readOnly": True},
        {"name": "registry", "mountPath": REGISTRY_MOUNT, **({"readOnly": True} if registry_read_only else {})},
        *data_mounts,
    ]
    volumes = [
        {"name": "repo", "configMap": {"name": d.names["repo"]}},
        {"name": "registry", "persistentVolumeClaim": {"claimName": d.names["registry"]}},
        *data_volumes,
    ]
    return mounts, volumes


def _own_labels(rst: ResolvedStack, labels: dict[str, str]) -> dict[str, str]:
    """``labels`` without those the user gave the stack (``labels:``), which may change any day."""
    return dict(sorted((k, v) for k, v in labels.items() if k not in rst.stack.labels))


def _redis(rst: ResolvedStack, rl: ResolvedLayer) -> list[dict[str, Any]]:
    section: DataSection = rl.spec
    d: DataDetail = rl.detail
    store = section.feature_store.online_store  # type: ignore[union-attr]
    ns = rst.namespace
    labels = _labels(d, "feast-redis")
    selector = _selector(d, "feast-redis")
    vol = d.redis_volume
    assert vol is not None
    claim: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": vol.size}}}
    if vol.storage_class:
        claim["storageClassName"] = vol.storage_class
    probe = {
        # REDISCLI_AUTH keeps the password off the command line.
        "exec": {"command": ["sh", "-c", "redis-cli -h 127.0.0.1 ping | grep -q PONG"]},
        "periodSeconds": 10,
        "timeoutSeconds": 3,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    container = {
        "name": "redis",
        "image": REDIS_IMAGE,
        "command": ["sh", "-c", 'exec redis-server --requirepass "$REDIS_PASSWORD" --appendonly yes --dir /data --port 6379'],
        "env": [secret_env("REDIS_PASSWORD", store.password), secret_env("REDISCLI_AUTH", store.password)],
        "ports": [{"name": "redis", "containerPort": REDIS_PORT, "protocol": "TCP"}],
        "resources": resources(d.redis_pod.cpu, d.redis_pod.memory),
        "securityContext": {**container_security_context(), "readOnlyRootFilesystem": True},
        "readinessProbe": {**probe, "initialDelaySeconds": 5},
        "livenessProbe": {**probe, "initialDelaySeconds": 30},
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
    }
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": metadata(d.names["redis"], ns, labels, PROTECT),
        "spec": {
            "serviceName": d.names["redis_service"],
            "replicas": 1,
            "selector": {"matchLabels": selector},
            # Deleting the StatefulSet keeps the online store's volume.
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
            "template": {
                "metadata": {"labels": dict(sorted({**labels, **selector}.items()))},
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": pod_security_context(REDIS_UID, REDIS_UID),
                    **placement_fields(rl.detail.placement),
                    "containers": [container],
                },
            },
            # stackdef's own labels only: volumeClaimTemplates are immutable, so a label added to the
            # stack would make Pulumi replace this protected StatefulSet.
            "volumeClaimTemplates": [{"metadata": {"name": "data", "labels": _own_labels(rst, labels)}, "spec": claim}],
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(d.names["redis_service"], ns, labels),
        "spec": {"type": "ClusterIP", "selector": selector, "ports": [{"name": "redis", "port": REDIS_PORT, "targetPort": REDIS_PORT, "protocol": "TCP"}]},
    }
    feast_pods = {"matchExpressions": [{"key": "stackdef.dev/part", "operator": "In", "values": ["feast-apply", "feast-materialize", "feast-server"]}]}
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(d.names["redis_policy"], ns, labels),
        "spec": {
            "podSelector": {"matchLabels": selector},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": feast_pods}], "ports": [{"protocol": "TCP", "port": REDIS_PORT}]}],
        },
    }
    return [sts, service, policy]


def feast_components(rst: ResolvedStack, rl: ResolvedLayer) -> list[Component]:
    section: DataSection = rl.spec
    d: DataDetail = rl.detail
    fs = section.feature_store
    assert fs is not None
    ns = rst.namespace
    comps: list[Component] = []
    online_dep: tuple[str, ...] = ("namespace",)
    if fs.online_store.type == "redis":
        comps.append(Component("feast-online", "data", tuple(_redis(rst, rl)), depends_on=("namespace",), role="layer", reads_secrets=True))
        online_dep = ("feast-online",)
    address, ssl = _redis_address(rst, section, d)
    datasets = {ds.name: ds for ds in section.datasets}
    files = feast_repo.repo_files(
        fs, datasets, data_dir=DATA_MOUNT, registry_path=f"{REGISTRY_MOUNT}/registry.db", redis_address=address, redis_ssl=ssl,
        password_env="REDIS_PASSWORD" if fs.online_store.password is not None else None,
    )
    repo = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata(d.names["repo"], ns, _labels(d, "feast-repo")), "data": dict(sorted(files.items()))}
    # The feature server reads the repo once, at start: a new repo must roll it (Pulumi replaces
    # the ConfigMap under the same name, which a running Deployment would not notice).
    repo_digest = hashlib.sha256(json.dumps(repo["data"], sort_keys=True).encode()).hexdigest()[:12]
    assert d.registry_volume is not None
    registry = _pvc(d.names["registry"], ns, _labels(d, "feast-registry"), d.registry_volume)
    mounts, volumes = _feast_mounts(d, registry_read_only=False)
    apply_labels = _labels(d, "feast-apply")
    apply = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(d.names["apply"], ns, apply_labels),
        "spec": {
            "backoffLimit": 3,
            "activeDeadlineSeconds": 1800,
            "ttlSecondsAfterFinished": JOB_TTL_S,
            "template": {
                "metadata": {"labels": dict(sorted(apply_labels.items()))},
                "spec": _pod_spec(rst, rl, [_container("feast-apply", d.image, feast_repo.apply_command(REPO_MOUNT), d.apply_pod, env=_feast_env(section), mounts=mounts)], volumes),
            },
        },
    }
    comps.append(Component("feast-registry", "data", (repo, registry, apply), depends_on=online_dep, role="layer", reads_secrets=True))
    comps.append(Component("feast-server", "data", tuple(_server(rst, rl, repo_digest) + _materializations(rst, rl)), depends_on=("feast-registry",), role="layer", reads_secrets=True, endpoint=d.feature_server))
    return comps


def _server(rst: ResolvedStack, rl: ResolvedLayer, repo_digest: str) -> list[dict[str, Any]]:
    section: DataSection = rl.spec
    d: DataDetail = rl.detail
    fs = section.feature_store
    assert fs is not None
    ns = rst.namespace
    labels = _labels(d, "feast-server")
    selector = _selector(d, "feast-server")
    mounts, volumes = _feast_mounts(d, registry_read_only=True)
    tcp = {"tcpSocket": {"port": FEATURE_PORT}, "periodSeconds": 10, "timeoutSeconds": 3, "successThreshold": 1}
    container = _container(
        "feast-server", d.image, feast_repo.serve_command(FEATURE_PORT, REPO_MOUNT), d.server_pod, env=_feast_env(section), mounts=mounts
    )
    container["ports"] = [{"name": "http", "containerPort": FEATURE_PORT, "protocol": "TCP"}]
    # TCP probes, as Feast's own feature-server chart has them.
    container["readinessProbe"] = {**tcp, "initialDelaySeconds": 5, "failureThreshold": 6}
    container["livenessProbe"] = {**tcp, "initialDelaySeconds": 30, "failureThreshold": 6}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(d.names["server"], ns, labels),
        "spec": {
            "replicas": fs.server.replicas,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {
                    "labels": dict(sorted({**labels, **selector}.items())),
                    "annotations": {"stackdef.dev/feast-repo": repo_digest},
                },
                "spec": _pod_spec(rst, rl, [container], volumes, restart=None),
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(d.names["server_service"], ns, labels),
        "spec": {"type": "ClusterIP", "selector": selector, "ports": [{"name": "http", "port": FEATURE_PORT, "targetPort": FEATURE_PORT, "protocol": "TCP"}]},
    }
    consumers = [rs for rs in rst.services if rs.name in d.consumers]
    peers = [{"podSelector": {"matchLabels": dict(sorted(rs.selector.items()))}} for rs in consumers]
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(d.names["server_policy"], ns, labels),
        "spec": {
            "podSelector": {"matchLabels": selector},
            "policyTypes": ["Ingress"],
            # Only the services that read feature services reach the server (none: nobody does).
            "ingress": [{"from": peers, "ports": [{"protocol": "TCP", "port": FEATURE_PORT}]}] if peers else [],
        },
    }
    return [deployment, service, policy]


def _materializations(rst: ResolvedStack, rl: ResolvedLayer) -> list[dict[str, Any]]:
    section: DataSection = rl.spec
    d: DataDetail = rl.detail
    fs = section.feature_store
    assert fs is not None
    datasets = {ds.name: ds for ds in section.datasets}
    out = []
    for v in fs.feature_views:
        if v.materialize is None:
            continue
        mounts, volumes = _feast_mounts(d, registry_read_only=False, data=True)
        gate = d.gates.get(v.name)
        init = None
        if gate is not None:
            # Validation first: a failing check stops the pod before the online store sees the rows.
            init = [validate_container(d, datasets[gate], "validate-first")]
            volumes = [*volumes, _checks_volume(d)]
        # Feast reads the view's source itself (an object store needs the dataset's credentials).
        _, source_env_from = _source_env(datasets[v.source.dataset])
        container = _container(
            "materialize", d.image, feast_repo.materialize_command(v.name, REPO_MOUNT), d.materialize_pod, env=_feast_env(section), mounts=mounts, env_from=source_env_from
        )
        labels = {**_labels(d, "feast-materialize"), "stackdef.dev/feature-view": v.name}
        out.append(_cronjob(d.names[f"materialize:{v.name}"], rst.namespace, labels, v.materialize.schedule, _pod_spec(rst, rl, [container], volumes, init=init)))
    return out


def components(rst: ResolvedStack, rl: ResolvedLayer) -> list[Component]:
    out = [data_component(rst, rl)]
    if rl.spec.feature_store is not None:
        out.extend(feast_components(rst, rl))
    return out
