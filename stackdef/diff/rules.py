"""Update in place or replace: which field changes recreate a resource, as data.

Two sources decide it. Kubernetes rejects updates to immutable fields, and the
Pulumi Kubernetes provider answers such a change with a replacement (delete and
create, or create-before-delete); those fields are listed per kind in
:data:`IMMUTABLE`. KubeRay decides for RayServices: a change to the cluster
config starts a second RayCluster (upgradeStrategy NewCluster) and switches
traffic once it is ready, while Serve-config-only changes are applied to the
running cluster in place (:func:`rayservice_change`). Sources in
``ARCHITECTURE.md`` (diff section) and the tests.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from stackdef.diff.fields import FieldChange

#: (API group, kind) → fields the Pulumi Kubernetes provider (v4.32, ``forceNew`` in
#: provider/pkg/provider/diff.go) replaces the object for, with why. A change anywhere under
#: the path counts, adding or removing it too. ConfigMap and Secret data are on the list because
#: stackdef's provider keeps ``enableConfigMapMutable``/``enableSecretMutable`` off (the default).
#: With the name unchanged, Pulumi deletes the old object before it creates the new one.
IMMUTABLE: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("apps", "Deployment"): (("spec.selector", "a Deployment's selector is immutable"),),
    ("apps", "DaemonSet"): (("spec.selector", "a DaemonSet's selector is immutable"),),
    ("apps", "StatefulSet"): (
        ("spec.selector", "a StatefulSet's selector is immutable"),
        ("spec.serviceName", "a StatefulSet's serviceName is immutable"),
        ("spec.volumeClaimTemplates", "a StatefulSet's volumeClaimTemplates are immutable"),
        ("spec.podManagementPolicy", "a StatefulSet's podManagementPolicy is immutable"),
        ("spec.revisionHistoryLimit", "Pulumi replaces a StatefulSet whose revisionHistoryLimit changes"),
    ),
    ("batch", "Job"): (
        ("spec.template", "a Job's pod template is immutable"),
        ("spec.selector", "a Job's selector is immutable"),
        ("spec.completions", "Pulumi replaces a Job whose completions change"),
        ("spec.parallelism", "Pulumi replaces a Job whose parallelism changes"),
    ),
    ("", "PersistentVolumeClaim"): (
        ("spec.storageClassName", "a PVC's storage class is immutable"),
        ("spec.accessModes", "a PVC's access modes are immutable"),
        ("spec.volumeName", "a PVC's volumeName is immutable"),
        ("spec.selector", "a PVC's selector is immutable"),
    ),
    ("", "Service"): (("spec.clusterIP", "a Service's clusterIP is immutable"),),
    ("", "Secret"): (
        ("type", "a Secret's type is immutable"),
        ("data", "Pulumi replaces a Secret whose data changes (deleted, then created again under the same name)"),
        ("stringData", "Pulumi replaces a Secret whose data changes (deleted, then created again under the same name)"),
    ),
    ("", "ConfigMap"): (
        ("data", "Pulumi replaces a ConfigMap whose data changes (deleted, then created again under the same name)"),
        ("binaryData", "Pulumi replaces a ConfigMap whose data changes (deleted, then created again under the same name)"),
    ),
    ("storage.k8s.io", "StorageClass"): (
        ("parameters", "a StorageClass's parameters are immutable"),
        ("provisioner", "a StorageClass's provisioner is immutable"),
    ),
    ("rbac.authorization.k8s.io", "RoleBinding"): (("roleRef", "a RoleBinding's roleRef is immutable"),),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): (("roleRef", "a ClusterRoleBinding's roleRef is immutable"),),
}

#: Updates the API server refuses and Pulumi does not turn into a replace: ``pulumi up`` fails.
REJECTED: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("apps", "ReplicaSet"): (("spec.selector", "a ReplicaSet's selector is immutable"),),
    ("batch", "Job"): tuple(
        (f"spec.{f}", f"a Job's {f} is immutable")
        for f in ("completionMode", "podFailurePolicy", "backoffLimitPerIndex", "successPolicy", "managedBy")
    ),
    ("", "PersistentVolumeClaim"): (
        ("spec.volumeMode", "a PVC's volumeMode is immutable"),
        ("spec.dataSource", "a PVC's dataSource is immutable"),
        ("spec.dataSourceRef", "a PVC's dataSourceRef is immutable"),
    ),
    ("", "Service"): (("spec.clusterIPs", "a Service's clusterIPs are immutable"),),
    ("storage.k8s.io", "StorageClass"): (
        ("reclaimPolicy", "a StorageClass's reclaimPolicy is immutable"),
        ("volumeBindingMode", "a StorageClass's volumeBindingMode is immutable"),
    ),
}

#: What KubeRay (v1.7.0, ``GenerateHashWithoutReplicasAndWorkersToDelete`` in utils/util.go)
#: leaves out of the RayCluster hash: changing only these neither starts a new cluster nor
#: updates the running one.
_RAY_UNHASHED = re.compile(
    r"^spec\.rayClusterConfig\.("
    r"suspend|upgradeStrategy(\..*)?"
    r"|headGroupSpec\.template\.spec\.(tolerations|schedulingGates)([.\[].*)?"
    r"|workerGroupSpecs\[[^\]]+\]\.(replicas|minReplicas|maxReplicas|scaleStrategy(\..*)?"
    r"|template\.spec\.(tolerations|schedulingGates)([.\[].*)?)"
    r")$"
)
_RAY_BOUNDS = re.compile(r"^spec\.rayClusterConfig\.workerGroupSpecs\[([^\]]+)\]\.(minReplicas|maxReplicas)$")


@dataclass(frozen=True)
class Verdict:
    op: str  # "update" or "replace"
    #: Why it is a replace (or what KubeRay does with an update).
    reasons: tuple[str, ...] = ()
    #: Why ``pulumi up`` would fail on it, or not do what the spec says.
    problems: tuple[str, ...] = ()


def group_of(api_version: str) -> str:
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def _under(path: str, field: str) -> bool:
    """``path`` is ``field`` or inside it, or holds it (a whole parent added or removed)."""
    if path == field or path.startswith((field + ".", field + "[")):
        return True
    return path == "" or field.startswith((path + ".", path + "["))


def _matching(table: dict[tuple[str, str], tuple[tuple[str, str], ...]], key: tuple[str, str], changes: list[FieldChange]) -> list[str]:
    out: list[str] = []
    for field, why in table.get(key, ()):
        if any(_under(c.path, field) for c in changes) and why not in out:
            out.append(why)
    return out


def classify(
    api_version: str, kind: str, changes: Iterable[FieldChange], before: dict[str, Any] | None = None, after: dict[str, Any] | None = None
) -> Verdict:
    """Update or replace for a resource whose fields changed as ``changes`` say (``before``/``after``: its bodies).

    A Helm chart (Pulumi's ``helm.sh/v4`` Chart) is never replaced as a whole: Pulumi renders it
    again and updates each object it holds.
    """
    changes = list(changes)
    key = (group_of(api_version), kind)
    if key == ("ray.io", "RayService"):
        return rayservice_change(changes, before or {}, after)
    reasons = _matching(IMMUTABLE, key, changes)
    problems = [] if reasons else [f"the API server refuses it: {why}" for why in _matching(REJECTED, key, changes)]
    if key == ("", "PersistentVolumeClaim"):
        shrink = _shrunk_storage(changes)
        if shrink and not reasons:
            problems.append(f"the API server refuses it: {shrink}")
    return Verdict("replace" if reasons else "update", tuple(reasons), tuple(problems))


def _shrunk_storage(changes: list[FieldChange]) -> str | None:
    from stackdef.quantity import parse_bytes

    for c in changes:
        if c.path == "spec.resources.requests.storage" and c.before and c.after:
            try:
                if parse_bytes(str(c.after)) < parse_bytes(str(c.before)):
                    return f"a PVC cannot shrink ({c.before} → {c.after})"
            except ValueError:
                return None
    return None


def _groups(body: dict[str, Any]) -> list[str]:
    return [g.get("groupName", "") for g in body.get("spec", {}).get("rayClusterConfig", {}).get("workerGroupSpecs", [])]


def rayservice_change(changes: list[FieldChange], before: dict[str, Any], after: dict[str, Any] | None = None) -> Verdict:
    """What KubeRay does with a RayService update (Pulumi always updates a custom resource in place).

    - A hashed rayClusterConfig field changed: a new RayCluster (upgradeStrategy NewCluster, the
      default), or, under upgradeStrategy None, nothing at all: the running cluster drifts.
    - Only worker groups appended after the existing ones: added to the running cluster in place.
    - Only unhashed fields (worker replica bounds, tolerations, scheduling gates): the running
      cluster is not touched.
    - serveConfigV2: applied in place to the running cluster through its dashboard.
    The upgrade strategy is the new spec's, as the controller reads it.
    """
    cluster = [c for c in changes if _under(c.path, "spec.rayClusterConfig") and c.path != "spec.rayClusterConfig"]
    cluster += [c for c in changes if c.path in ("", "spec", "spec.rayClusterConfig")]
    hashed = [c for c in cluster if not _RAY_UNHASHED.match(c.path)]
    strategy = (before if after is None else after).get("spec", {}).get("upgradeStrategy", {}).get("type", "NewCluster")
    reasons: list[str] = []
    problems: list[str] = []
    old_groups, new_groups = _groups(before), _groups(after or {})
    if hashed and _only_appended(hashed, old_groups, new_groups):
        reasons.append("KubeRay adds the new worker group(s) to the running RayCluster in place")
    elif hashed:
        shown = ", ".join(f"`{c.path.removeprefix('spec.rayClusterConfig.')}`" for c in hashed[:3])
        more = f" and {len(hashed) - 3} more" if len(hashed) > 3 else ""
        if strategy == "None":
            problems.append(
                f"upgradeStrategy None: KubeRay leaves the running RayCluster as it is, so it drifts from the spec "
                f"(rayClusterConfig changed: {shown}{more})"
            )
        else:
            return Verdict(
                "replace",
                (f"KubeRay starts a new RayCluster and moves traffic once it is ready (rayClusterConfig changed: {shown}{more})",),
            )
    if not hashed:
        for c in cluster:
            m = _RAY_BOUNDS.match(c.path)
            if m:
                problems.append(
                    f"worker group {m.group(1)}: KubeRay leaves {m.group(2)} out of its cluster hash and does not update the "
                    f"running RayCluster, which keeps {m.group(2)} {c.before} (not {c.after}) until a change starts a new cluster"
                )
            elif re.search(r"\.template\.spec\.(tolerations|schedulingGates)", c.path):
                problems.append(
                    f"`{c.path.removeprefix('spec.rayClusterConfig.')}`: KubeRay leaves tolerations and scheduling gates out of "
                    "its cluster hash, so the running RayCluster's pods keep the old ones until a change starts a new cluster"
                )
    if any(_under(c.path, "spec.serveConfigV2") for c in changes):
        reasons.append("KubeRay applies the new Serve config to the running cluster in place")
    return Verdict("update", tuple(reasons), tuple(dict.fromkeys(problems)))


def _only_appended(hashed: list[FieldChange], old: list[str], new: list[str]) -> bool:
    """Every hashed change is a worker group added after all the existing ones, which keep their order."""
    if not new or new[: len(old)] != old or len(new) == len(old):
        return False
    added = set(new[len(old):])
    for c in hashed:
        m = re.fullmatch(r"spec\.rayClusterConfig\.workerGroupSpecs\[([^\]]+)\]", c.path)
        if m and m.group(1) in added and c.before is None:
            continue
        if c.path == "spec.rayClusterConfig.workerGroupSpecs" and not old:
            continue  # the first worker group of a cluster that had none
        return False
    return True
