"""Every shipped blueprint's manifests: valid for Kubernetes 1.37 (strict) and their CRDs,
and carrying the secure defaults on every workload."""

from __future__ import annotations

from typing import Any

import pytest

from stackdef.pipeline import build
from stackdef.versions import RAY_VERSION
from tests.k8s_validate import validate_manifests
from tests.util import BLUEPRINTS, REPO

#: Every shipped spec: the blueprints and each example.
SHIPPED = {**BLUEPRINTS, **{f"example-{p.stem}": str(p) for p in sorted((REPO / "examples").glob("*.yaml"))}}


def objects(name: str) -> list[dict[str, Any]]:
    return build(SHIPPED[name]).compiled.objects()


def pod_specs(obj: dict[str, Any]) -> list[dict[str, Any]]:
    if obj["kind"] in ("Deployment", "StatefulSet", "Job"):
        return [obj["spec"]["template"]["spec"]]
    if obj["kind"] == "CronJob":
        return [obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]]
    if obj["kind"] == "RayService":
        rc = obj["spec"]["rayClusterConfig"]
        return [rc["headGroupSpec"]["template"]["spec"]] + [g["template"]["spec"] for g in rc["workerGroupSpecs"]]
    return []


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_manifests_pass_strict_kubernetes_and_crd_validation(name: str) -> None:
    assert validate_manifests(objects(name)) == []


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_secure_defaults_on_every_workload(name: str) -> None:
    pods = [(o["kind"], p) for o in objects(name) for p in pod_specs(o)]
    if name in BLUEPRINTS:
        assert {k for k, _ in pods} >= {"Deployment", "RayService", "StatefulSet", "Job", "CronJob"}
    for kind, pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod.get("automountServiceAccountToken") is False or kind == "RayService"
        for c in [*pod.get("initContainers", []), *pod["containers"]]:
            image = c["image"]
            assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), image
            assert c["resources"]["requests"] == c["resources"]["limits"]
            assert {"cpu", "memory"} <= set(c["resources"]["limits"])
            if kind not in ("Job", "CronJob"):  # servers; a job's container runs to completion
                assert c["readinessProbe"] and c["livenessProbe"]
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]}
            for env in c.get("env", []):
                # Secrets are referenced, never inlined.
                assert "value" in env or set(env["valueFrom"]) == {"secretKeyRef"}
                if "token" in env["name"].lower():
                    assert "value" not in env


def test_worker_and_vllm_pods_get_no_service_account_token() -> None:
    for name in BLUEPRINTS:
        for o in objects(name):
            if o["kind"] == "Deployment":
                assert o["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
            if o["kind"] == "RayService":
                for g in o["spec"]["rayClusterConfig"]["workerGroupSpecs"]:
                    assert g["template"]["spec"]["automountServiceAccountToken"] is False


def test_ray_images_match_the_validated_ray_version() -> None:
    import ray

    assert ray.__version__ == RAY_VERSION
    for name in BLUEPRINTS:
        for o in objects(name):
            if o["kind"] == "RayService":
                assert o["spec"]["rayClusterConfig"]["rayVersion"] == RAY_VERSION
                for pod in pod_specs(o):
                    assert f":{RAY_VERSION}-" in pod["containers"][0]["image"]


def test_gpu_catalog_names_are_ray_accelerator_types() -> None:
    from ray._private.accelerators.nvidia_gpu import NvidiaGPUAcceleratorManager
    from ray.llm._internal.serve.core.configs.llm_config import LLMConfig
    from ray.util.accelerators import accelerators  # the module holding every constant

    from stackdef.catalog.gpus import GPU_TYPES

    ray_names = {v for k, v in vars(accelerators).items() if k.isupper() and isinstance(v, str)}
    for name, g in GPU_TYPES.items():
        detected = NvidiaGPUAcceleratorManager._gpu_name_to_accelerator_type(g.nvml_name)
        # What Ray puts on a node with this GPU, or (A100-40G/80G) Ray's sized name for that GPU,
        # which stackdef declares on the worker group because Ray does not detect it.
        assert name == detected or (name in ray_names and name.startswith(detected + "-")), (name, detected)
        if g.serve_llm_type is not None:
            kept = LLMConfig(model_loading_config={"model_id": "m"}, accelerator_type=g.serve_llm_type).accelerator_type
            assert kept == name, f"Ray Serve LLM rewrites {name} to {kept}"
    # Why A10 has no Serve LLM type: Ray Serve LLM asks for A10G instead, which an A10 node lacks.
    assert LLMConfig(model_loading_config={"model_id": "m"}, accelerator_type="A10").accelerator_type == "A10G"
    assert NvidiaGPUAcceleratorManager._gpu_name_to_accelerator_type("NVIDIA A10") == "A10"


def test_network_policies_deny_by_default_and_admit_only_needed_ports() -> None:
    objs = objects("reference-eks")
    policies = {o["metadata"]["name"]: o for o in objs if o["kind"] == "NetworkPolicy"}
    assert policies["default-deny-ingress"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    chat = policies["chat"]["spec"]["ingress"]
    assert chat[0] == {"from": [{"podSelector": {}}], "ports": [{"protocol": "TCP", "port": 8000}]}
    operator = chat[2]
    assert operator["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kuberay-system"}}}]
    assert sorted(p["port"] for p in operator["ports"]) == [8000, 8265, 52365]


def test_pvcs_are_marked_protected() -> None:
    for name in BLUEPRINTS:
        pvcs = [o for o in objects(name) if o["kind"] == "PersistentVolumeClaim"]
        assert pvcs and all(p["metadata"]["annotations"]["stackdef.dev/protect"] == "true" for p in pvcs)
