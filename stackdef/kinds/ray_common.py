"""Decisions every Ray-based kind shares (resolve side): head and sidecar sizes, names, pods.

The compile side is :mod:`stackdef.compile.ray`.
"""

from __future__ import annotations

from typing import Any

from stackdef.errors import Issue
from stackdef.naming import k8s_name
from stackdef.operators.kuberay import AUTOSCALER, KUBERAY
from stackdef.resolve.model import PodSet, PodSize

#: Memory a Ray worker pod needs on top of its replicas (raylet, object store
#: minimum, Python runtime). Ray reserves 30% of pod memory for the object
#: store by default, so 1 GiB keeps a 2 GiB replica schedulable.
RAY_WORKER_OVERHEAD_BYTES = 1 * 2**30

#: The operator every RayService needs.
OPERATORS = (KUBERAY,)


def ray_names(service: str) -> dict[str, str]:
    """Names of the objects a Ray-based service owns (the serve Service is KubeRay's, under our name)."""
    return {
        "service": k8s_name("Service", service),
        "network_policy": k8s_name("NetworkPolicy", service),
        "model_cache": k8s_name("PersistentVolumeClaim", service, "model-cache"),
        "code": k8s_name("ConfigMap", service, "code"),
        "rayservice": k8s_name("RayService", service),
    }


def ray_pods(head: PodSize, worker: PodSize, gpus: int) -> PodSet:
    """A RayService's containers: the head with its autoscaler sidecar, plus one worker pod per replica."""
    return PodSet(fixed=(head, AUTOSCALER), per_replica=(worker,), per_replica_gpus=gpus)


def upgrade_overlap_warning(rs: Any) -> Issue:
    """A RayService rollout (upgradeStrategy NewCluster) runs two clusters until it switches over."""
    return Issue(
        f"services[{rs.index}]",
        f"upgrades use upgradeStrategy NewCluster: a rollout starts a second cluster, so up to "
        f"{2 * rs.max_replicas * rs.gpus_per_replica} {rs.gpu_type} GPUs run until it switches over",
        "roll out off-peak; budget the overlap",
    )
