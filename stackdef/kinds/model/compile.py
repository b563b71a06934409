"""The ``model`` kind's manifests: a RayService running the user's Ray Serve app.

Local application code ships as a ConfigMap mounted on ``PYTHONPATH`` in the
head (the Serve controller imports the app there) and the workers; remote code
is Ray's ``working_dir``.
"""

from __future__ import annotations

from typing import Any

from stackdef.compile.common import env_list, metadata, secret_env
from stackdef.compile.model import Component
from stackdef.compile.network import network_policy
from stackdef.compile.ray import PodParts, ray_policy, rayservice, serve_autoscaling
from stackdef.kinds.model.spec import LocalCode, RemoteCode
from stackdef.resolve.model import ResolvedService, ResolvedStack

APP_CODE_MOUNT = "/home/ray/stackdef-app"


def model_serve_config(rs: ResolvedService) -> dict[str, Any]:
    svc = rs.spec
    runtime_env: dict[str, Any] = {}
    if isinstance(svc.code, RemoteCode):
        runtime_env["working_dir"] = svc.code.working_dir
    if svc.pip:
        runtime_env["pip"] = list(svc.pip)
    if svc.env:
        runtime_env["env_vars"] = dict(sorted(svc.env.items()))
    actor: dict[str, Any] = {"num_cpus": svc.resources.cpu}
    if rs.gpus_per_replica:
        actor["num_gpus"] = rs.gpus_per_replica
        actor["accelerator_type"] = rs.gpu_type
    app: dict[str, Any] = {
        "name": rs.name,
        "import_path": svc.import_path,
        "route_prefix": svc.route_prefix,
    }
    if runtime_env:
        app["runtime_env"] = runtime_env
    if svc.args:
        app["args"] = svc.args
    app["deployments"] = [
        {
            "name": svc.deployment,
            "max_ongoing_requests": svc.max_ongoing_requests,
            "autoscaling_config": serve_autoscaling(rs),
            "ray_actor_options": actor,
        }
    ]
    return {"applications": [app]}


def code_key(path: str) -> str:
    """ConfigMap keys cannot hold '/', so nested files are flattened; ``items`` maps them back."""
    return path.replace("/", "__")


def _pod_parts(rs: ResolvedService) -> PodParts:
    """Head and workers alike: secret env, and the shipped code on PYTHONPATH."""
    svc = rs.spec
    env = [secret_env(var, ref) for var, ref in sorted(svc.secret_env.items())]
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    if isinstance(svc.code, LocalCode):
        env.extend(env_list({"PYTHONPATH": APP_CODE_MOUNT}))
        items = [{"key": code_key(path), "path": path} for path, _ in rs.detail.code_files]
        volumes.append({"name": "app-code", "configMap": {"name": rs.names["code"], "items": items}})
        mounts.append({"name": "app-code", "mountPath": APP_CODE_MOUNT, "readOnly": True})
    return PodParts(volumes, mounts, env)


def code_configmap(rst: ResolvedStack, rs: ResolvedService) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        # Named by content (resolve): the old cluster keeps mounting the previous one until KubeRay
        # switches traffic to the new cluster, so `pulumi up` leaves it in place instead of deleting it.
        "metadata": metadata(rs.names["code"], rst.namespace, rs.labels, {"stackdef.dev/retain-on-delete": "true"}),
        "data": {code_key(path): text for path, text in rs.detail.code_files},
    }


def components(rst: ResolvedStack, rs: ResolvedService) -> Component:
    objs: list[dict[str, Any]] = []
    if rs.detail.code_files:
        objs.append(code_configmap(rst, rs))
    parts = _pod_parts(rs)
    objs.append(rayservice(rst, rs, model_serve_config(rs), head=parts, worker=parts))
    objs.append(network_policy(rst, rs, **ray_policy(rst, rs)))
    return Component(
        rs.name,
        rs.kind,
        tuple(objs),
        depends_on=("namespace", *(op.name for op in rs.operators)),
        endpoint=rs.endpoint,
        ready_timeout_s=rs.ready_timeout_s,
        reads_secrets=True,
    )
