"""Ask Ray 2.56's own autoscaler where one Serve replica of a compiled RayService goes.

Usage::

    from tests import ray_autoscaler as ras

    rs = ...                                     # a compiled RayService dict
    for demand in ras.replica_demands(rs):       # one per Serve deployment / LLM config
        p = ras.schedule(rs, demand, autoscaler="v2")
        p.groups        # ["gpu"] / ["headgroup"] / None when no node type fits
        p.explain()     # why, in one paragraph (for assertion messages)
    ras.worker_groups_for(rs, demand)            # == schedule(...).groups

Everything is pure and offline: no ``ray.init``, no cluster, no network, no vllm.
Every step runs Ray's own code; the few lines that cannot run offline are
reproduced with a citation of the exact Ray function they stand for.

1. RayCluster -> autoscaler node types
   :func:`raycluster_from_rayservice` wraps ``spec.rayClusterConfig`` as the
   RayCluster custom resource KubeRay creates from it, and :func:`autoscaling_config`
   calls ``ray.autoscaler._private.kuberay.autoscaling_config.
   _derive_autoscaling_config_from_ray_cr`` on it: the very function the KubeRay
   autoscaler sidecar (``AutoscalingConfigProducer.__call__``) runs on the CR it
   reads from the API server, for both autoscaler v1 and v2
   (``ray.autoscaler.v2.instance_manager.config.KubeRayConfigReader``). The head
   group is the node type ``"headgroup"`` (``_HEAD_GROUP_NAME``).

2. Serve replica -> resource demand (:func:`replica_demands`)
   * Model services: ``ray.serve.schema.ServeDeploySchema`` validates the
     config; each ``deployments[]`` entry becomes a
     ``ray.serve._private.config.ReplicaConfig.create(...)``, whose
     ``resource_dict`` is ``ray._common.utils.resources_from_ray_options`` of the
     ``ray_actor_options`` (with Serve's default ``num_cpus=1``): that is where
     ``accelerator_type: L4`` becomes ``{"accelerator_type:L4": 0.001}``. A
     deployment with ``placement_group_bundles`` demands that placement group.
   * Ray Serve LLM (``ray.serve.llm:build_openai_app``): each ``llm_configs[]``
     entry is validated by Ray's ``LLMConfig``; the replica's placement group
     comes from ``LLMServer.get_deployment_options`` (llm_server.py). That method
     and ``VLLMEngineConfig`` (engines/vllm/vllm_models.py) live in modules that
     import vllm / httpx, so they cannot be imported here. Instead this module
     compiles the *unmodified source* of these functions straight from the
     installed Ray files (ast; tracebacks point into Ray's files) and executes it:

       - ``LLMServer.get_deployment_options``      (core/server/llm_server.py)
       - ``_merge_replica_actor_and_child_actor_bundles``       (same file)
       - ``VLLMEngineConfig._build_accelerator``, ``.accelerator``,
         ``.tensor_parallel_degree``, ``.pipeline_parallel_degree``,
         ``.num_devices``, ``.placement_strategy``, ``.placement_bundles``
         (engines/vllm/vllm_models.py), on a stand-in object
       - ``GPUAccelerator`` / ``CPUAccelerator`` ``.default_bundles``
         (core/configs/accelerators.py, imported normally)

     Reproduced by hand (see :func:`_engine_config_stand_in`): the fields that
     ``VLLMEngineConfig.from_llm_config`` copies from the LLMConfig. Its split of
     ``engine_kwargs`` into vLLM ``AsyncEngineArgs`` vs ``FrontendArgs`` needs vllm
     and is skipped; only ``tensor_parallel_size`` / ``pipeline_parallel_size``
     (AsyncEngineArgs fields) are read by the bundle code. ``ray.get_runtime_context()``
     (which would start Ray) is replaced by a stub returning ``runtime_env={}``;
     it only feeds ``runtime_env``. The result is checked against values
     printed by the real ``LLMServer.get_deployment_options`` (vllm 0.22.0 +
     ray 2.56.0) in tests/test_autoscaler_placement.py.
     The OpenAI ingress deployment (``OpenAiIngress``; built with no
     ``ray_actor_options`` unless ``args.ingress_deployment_config`` sets them)
     is one more plain-actor demand, unless the head container sets
     ``RAY_SERVE_LLM_ENABLE_DIRECT_STREAMING=1`` (then the LLMServer is the
     ingress; ``ingress/builder.py:build_openai_app``).

3. Demand -> node types to launch (:func:`schedule`)
   * ``autoscaler="v1"``: ``ray.autoscaler._private.resource_demand_scheduler.
     ResourceDemandScheduler.get_nodes_to_launch`` -- the v1 ``StandardAutoscaler``
     entry point. A placement group goes in as a
     ``gcs_pb2.PlacementGroupTableData`` (Ray's own
     ``placement_groups_to_resource_demands`` then handles PACK / SPREAD /
     STRICT_PACK / STRICT_SPREAD); a plain actor as a resource demand.
   * ``autoscaler="v2"``: ``ray.autoscaler.v2.scheduler.ResourceDemandScheduler.
     schedule(SchedulingRequest(...))``, with the request built the way
     ``v2.instance_manager.reconciler.Reconciler._scale_cluster`` does from
     ``v2.instance_manager.config.AutoscalingConfig``. A placement group goes in
     as a ``GangResourceRequest`` built like the GCS does
     (``GcsAutoscalerStateManager::GetPendingGangResourceRequests`` +
     ``GenPlacementConstraintForPlacementGroup`` in src/ray/gcs: PACK/SPREAD no
     constraint, STRICT_PACK affinity, STRICT_SPREAD anti-affinity on label
     ``_PG_<pg id>``).
   KubeRay v1.7 picks v2 when ``autoscalerOptions.version`` is unset, because it
   puts ``RAY_CLOUD_INSTANCE_ID`` / ``RAY_NODE_TYPE_NAME`` on every Ray container
   and Ray 2.56's ``ray start --head`` then sets ``RAY_enable_autoscaler_v2=1``
   (ray/scripts/scripts.py). ``version: v1`` makes KubeRay set it to ``false``.

   Scenario: the cluster at scale zero with only the head pod running, idle.
   Every worker group's ``min_workers`` is set to 0 first (``from_zero=True``) so
   the answer is what *this replica's* demand launches, not a min-size launch.
   Result: :class:`Placement` -- ``to_launch`` (node type -> count),
   ``infeasible`` (bundles nothing can host) and ``groups``: the launched worker
   groups, ``["headgroup"]`` when the demand fits on the running head without
   launching anything, or ``None`` when some bundle cannot be placed.

Side note, from Ray's parser (``_get_custom_resources``): a custom resource on
a group is read from ``rayStartParams.resources`` as a string with one wrapping
quote character on each side, which Ray drops (``s[1:-1]``) before removing every
backslash and ``json.loads``-ing the rest; values must be ints. So
``'"{\\"accelerator_type:L4\\": 1}"'`` (the KubeRay docs' form) and
``'\\'{"accelerator_type:L4": 1}\\''`` work, a bare ``'{"accelerator_type:L4": 1}'``
does not. A group-level ``resources`` map (CRD field since KubeRay v1.5.0, values
are K8s quantities such as ``"1"``), when present, is the *only* source of custom
resources and takes priority for CPU/GPU/TPU/memory as well.
"""

