"""Can Ray's autoscaler scale each compiled GPU service up from zero? (KubeRay issue #863)

Ray Serve asks for ``accelerator_type:<GPU>`` (0.001 of it) for every replica that
names an accelerator type, but the GPU worker group of the compiled RayService
declares no such Ray resource. A running GPU node gets it from the raylet's
autodetection, a node that does not exist yet does not: Ray's autoscaler
finds no node type for the replica and the first request hangs.

Everything here is asked of Ray 2.56's own code through ``tests/ray_autoscaler.py``
(its docstring lists the functions): the RayCluster -> node-type conversion, the
replica's resource bundles, and the v1 and v2 autoscaler schedulers.

The tests named ``test_*scales_up_from_zero*`` FAIL on the current compiler, on
purpose: they pass once the GPU worker group declares the accelerator resource.
Each one first checks that the replica *does* fit the GPU group once the
``accelerator_type:*`` resource is taken out of its demand, so it can only fail for
that reason. ``test_positive_control_*`` proves the helper says yes when the group
declares the resource.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import pytest

from stackdef.catalog.gpus import GPU_NAMES, GPU_TYPES
from stackdef.compile import compile_stack
from stackdef.errors import SpecError
from stackdef.loader import validate_stack
from stackdef.pipeline import build
from stackdef.resolve import resolve
from tests import ray_autoscaler as ras
from tests.util import BLUEPRINTS, spec

AUTOSCALERS = ras.AUTOSCALERS


# --------------------------------------------------------------------------- inputs


@functools.cache
def reference_eks() -> dict[str, dict[str, Any]]:
    objs = build(BLUEPRINTS["reference-eks"]).compiled.objects()
    return {o["metadata"]["name"]: o for o in objs if o["kind"] == "RayService"}


def one_demand(rayservice: dict[str, Any], deployment_prefix: str) -> ras.ReplicaDemand:
    found = [d for d in ras.replica_demands(rayservice) if d.deployment.startswith(deployment_prefix)]
    assert len(found) == 1, [str(d) for d in ras.replica_demands(rayservice)]
    return found[0]


TARGETS: dict[str, dict[str, Any]] = {
    "eks": {"type": "eks", "region": "us-east-1"},
    "gke": {"type": "gke", "region": "us-central1"},
    "aks": {"type": "aks", "region": "eastus"},
    "existing": {"type": "existing"},
}


def _llm_service(gpu: str) -> dict[str, Any]:
    return {
        "type": "llm",
        "name": "chat",
        "source": "Qwen/Qwen2.5-0.5B-Instruct",
        "engine": {"max_model_len": 4096},
        "accelerator": {"type": gpu},
        "autoscaling": {"min_replicas": 0, "max_replicas": 2},
    }


def _gpu_model_service(gpu: str) -> dict[str, Any]:
    return {
        "type": "model",
        "name": "scorer",
        "import_path": "scorer:app",
        "deployment": "Scorer",
        "resources": {"gpus": 1, "accelerator": gpu},
        "autoscaling": {"min_replicas": 0, "max_replicas": 2},
    }


SERVICES = {"llm": _llm_service, "model": _gpu_model_service}
#: Deployment whose replica needs the GPU, per service kind.
GPU_DEPLOYMENT = {"llm": "LLMServer:", "model": "Scorer"}


@functools.cache
def compiled_rayservice(kind: str, gpu: str, target: str) -> dict[str, Any]:
    """The RayService stackdef compiles for one service; raises SpecError if stackdef rejects the spec."""
    d = spec(target=TARGETS[target], secrets=[], services=[SERVICES[kind](gpu)])
    objs = compile_stack(resolve(validate_stack(d, "s.yaml"))).objects()
    (rs,) = [o for o in objs if o["kind"] == "RayService"]
    return rs


def compilable_combos() -> list[tuple[str, str, str]]:
    """Every (kind, GPU, target) that stackdef compiles; combos it rejects as a spec error are left out."""
    combos = []
    for kind in SERVICES:
        for gpu in GPU_NAMES:
            for target in TARGETS:
                try:
                    compiled_rayservice(kind, gpu, target)
                except SpecError:
                    continue
                combos.append((kind, gpu, target))
    return combos


COMBOS = compilable_combos()
COMBO_PARAMS = [
    pytest.param(kind, gpu, target, autoscaler, id=f"{kind}-{gpu}-{target}-{autoscaler}")
    for kind, gpu, target in COMBOS
    for autoscaler in AUTOSCALERS
]


def _asked_type(kind: str, gpu: str) -> set[str]:
    """The accelerator type a replica asks Ray for: Ray Serve LLM is not told an A10 (it would ask for A10G)."""
    if kind == "llm":
        t = GPU_TYPES[gpu].serve_llm_type
        return {t} if t else set()
    return {gpu}


def _assert_gpu_group_hosts(
    rayservice: dict[str, Any], demand: ras.ReplicaDemand, gpu: str, autoscaler: str, kind: str = "llm"
) -> None:
    groups = ras.gpu_worker_groups(rayservice)
    assert len(groups) == 1, f"expected one GPU worker group, Ray derives {ras.node_types(rayservice)}"
    assert demand.accelerator_types == _asked_type(kind, gpu), f"Ray should request accelerator_type:{gpu}: {demand}"
    # Precondition: everything but the accelerator resource fits the GPU group, so a
    # failure below can only come from 'accelerator_type:<gpu>'.
    stripped = ras.schedule(rayservice, demand.without_accelerator_type(), autoscaler=autoscaler)
    assert stripped.groups == groups, "precondition failed: " + stripped.explain()

    placement = ras.schedule(rayservice, demand, autoscaler=autoscaler)
    assert placement.groups == groups, (
        f"KubeRay #863: a replica of {demand.app} can never scale up from zero. {placement.explain()}. "
        f"Worker group {groups[0]!r} must declare the Ray resource 'accelerator_type:{gpu}' "
        f"(e.g. rayStartParams.resources = {ras.rayStartParams_resources({f'accelerator_type:{gpu}': 1})!r})."
    )


# --------------------------------------------------------------------------- the helper, against Ray


#: ``LLMServer.get_deployment_options(LLMConfig(**case))`` as printed by the *real*
#: Ray 2.56.0 code with vllm 0.22.0 importable (placement_group_bundles,
#: placement_group_strategy, ray_actor_options minus runtime_env). Each case is the
#: llm_config below plus model_loading_config and an autoscaling_config.
REAL_LLM_DEPLOYMENT_OPTIONS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "tp1": (
        {"accelerator_type": "L4", "engine_kwargs": {"tensor_parallel_size": 1, "pipeline_parallel_size": 1}},
        {"b": [{"CPU": 1, "GPU": 1, "accelerator_type:L4": 0.001}], "s": "PACK", "rao": {}},
    ),
    "tp2": (
        {"accelerator_type": "L4", "engine_kwargs": {"tensor_parallel_size": 2, "pipeline_parallel_size": 1}},
        {
            "b": [{"CPU": 1, "GPU": 1, "accelerator_type:L4": 0.001}, {"GPU": 1, "accelerator_type:L4": 0.001}],
            "s": "PACK",
            "rao": {},
        },
    ),
    "tp2pp2": (
        {"accelerator_type": "H100", "engine_kwargs": {"tensor_parallel_size": 2, "pipeline_parallel_size": 2}},
        {
            "b": [{"CPU": 1, "GPU": 1, "accelerator_type:H100": 0.001}] + [{"GPU": 1, "accelerator_type:H100": 0.001}] * 3,
            "s": "PACK",
            "rao": {},
        },
    ),
    "noaccel": (
        {"engine_kwargs": {"tensor_parallel_size": 2}},
        {"b": [{"CPU": 1, "GPU": 1}, {"GPU": 1}], "s": "PACK", "rao": {}},
    ),
    "a10g": (
        {"accelerator_type": "A10G", "engine_kwargs": {}},
        {"b": [{"CPU": 1, "GPU": 1, "accelerator_type:A10G": 0.001}], "s": "PACK", "rao": {}},
    ),
    "actoropts": (
        {
            "accelerator_type": "L4",
            "engine_kwargs": {"tensor_parallel_size": 2},
            "deployment_config": {"ray_actor_options": {"num_cpus": 2, "memory": 1000, "resources": {"foo": 1}}},
        },
        {
            "b": [
                {"CPU": 2, "GPU": 1, "accelerator_type:L4": 0.001, "foo": 1, "memory": 1000},
                {"GPU": 1, "accelerator_type:L4": 0.001},
            ],
            "s": "PACK",
            "rao": {"memory": 1000, "num_cpus": 2, "resources": {"foo": 1}},
        },
    ),
    "pgc": (
        {
            "accelerator_type": "L4",
            "engine_kwargs": {"tensor_parallel_size": 2},
            "placement_group_config": {"bundle_per_worker": {"GPU": 1, "CPU": 2}, "strategy": "STRICT_PACK"},
        },
        {
            "b": [{"CPU": 3.0, "GPU": 1.0, "accelerator_type:L4": 0.001}, {"CPU": 2.0, "GPU": 1.0, "accelerator_type:L4": 0.001}],
            "s": "STRICT_PACK",
            "rao": {},
        },
    ),
    "pgc_bundles": (
        {"accelerator_type": "L4", "placement_group_config": {"bundles": [{"GPU": 1, "CPU": 4}, {"GPU": 1}]}},
        {
            "b": [{"CPU": 5.0, "GPU": 1.0, "accelerator_type:L4": 0.001}, {"GPU": 1.0, "accelerator_type:L4": 0.001}],
            "s": "PACK",
            "rao": {},
        },
    ),
    "cpu": (
        {"placement_group_config": {"bundles": [{"CPU": 4}]}},
        {"b": [{"CPU": 5.0, "GPU": 0}], "s": "PACK", "rao": {}},
    ),
}


@pytest.mark.parametrize("case", sorted(REAL_LLM_DEPLOYMENT_OPTIONS))
def test_llm_bundles_equal_what_real_ray_serve_llm_computes(case: str) -> None:
    llm_config, expected = REAL_LLM_DEPLOYMENT_OPTIONS[case]
    cfg = {
        "model_loading_config": {"model_id": "q", "model_source": "Qwen/Qwen2.5-7B-Instruct"},
        "deployment_config": {"autoscaling_config": {"min_replicas": 0, "max_replicas": 2}},
        **copy.deepcopy(llm_config),
    }
    opts = ras.llm_deployment_options(cfg)
    got = {
        "b": opts.get("placement_group_bundles"),
        "s": opts.get("placement_group_strategy"),
        "rao": {k: v for k, v in opts.get("ray_actor_options", {}).items() if k != "runtime_env"},
    }
    assert got == expected


def test_reference_chat_replica_demand_is_one_pack_bundle_with_the_accelerator() -> None:
    chat = reference_eks()["chat"]
    demands = {d.deployment: d for d in ras.replica_demands(chat)}
    assert set(demands) == {"LLMServer:qwen2.5-7b-instruct", "OpenAiIngress"}
    server = demands["LLMServer:qwen2.5-7b-instruct"]
    assert server.strategy == "PACK"
    assert server.bundles == ({"CPU": 1, "GPU": 1, "accelerator_type:L4": 0.001},)
    # The ingress is a plain actor with Serve's default num_cpus=1.
    assert demands["OpenAiIngress"].strategy is None
    assert demands["OpenAiIngress"].bundles == ({"CPU": 1},)


def test_model_service_replica_resources_come_from_ray_actor_options() -> None:
    rs = compiled_rayservice("model", "L4", "eks")
    demand = one_demand(rs, "Scorer")
    assert demand.strategy is None
    assert demand.bundles == ({"CPU": 1.0, "GPU": 1, "accelerator_type:L4": 0.001},)
    sentiment = one_demand(reference_eks()["sentiment"], "Sentiment")
    assert sentiment.bundles == ({"CPU": 1.0},) and sentiment.accelerator_types == set()


def test_node_types_are_what_ray_derives_from_the_raycluster() -> None:
    nts = ras.node_types(reference_eks()["chat"])
    assert set(nts) == {"headgroup", "gpu"}
    std = ("CPU", "GPU", "memory")
    assert {k: nts["headgroup"]["resources"][k] for k in std} == {"CPU": 2, "GPU": 0, "memory": 8 * 1024**3}
    assert {k: nts["gpu"]["resources"][k] for k in std} == {"CPU": 3, "GPU": 1, "memory": 13 * 1024**3}
    assert (nts["gpu"]["min_workers"], nts["gpu"]["max_workers"]) == (0, 4)


@pytest.mark.parametrize("autoscaler", AUTOSCALERS)
def test_reference_sentiment_lands_on_the_cpu_group(autoscaler: str) -> None:
    rs = reference_eks()["sentiment"]
    placement = ras.schedule(rs, one_demand(rs, "Sentiment"), autoscaler=autoscaler)
    assert placement.groups == ["cpu"], placement.explain()
    assert placement.to_launch == {"cpu": 1}


@pytest.mark.parametrize("autoscaler", AUTOSCALERS)
def test_reference_chat_ingress_fits_on_the_head(autoscaler: str) -> None:
    rs = reference_eks()["chat"]
    placement = ras.schedule(rs, one_demand(rs, "OpenAiIngress"), autoscaler=autoscaler)
    assert placement.groups == [ras.HEAD_GROUP], placement.explain()


@pytest.mark.parametrize("autoscaler", AUTOSCALERS)
def test_negative_control_a_demand_no_group_can_hold_is_none(autoscaler: str) -> None:
    rs = ras.with_group_custom_resources(reference_eks()["chat"], "gpu", {"accelerator_type:L4": 1})
    too_big = ras.ReplicaDemand("chat", "x", ({"CPU": 1, "GPU": 2, "accelerator_type:L4": 0.001},), "PACK")
    assert ras.worker_groups_for(rs, too_big, autoscaler=autoscaler) is None
    wrong_gpu = ras.ReplicaDemand("chat", "x", ({"GPU": 1, "accelerator_type:H100": 0.001},), None)
    assert ras.worker_groups_for(rs, wrong_gpu, autoscaler=autoscaler) is None


@pytest.mark.parametrize("autoscaler", AUTOSCALERS)
def test_tp2_placement_group_packs_onto_one_two_gpu_node_or_spreads_over_two(autoscaler: str) -> None:
    rs = ras.with_group_custom_resources(reference_eks()["chat"], "gpu", {"accelerator_type:L4": 1})
    bundles = ({"CPU": 1, "GPU": 1, "accelerator_type:L4": 0.001}, {"GPU": 1, "accelerator_type:L4": 0.001})
    pack = ras.schedule(rs, ras.ReplicaDemand("chat", "tp2", bundles, "PACK"), autoscaler=autoscaler)
    assert pack.to_launch == {"gpu": 2} and pack.groups == ["gpu"], pack.explain()
    # STRICT_PACK needs both GPUs on one node: a 1-GPU group cannot hold it.
    strict = ras.schedule(rs, ras.ReplicaDemand("chat", "tp2", bundles, "STRICT_PACK"), autoscaler=autoscaler)
    assert strict.groups is None, strict.explain()


# --------------------------------------------------------------------------- rayStartParams.resources format


@pytest.mark.parametrize(
    "value, parsed",
    [
        ('"{\\"accelerator_type:L4\\": 1}"', {"accelerator_type:L4": 1}),  # KubeRay docs' form
        ("'{\"accelerator_type:L4\": 1}'", {"accelerator_type:L4": 1}),  # the form KubeRay writes into `ray start`
        ('"{\\"accelerator_type:L4\\": 1, \\"foo\\": 2}"', {"accelerator_type:L4": 1, "foo": 2}),
        ('{"accelerator_type:L4": 1}', None),  # no wrapping quotes: Ray strips the braces instead
        ('"{\\"accelerator_type:L4\\": 1.0}"', None),  # values must be ints
    ],
)
def test_how_ray_parses_raystartparams_resources(value: str, parsed: dict[str, int] | None) -> None:
    rs = ras.without_group_resources_map(reference_eks()["chat"])  # else Ray ignores rayStartParams.resources
    rs["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["rayStartParams"]["resources"] = value
    if parsed is None:
        with pytest.raises((ValueError, AssertionError)):
            ras.node_types(rs)
        return
    resources = ras.node_types(rs)["gpu"]["resources"]
    assert {k: v for k, v in resources.items() if k not in ("CPU", "GPU", "memory")} == parsed


def test_rayStartParams_resources_helper_writes_the_docs_form() -> None:  # noqa: N802
    assert ras.rayStartParams_resources({"accelerator_type:L4": 1}) == '"{\\"accelerator_type:L4\\": 1}"'


def test_group_level_resources_field_is_read_and_wins_over_raystartparams() -> None:
    rs = ras.with_group_custom_resources(reference_eks()["chat"], "gpu", {"accelerator_type:L4": 1}, where="resources")
    group = rs["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]
    assert ras.node_types(rs)["gpu"]["resources"]["accelerator_type:L4"] == 1
    group["rayStartParams"]["resources"] = ras.rayStartParams_resources({"ignored": 5})
    resources = ras.node_types(rs)["gpu"]["resources"]
    assert resources["accelerator_type:L4"] == 1 and "ignored" not in resources
    # CPU/GPU/memory still come from the container limits when the map omits them.
    assert (resources["CPU"], resources["GPU"]) == (3, 1)
    group["resources"]["GPU"] = "2"
    assert ras.node_types(rs)["gpu"]["resources"]["GPU"] == 2


# --------------------------------------------------------------------------- positive control


@pytest.mark.parametrize("where", ["rayStartParams", "resources"])
@pytest.mark.parametrize("autoscaler", AUTOSCALERS)
def test_positive_control_reference_chat_with_accelerator_resource(autoscaler: str, where: str) -> None:
    base = ras.without_group_resources_map(reference_eks()["chat"]) if where == "rayStartParams" else reference_eks()["chat"]
    rs = ras.with_group_custom_resources(base, "gpu", {"accelerator_type:L4": 1}, where=where)
    placement = ras.schedule(rs, one_demand(rs, "LLMServer:"), autoscaler=autoscaler)
    assert placement.groups == ["gpu"], placement.explain()
    assert placement.to_launch == {"gpu": 1}


@pytest.mark.parametrize("kind, gpu, target, autoscaler", COMBO_PARAMS)
def test_positive_control_matrix_with_accelerator_resource(kind: str, gpu: str, target: str, autoscaler: str) -> None:
    rs = compiled_rayservice(kind, gpu, target)
    (group,) = ras.gpu_worker_groups(rs)
    fixed = ras.with_group_custom_resources(rs, group, {f"accelerator_type:{gpu}": 1})
    _assert_gpu_group_hosts(fixed, one_demand(fixed, GPU_DEPLOYMENT[kind]), gpu, autoscaler, kind)


# --------------------------------------------------------------------------- the defect (fails until fixed)


@pytest.mark.parametrize("kind", sorted(SERVICES))
@pytest.mark.parametrize("gpu", GPU_NAMES)
def test_every_gpu_type_has_compilable_combos(kind: str, gpu: str) -> None:
    targets = [t for k, g, t in COMBOS if (k, g) == (kind, gpu)]
    assert targets, f"stackdef compiles a {kind} service on {gpu} for none of {sorted(TARGETS)}"


@pytest.mark.parametrize("autoscaler", AUTOSCALERS)
def test_reference_eks_chat_scales_up_from_zero(autoscaler: str) -> None:
    rs = reference_eks()["chat"]
    _assert_gpu_group_hosts(rs, one_demand(rs, "LLMServer:"), "L4", autoscaler)


@pytest.mark.parametrize("kind, gpu, target, autoscaler", COMBO_PARAMS)
def test_gpu_service_scales_up_from_zero(kind: str, gpu: str, target: str, autoscaler: str) -> None:
    rs = compiled_rayservice(kind, gpu, target)
    _assert_gpu_group_hosts(rs, one_demand(rs, GPU_DEPLOYMENT[kind]), gpu, autoscaler, kind)