from __future__ import annotations
import __future__ as _future

import ast
import copy
import json
import logging
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import ray
import yaml

# ray.llm logs "Could not import torch/transformers" when imported; expected here.
_quiet = logging.getLogger("ray.llm._internal.common.utils.import_utils")
_level = _quiet.level
_quiet.setLevel(logging.ERROR)
try:
    from ray.llm._internal.common.placement import PlacementGroupConfig
    from ray.llm._internal.serve import constants as llm_constants
    from ray.llm._internal.serve.core.configs import accelerators as llm_accelerators
    from ray.llm._internal.serve.core.configs.llm_config import AcceleratorType, LLMConfig
finally:
    _quiet.setLevel(_level)

from ray.autoscaler._private.kuberay.autoscaling_config import (
    _HEAD_GROUP_NAME,
    _derive_autoscaling_config_from_ray_cr,
)
from ray.autoscaler._private.node_provider_availability_tracker import NodeAvailabilitySummary
from ray.autoscaler._private.resource_demand_scheduler import (
    ResourceDemandScheduler as V1Scheduler,
)
from ray.autoscaler.node_provider import NodeProvider
from ray.autoscaler.tags import NODE_KIND_HEAD, TAG_RAY_NODE_KIND, TAG_RAY_USER_NODE_TYPE
from ray.autoscaler.v2.instance_manager.config import AutoscalingConfig
from ray.autoscaler.v2.scheduler import ResourceDemandScheduler as V2Scheduler
from ray.autoscaler.v2.scheduler import SchedulingRequest
from ray.autoscaler.v2.schema import AutoscalerInstance
from ray.autoscaler.v2.utils import ResourceRequestUtil
from ray.core.generated import autoscaler_pb2
from ray.core.generated.common_pb2 import PlacementStrategy
from ray.core.generated.gcs_pb2 import PlacementGroupTableData
from ray.core.generated.instance_manager_pb2 import Instance, NodeKind
from ray.serve._private.config import ReplicaConfig
from ray.serve.schema import ServeDeploySchema

RAY_DIR = Path(ray.__file__).resolve().parent
LLM_SERVER_PY = RAY_DIR / "llm/_internal/serve/core/server/llm_server.py"
VLLM_MODELS_PY = RAY_DIR / "llm/_internal/serve/engines/vllm/vllm_models.py"

#: Ray's name of the KubeRay head group as an autoscaler node type.
HEAD_GROUP = _HEAD_GROUP_NAME
#: ``ray._common.utils.RESOURCE_CONSTRAINT_PREFIX``
ACCELERATOR_PREFIX = "accelerator_type:"
LLM_BUILDERS = frozenset({"ray.serve.llm:build_openai_app", "ray.serve.llm.build_openai_app"})
DIRECT_STREAMING_ENV = "RAY_SERVE_LLM_ENABLE_DIRECT_STREAMING"
AUTOSCALERS = ("v1", "v2")

_HEAD_ID = "stackdef-head"
_HEAD_IP = "stackdef-head-ip"  # only a dict key for the v1 scheduler; nothing connects to it
_PG_ID_HEX = "00" * 18  # GCS labels STRICT_* gangs with f"_PG_{pg_id.Hex()}"


# --------------------------------------------------------------------------- RayCluster


def raycluster_from_rayservice(rayservice: dict[str, Any]) -> dict[str, Any]:
    """The RayCluster custom resource KubeRay creates from a RayService (its spec is rayClusterConfig)."""
    md = rayservice["metadata"]
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": md["name"], "namespace": md.get("namespace") or "default"},
        "spec": copy.deepcopy(rayservice["spec"]["rayClusterConfig"]),
    }


def _as_raycluster(obj: dict[str, Any]) -> dict[str, Any]:
    if obj.get("kind") == "RayService":
        return raycluster_from_rayservice(obj)
    if obj.get("kind") == "RayCluster":
        return obj
    raise ValueError(f"expected a RayService or RayCluster dict, got kind={obj.get('kind')!r}")


def autoscaling_config(obj: dict[str, Any]) -> dict[str, Any]:
    """Ray's autoscaling config (``available_node_types`` etc.) for a RayService or RayCluster dict."""
    return _derive_autoscaling_config_from_ray_cr(copy.deepcopy(_as_raycluster(obj)))


def node_types(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{node type: {"resources": ..., "min_workers": ..., "max_workers": ...}}`` as Ray derives it."""
    return autoscaling_config(obj)["available_node_types"]


def gpu_worker_groups(obj: dict[str, Any]) -> list[str]:
    """Worker groups whose Ray resources (as Ray derives them) include GPUs."""
    return sorted(n for n, t in node_types(obj).items() if n != HEAD_GROUP and t["resources"].get("GPU", 0) > 0)


# --------------------------------------------------------------------------- Ray source, executed


def _compile_ray_function(path: Path, name: str, env: dict[str, Any], cls: str | None = None) -> Callable[..., Any]:
    """Compile and return Ray's own function ``[cls.]name`` from ``path``, decorators removed.

    The code object keeps ``path`` and the original line numbers. ``env`` is the
    function's globals: every global name the function uses must be in it (a
    missing one is a NameError at call time, never a silent substitute).
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    scope: list[ast.stmt] = tree.body
    if cls is not None:
        found = [n for n in scope if isinstance(n, ast.ClassDef) and n.name == cls]
        if not found:
            raise LookupError(f"class {cls} not found in {path}")
        scope = found[0].body
    funcs = [n for n in scope if isinstance(n, ast.FunctionDef) and n.name == name]
    if not funcs:
        raise LookupError(f"function {cls + '.' if cls else ''}{name} not found in {path}")
    node = funcs[-1]
    node.decorator_list = []
    module = ast.Module(body=[node], type_ignores=[])
    code = compile(module, str(path), "exec", flags=_future.annotations.compiler_flag, dont_inherit=True)
    namespace: dict[str, Any] = dict(env)
    exec(code, namespace)  # noqa: S102 - Ray's own source from the installed package
    return namespace[name]


_ENGINE_PROPERTIES = (
    "accelerator",
    "tensor_parallel_degree",
    "pipeline_parallel_degree",
    "num_devices",
    "placement_strategy",
    "placement_bundles",
)


@lru_cache(maxsize=1)
def _llm_ray_code() -> types.SimpleNamespace:
    env_vllm = {
        "format_ray_accelerator_resource": llm_accelerators.format_ray_accelerator_resource,
        "TPUConfig": llm_accelerators.TPUConfig,
        "CPUConfig": llm_accelerators.CPUConfig,
        "TPUAccelerator": llm_accelerators.TPUAccelerator,
        "CPUAccelerator": llm_accelerators.CPUAccelerator,
        "GPUAccelerator": llm_accelerators.GPUAccelerator,
    }
    members: dict[str, Any] = {
        "_build_accelerator": _compile_ray_function(VLLM_MODELS_PY, "_build_accelerator", env_vllm, cls="VLLMEngineConfig")
    }
    for prop in _ENGINE_PROPERTIES:
        members[prop] = property(_compile_ray_function(VLLM_MODELS_PY, prop, env_vllm, cls="VLLMEngineConfig"))
    engine_cls = type("VLLMEngineConfigFromRaySource", (), members)

    merge = _compile_ray_function(LLM_SERVER_PY, "_merge_replica_actor_and_child_actor_bundles", {"copy": copy})
    offline_ray = types.SimpleNamespace(get_runtime_context=lambda: types.SimpleNamespace(runtime_env={}))
    get_deployment_options = _compile_ray_function(
        LLM_SERVER_PY,
        "get_deployment_options",
        {
            "copy": copy,
            "ray": offline_ray,
            "ENABLE_WORKER_PROCESS_SETUP_HOOK": llm_constants.ENABLE_WORKER_PROCESS_SETUP_HOOK,
            "_merge_replica_actor_and_child_actor_bundles": merge,
        },
        cls="LLMServer",
    )
    return types.SimpleNamespace(engine_cls=engine_cls, merge=merge, get_deployment_options=get_deployment_options)


def _engine_config_stand_in(llm_config: LLMConfig) -> Any:
    """What ``VLLMEngineConfig.from_llm_config(llm_config)`` (engines/vllm/vllm_models.py) passes on.

    Reproduced by hand (its module imports vllm): the fields ``accelerator_type``
    (an ``AcceleratorType`` with ``use_enum_values``), ``accelerator_config``,
    ``placement_group_config`` (its ``validate_placement_group_config``: through
    ``PlacementGroupConfig``, ``model_dump(exclude_unset=True)``) and
    ``engine_kwargs``, then the ``_build_accelerator`` model validator (Ray's source).
    """
    obj = _llm_ray_code().engine_cls()
    obj.accelerator_type = AcceleratorType(llm_config.accelerator_type).value if llm_config.accelerator_type else None
    obj.accelerator_config = llm_config.accelerator_config
    pgc = llm_config.placement_group_config
    obj.placement_group_config = PlacementGroupConfig(**pgc).model_dump(exclude_unset=True) if pgc else None
    obj.engine_kwargs = dict(llm_config.engine_kwargs)
    obj._accelerator = None
    obj._build_accelerator()
    return obj


class _LLMConfigOffline:
    """The real LLMConfig, except that ``get_engine_config()`` returns the vllm-free stand-in."""

    def __init__(self, real: LLMConfig):
        self._real = real
        self._engine = _engine_config_stand_in(real)

    def get_engine_config(self) -> Any:
        return self._engine

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def llm_deployment_options(llm_config: dict[str, Any] | LLMConfig) -> dict[str, Any]:
    """``LLMServer.get_deployment_options(LLMConfig(...))`` run from Ray's source, without vllm."""
    cfg = llm_config if isinstance(llm_config, LLMConfig) else LLMConfig.model_validate(copy.deepcopy(llm_config))
    return _llm_ray_code().get_deployment_options(None, _LLMConfigOffline(cfg))


# --------------------------------------------------------------------------- demands


@dataclass(frozen=True)
class ReplicaDemand:
    """What one Serve replica asks Ray for.

    ``strategy`` None: a plain actor, ``bundles`` is its one resource shape.
    Otherwise the replica's placement group: its bundles and strategy.
    """

    app: str
    deployment: str
    bundles: tuple[dict[str, float], ...]
    strategy: str | None
    origin: str = ""

    @property
    def accelerator_types(self) -> set[str]:
        return {k.removeprefix(ACCELERATOR_PREFIX) for b in self.bundles for k in b if k.startswith(ACCELERATOR_PREFIX)}

    def without_accelerator_type(self) -> ReplicaDemand:
        """The same demand minus every ``accelerator_type:*`` resource (a diagnostic)."""
        stripped = tuple({k: v for k, v in b.items() if not k.startswith(ACCELERATOR_PREFIX)} for b in self.bundles)
        return ReplicaDemand(self.app, self.deployment, stripped, self.strategy, self.origin + " minus accelerator_type")

    def __str__(self) -> str:
        kind = f"placement group {self.strategy}" if self.strategy else "actor"
        return f"{self.app}/{self.deployment} ({kind}) {list(self.bundles)}"


def _no_runtime_env(options: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (options or {}).items() if k != "runtime_env"}


def _direct_streaming(rayservice: dict[str, Any]) -> bool:
    head = rayservice["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    return any(e.get("name") == DIRECT_STREAMING_ENV and e.get("value") == "1" for e in head.get("env", []))


def serve_config(rayservice: dict[str, Any]) -> dict[str, Any]:
    cfg = yaml.safe_load(rayservice["spec"]["serveConfigV2"])
    ServeDeploySchema.model_validate(copy.deepcopy(cfg))
    return cfg


def replica_demands(rayservice: dict[str, Any]) -> list[ReplicaDemand]:
    """One :class:`ReplicaDemand` per deployment of every application in ``serveConfigV2``."""
    out: list[ReplicaDemand] = []
    direct = _direct_streaming(rayservice)
    for app in serve_config(rayservice)["applications"]:
        name = app["name"]
        if app["import_path"] in LLM_BUILDERS:
            if app.get("deployments"):
                raise NotImplementedError(f"{name}: deployments[] overrides on an LLM app are not modelled")
            args = app.get("args") or {}
            for raw in args.get("llm_configs", []):
                cfg = LLMConfig.model_validate(copy.deepcopy(raw))
                opts = llm_deployment_options(cfg)
                if "placement_group_bundles" not in opts:
                    raise NotImplementedError(f"{name}: deferred placement group (TPU topology) is not modelled")
                rc = ReplicaConfig.create(
                    "LLMServer",
                    ray_actor_options=_no_runtime_env(opts.get("ray_actor_options")),
                    placement_group_bundles=opts["placement_group_bundles"],
                    placement_group_strategy=opts["placement_group_strategy"],
                )
                out.append(
                    ReplicaDemand(
                        name,
                        f"LLMServer:{cfg.model_id}",
                        tuple(dict(b) for b in rc.placement_group_bundles),
                        rc.placement_group_strategy,
                        "LLMServer.get_deployment_options (Ray source) + ReplicaConfig",
                    )
                )
            if not direct:
                ingress_opts = (args.get("ingress_deployment_config") or {}).get("ray_actor_options")
                rc = ReplicaConfig.create("OpenAiIngress", ray_actor_options=_no_runtime_env(ingress_opts))
                out.append(ReplicaDemand(name, "OpenAiIngress", (dict(rc.resource_dict),), None, "ReplicaConfig.resource_dict"))
            continue
        for dep in app.get("deployments") or []:
            rc = ReplicaConfig.create(
                app["import_path"],
                ray_actor_options=_no_runtime_env(dep.get("ray_actor_options")),
                placement_group_bundles=dep.get("placement_group_bundles"),
                placement_group_strategy=dep.get("placement_group_strategy"),
            )
            if rc.placement_group_bundles:
                out.append(
                    ReplicaDemand(
                        name,
                        dep["name"],
                        tuple(dict(b) for b in rc.placement_group_bundles),
                        rc.placement_group_strategy or "PACK",
                        "ReplicaConfig.placement_group_bundles",
                    )
                )
            else:
                out.append(ReplicaDemand(name, dep["name"], (dict(rc.resource_dict),), None, "ReplicaConfig.resource_dict"))
    return out


# --------------------------------------------------------------------------- scheduling


@dataclass(frozen=True)
class Placement:
    """Ray's autoscaler decision for one demand on an otherwise idle, scaled-to-zero cluster."""

    autoscaler: str
    demand: ReplicaDemand
    to_launch: dict[str, int]
    infeasible: tuple[dict[str, float], ...]
    node_types: dict[str, dict[str, Any]] = field(repr=False)

    @property
    def groups(self) -> list[str] | None:
        if self.infeasible:
            return None
        return sorted(self.to_launch) or [HEAD_GROUP]

    def explain(self) -> str:
        offered = {n: t["resources"] for n, t in self.node_types.items()}
        if self.infeasible:
            verdict = f"no node type can host {list(self.infeasible)}"
        else:
            verdict = f"launches {self.to_launch or 'nothing (fits on the head)'}"
        return (
            f"Ray autoscaler {self.autoscaler}: {self.demand}: {verdict}; "
            f"node types and the resources Ray derives for them: {offered}"
        )


class _HeadOnlyProvider(NodeProvider):
    """A node provider whose only node is the running head (all the v1 scheduler asks of it)."""

    def __init__(self, head_type: str):
        super().__init__({"type": "kuberay"}, "stackdef")
        self._tags = {TAG_RAY_NODE_KIND: NODE_KIND_HEAD, TAG_RAY_USER_NODE_TYPE: head_type}

    def non_terminated_nodes(self, tag_filters: dict[str, str]) -> list[str]:
        return [_HEAD_ID]

    def node_tags(self, node_id: str) -> dict[str, str]:
        return dict(self._tags)

    def internal_ip(self, node_id: str) -> str:
        return _HEAD_IP


def _schedule_v1(config: dict[str, Any], demand: ReplicaDemand) -> tuple[dict[str, int], list[dict[str, float]]]:
    nts = config["available_node_types"]
    head = config["head_node_type"]
    sched = V1Scheduler(_HeadOnlyProvider(head), nts, config["max_workers"], head, config["upscaling_speed"])
    head_resources = dict(nts[head]["resources"])
    pgs: list[PlacementGroupTableData] = []
    plain: list[dict[str, float]] = []
    if demand.strategy is None:
        plain = [dict(b) for b in demand.bundles]
    else:
        pg = PlacementGroupTableData(
            placement_group_id=bytes.fromhex(_PG_ID_HEX),
            strategy=PlacementStrategy.Value(demand.strategy),
            state=PlacementGroupTableData.PENDING,
        )
        for b in demand.bundles:
            pg.bundles.add().unit_resources.update({k: float(v) for k, v in b.items()})
        pgs = [pg]
    to_launch, unfulfilled = sched.get_nodes_to_launch(
        nodes=[_HEAD_ID],
        launching_nodes={},
        resource_demands=plain,
        unused_resources_by_ip={_HEAD_IP: dict(head_resources)},
        pending_placement_groups=pgs,
        max_resources_by_ip={_HEAD_IP: dict(head_resources)},
        ensure_min_cluster_size=[],
        node_availability_summary=NodeAvailabilitySummary(node_availabilities={}),
    )
    infeasible = [dict(u) for u in unfulfilled]
    if not infeasible:
        # v1 drops an unplaceable STRICT_SPREAD group without reporting it; ask
        # Ray's own feasibility check for every bundle.
        infeasible = [dict(b) for b in demand.bundles if not sched.is_feasible(dict(b))]
    return dict(to_launch), infeasible


def _gang_request(demand: ReplicaDemand) -> autoscaler_pb2.GangResourceRequest:
    """A pending placement group as GCS reports it to autoscaler v2 (see module doc)."""
    label = f"_PG_{_PG_ID_HEX}"
    kinds = ResourceRequestUtil.PlacementConstraintType
    constraint = {
        "STRICT_PACK": [(kinds.AFFINITY, label, "")],
        "STRICT_SPREAD": [(kinds.ANTI_AFFINITY, label, "")],
    }.get(demand.strategy or "")
    reqs = [ResourceRequestUtil.make({k: float(v) for k, v in b.items()}, constraint) for b in demand.bundles]
    gang = autoscaler_pb2.GangResourceRequest(details=f"{_PG_ID_HEX}:{demand.strategy}|PENDING")
    gang.requests.extend(reqs)
    gang.bundle_selectors.add().resource_requests.extend(reqs)
    return gang


def _schedule_v2(config: dict[str, Any], demand: ReplicaDemand) -> tuple[dict[str, int], list[dict[str, float]]]:
    as_config = AutoscalingConfig(config, skip_content_hash=True)
    ntc = as_config.get_node_type_configs()
    head = as_config.get_head_node_type()
    head_resources = {k: float(v) for k, v in ntc[head].resources.items()}
    head_instance = AutoscalerInstance(
        cloud_instance_id=_HEAD_ID,
        im_instance=Instance(
            instance_id=_HEAD_ID,
            instance_type=head,
            status=Instance.RAY_RUNNING,
            node_kind=NodeKind.HEAD,
            cloud_instance_id=_HEAD_ID,
            node_id=_HEAD_ID,
        ),
        ray_node=autoscaler_pb2.NodeState(
            node_id=_HEAD_ID.encode(),
            instance_id=_HEAD_ID,
            ray_node_type_name=head,
            total_resources=head_resources,
            available_resources=head_resources,
            status=autoscaler_pb2.NodeStatus.RUNNING,
        ),
    )
    resource_requests = []
    gangs = []
    if demand.strategy is None:
        for b in demand.bundles:
            resource_requests.append(
                autoscaler_pb2.ResourceRequestByCount(
                    request=ResourceRequestUtil.make({k: float(v) for k, v in b.items()}), count=1
                )
            )
    else:
        gangs.append(_gang_request(demand))
    request = SchedulingRequest(
        node_type_configs=ntc,
        max_num_nodes=as_config.get_max_num_nodes(),
        resource_requests=resource_requests,
        gang_resource_requests=gangs,
        cluster_resource_constraints=[],
        current_instances=[head_instance],
        idle_timeout_s=as_config.get_idle_timeout_s(),
        disable_launch_config_check=as_config.disable_launch_config_check(),
    )
    reply = V2Scheduler().schedule(request)
    to_launch: dict[str, int] = {}
    for launch in reply.to_launch:
        to_launch[launch.instance_type] = to_launch.get(launch.instance_type, 0) + launch.count
    infeasible = ResourceRequestUtil.to_resource_maps(list(reply.infeasible_resource_requests))
    for gang in reply.infeasible_gang_resource_requests:
        infeasible += ResourceRequestUtil.to_resource_maps(list(gang.requests))
    return to_launch, infeasible


def schedule(obj: dict[str, Any], demand: ReplicaDemand, *, autoscaler: str = "v2", from_zero: bool = True) -> Placement:
    """Where Ray's autoscaler puts ``demand`` on the RayService/RayCluster ``obj`` (see module doc)."""
    config = autoscaling_config(obj)
    if from_zero:
        for nt in config["available_node_types"].values():
            nt["min_workers"] = 0
    if autoscaler == "v1":
        to_launch, infeasible = _schedule_v1(copy.deepcopy(config), demand)
    elif autoscaler == "v2":
        to_launch, infeasible = _schedule_v2(copy.deepcopy(config), demand)
    else:
        raise ValueError(f"autoscaler must be one of {AUTOSCALERS}, got {autoscaler!r}")
    return Placement(autoscaler, demand, to_launch, tuple(infeasible), config["available_node_types"])


def worker_groups_for(
    obj: dict[str, Any], demand: ReplicaDemand, *, autoscaler: str = "v2"
) -> list[str] | None:
    """The worker group(s) Ray launches for ``demand``; ``["headgroup"]`` if it fits on the head; None if nothing fits."""
    return schedule(obj, demand, autoscaler=autoscaler).groups


def place_rayservice(rayservice: dict[str, Any], *, autoscaler: str = "v2") -> dict[str, Placement]:
    """``{"app/deployment": Placement}`` for every replica demand of a RayService."""
    return {f"{d.app}/{d.deployment}": schedule(rayservice, d, autoscaler=autoscaler) for d in replica_demands(rayservice)}


# --------------------------------------------------------------------------- fixtures for a fix


def with_group_custom_resources(
    rayservice: dict[str, Any], group: str, resources: dict[str, int], *, where: str = "auto"
) -> dict[str, Any]:
    """A copy of ``rayservice`` whose worker group ``group`` also declares ``resources`` (Ray resources).

    ``where="rayStartParams"``: merged into ``rayStartParams.resources``, written in the
    quoted form Ray's ``_get_custom_resources`` parses, e.g.
    ``'"{\\"accelerator_type:L4\\": 1}"'``. Refused (ValueError) when the group has a
    non-empty group-level ``resources`` map, because Ray then ignores rayStartParams.
    ``where="resources"``: merged into the group-level ``resources`` map (K8s quantity strings).
    ``where="auto"``: the group-level map if the group has one, else rayStartParams.
    """
    rs = copy.deepcopy(rayservice)
    groups = [g for g in rs["spec"]["rayClusterConfig"]["workerGroupSpecs"] if g["groupName"] == group]
    if len(groups) != 1:
        raise LookupError(f"worker group {group!r} not found")
    g = groups[0]
    if where == "auto":
        where = "resources" if g.get("resources") else "rayStartParams"
    if where == "rayStartParams":
        if g.get("resources"):
            raise ValueError(f"group {group!r} has a group-level resources map; Ray ignores rayStartParams.resources")
        params = g.setdefault("rayStartParams", {})
        current = json.loads(params["resources"][1:-1].replace("\\", "")) if "resources" in params else {}
        params["resources"] = rayStartParams_resources({**current, **resources})
    elif where == "resources":
        g["resources"] = {**(g.get("resources") or {}), **{k: str(v) for k, v in resources.items()}}
    else:
        raise ValueError(where)
    json.dumps(rs)  # still a plain JSON-able manifest
    return rs


def without_group_resources_map(rayservice: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``rayservice`` with every worker group's group-level ``resources`` map removed."""
    rs = copy.deepcopy(rayservice)
    for g in rs["spec"]["rayClusterConfig"]["workerGroupSpecs"]:
        g.pop("resources", None)
    return rs


def rayStartParams_resources(resources: dict[str, int]) -> str:  # noqa: N802 - named after the field
    """``{"accelerator_type:L4": 1}`` -> ``"{\\"accelerator_type:L4\\": 1}"`` (with the outer quotes)."""
    return '"' + json.dumps(resources).replace('"', '\\"') + '"'
