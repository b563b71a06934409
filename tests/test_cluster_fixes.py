"""Defects that would break or degrade a real deployment (review against KubeRay 1.7.0,
Ray 2.56.0 and pulumi-kubernetes): storage per target, the serve Service, probes,
GPU families, CPU pods off GPU nodes, laptop-sized kind, CPU pods billed, budgets
with unknown costs.
"""

from __future__ import annotations

from typing import Any

import pytest

from stackdef.compile import compile_stack
from stackdef.errors import SpecError
from stackdef.loader import validate_stack
from stackdef.pipeline import build
from stackdef.resolve import resolve
from tests.util import BLUEPRINTS, spec

TARGETS = {
    "eks": {"type": "eks", "region": "us-east-1"},
    "gke": {"type": "gke", "region": "us-central1"},
    "aks": {"type": "aks", "region": "eastus"},
    "existing": {"type": "existing", "context": "prod"},
    "kind": {"type": "kind"},
}


def compiled(d: dict[str, Any]):
    return compile_stack(resolve(validate_stack(d, "s.yaml")))


def by_kind(objs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] == kind]


def gpu_spec(target: str, **cache: Any) -> dict[str, Any]:
    d = spec(target=TARGETS[target])
    if target == "aks":  # Azure's catalog has no L4: an A100 replica
        d["services"][0]["accelerator"] = {"type": "A100-80G", "gpus_per_replica": 1}
    d["services"][0]["model_cache"] = {"size": "50Gi", **cache}
    return d


# --------------------------------------------------------------------------- #
# 2. The model cache gets a StorageClass and access mode that exist on the target
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    "target,mode,klass,must_provide",
    [
        ("eks", "ReadWriteMany", "efs-sc", "EFS CSI driver"),
        ("gke", "ReadWriteMany", "standard-rwx", "Filestore CSI driver"),
        ("aks", "ReadWriteMany", "azurefile-csi", None),
        ("existing", "ReadWriteMany", None, "supports ReadWriteMany"),
        ("kind", "ReadWriteOnce", None, None),
    ],
)
def test_model_cache_storage_per_target(target: str, mode: str, klass: str | None, must_provide: str | None) -> None:
    c = compiled(gpu_spec(target))
    (pvc,) = by_kind(c.objects(), "PersistentVolumeClaim")
    assert pvc["spec"]["accessModes"] == [mode]
    assert pvc["spec"].get("storageClassName") == klass
    plan = build_plan(c)
    if must_provide:
        assert any(must_provide in n for n in plan["cluster_needs"]), plan["cluster_needs"]
        assert any(w["path"] == "services[0].model_cache" and must_provide in w["problem"] for w in plan["warnings"])
    else:
        assert plan["cluster_needs"] == []


def build_plan(c) -> dict[str, Any]:
    from stackdef.plan import build_plan as bp

    return bp(c, c.resolved.warnings).to_json()


def test_spec_storage_class_and_access_mode_win() -> None:
    c = compiled(gpu_spec("eks", storage_class="fast-rwx"))
    (pvc,) = by_kind(c.objects(), "PersistentVolumeClaim")
    assert pvc["spec"]["storageClassName"] == "fast-rwx"
    assert build_plan(c)["cluster_needs"] == ["StorageClass fast-rwx (ReadWriteMany) for services[0].model_cache"]
    rwo = resolve(validate_stack(gpu_spec("gke", access_mode="ReadWriteOnce")))
    assert rwo.services[0].cache.storage_class == "standard-rwo"
    # ReadWriteOnce with several replicas: the ones on other nodes could not mount it.
    assert any(w.path == "services[0].model_cache.access_mode" for w in rwo.warnings)


def test_the_head_does_not_mount_the_cache_or_read_the_token() -> None:
    objs = build(BLUEPRINTS["reference-eks"]).compiled.objects()
    chat = next(o for o in objs if o["kind"] == "RayService" and o["metadata"]["name"] == "chat")
    rc = chat["spec"]["rayClusterConfig"]
    head = rc["headGroupSpec"]["template"]["spec"]
    assert [v["name"] for v in head["volumes"]] == ["dshm"]
    assert "env" not in head["containers"][0]
    worker = rc["workerGroupSpecs"][0]["template"]["spec"]
    assert {"name": "model-cache", "persistentVolumeClaim": {"claimName": "chat-model-cache"}} in worker["volumes"]
    assert {e["name"] for e in worker["containers"][0]["env"]} == {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HOME"}


# --------------------------------------------------------------------------- #
# 4 + 5. KubeRay's serve Service, and probes that keep unready proxies out
# --------------------------------------------------------------------------- #


def test_rayservices_use_kuberays_serve_service_under_the_service_name() -> None:
    objs = build(BLUEPRINTS["reference-eks"]).compiled.objects()
    for rsvc in by_kind(objs, "RayService"):
        svc = rsvc["spec"]["serveService"]
        name = rsvc["metadata"]["name"]
        assert svc["metadata"]["name"] == name
        # KubeRay sets the selector itself (ray.io/cluster of the active cluster + ray.io/serve);
        # its port named "serve" is the head container's.
        assert "selector" not in svc["spec"]
        head_ports = rsvc["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"][0]["ports"]
        assert {"name": "serve", "containerPort": 8000, "protocol": "TCP"} in head_ports
        assert svc["spec"]["ports"] == [{"name": "serve", "port": 8000, "targetPort": 8000, "protocol": "TCP"}]
    # No Service of our own selects Ray pods without knowing the active cluster.
    for s in by_kind(objs, "Service"):
        assert "ray.io/serve" not in s["spec"]["selector"]


def test_ray_probes_follow_kuberay_defaults_and_check_the_proxy() -> None:
    objs = build(BLUEPRINTS["reference-eks"]).compiled.objects()
    for rsvc in by_kind(objs, "RayService"):
        rc = rsvc["spec"]["rayClusterConfig"]
        head = rc["headGroupSpec"]["template"]["spec"]["containers"][0]
        for probe in (head["readinessProbe"], head["livenessProbe"]):
            assert probe["httpGet"] == {"path": "/api/healthz", "port": 52365} and probe["timeoutSeconds"] == 5
        worker = rc["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]
        ready = worker["readinessProbe"]
        cmd = ready["exec"]["command"][-1]
        checks = cmd.split(" && ")
        assert len(checks) == 2 and all("-T 2" in c and "--tries 1" in c for c in checks)
        assert ready["timeoutSeconds"] > 2 * 2  # both 2 s checks fit inside the probe's timeout
        assert "http://localhost:8000/-/healthz" in checks[1]
        assert ready["failureThreshold"] == 1  # as KubeRay: one failed proxy check takes the pod out


# --------------------------------------------------------------------------- #
# 9. GPU families by instance type; CPU pods off GPU nodes
# --------------------------------------------------------------------------- #


def _affinity(pod: dict[str, Any]) -> list[dict[str, Any]]:
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    (term,) = terms
    return term["matchExpressions"]


def test_gpu_workers_may_use_the_whole_gpu_family_by_instance_type() -> None:
    objs = build(BLUEPRINTS["reference-eks"]).compiled.objects()
    chat = next(o for o in objs if o["kind"] == "RayService" and o["metadata"]["name"] == "chat")
    worker = chat["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["template"]["spec"]
    # No Karpenter-only label: managed node groups do not set instance-gpu-name.
    assert "nodeSelector" not in worker
    (expr,) = _affinity(worker)
    assert expr["key"] == "node.kubernetes.io/instance-type" and expr["operator"] == "In"
    from stackdef.catalog.prices import PriceCatalog

    l4 = {i.instance_type for i in PriceCatalog.default().gpu_instances("aws", "us-east-1") if i.gpu == "L4"}
    assert set(expr["values"]) == l4 and expr["values"][0] == "g6.xlarge"  # the priced choice first
    gke = compiled(spec(target=TARGETS["gke"])).objects()
    chat = next(o for o in gke if o["kind"] == "RayService" and o["metadata"]["name"] == "chat")
    worker = chat["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["template"]["spec"]
    assert worker["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-l4"}  # GKE sets it on every GPU pool


def test_cpu_pods_stay_off_gpu_nodes() -> None:
    from stackdef.catalog.prices import PriceCatalog

    gpu_types = {i.instance_type for i in PriceCatalog.default().instances if i.provider == "aws" and i.gpu}
    objs = build(BLUEPRINTS["reference-eks"]).compiled.objects()
    for rsvc in by_kind(objs, "RayService"):
        rc = rsvc["spec"]["rayClusterConfig"]
        pods = [rc["headGroupSpec"]["template"]["spec"]] + [
            g["template"]["spec"] for g in rc["workerGroupSpecs"] if "nvidia.com/gpu" not in g["template"]["spec"]["containers"][0]["resources"]["limits"]
        ]
        for pod in pods:
            (expr,) = _affinity(pod)
            assert expr["operator"] == "NotIn" and set(expr["values"]) == gpu_types
    existing = compiled(spec(target=TARGETS["existing"])).objects()
    head = by_kind(existing, "RayService")[0]["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]
    assert _affinity(head) == [{"key": "nvidia.com/gpu.present", "operator": "DoesNotExist"}]


# --------------------------------------------------------------------------- #
# 8. kind is sized for a laptop, and the plan says what the cluster needs
# --------------------------------------------------------------------------- #


def test_kind_reference_fits_a_laptop_and_the_plan_prints_the_requests() -> None:
    plan = build(BLUEPRINTS["reference-kind"]).plan.to_json()
    base = plan["requests"]["baseline"]
    # vLLM CPU pod 3 CPU / 4 GiB + model head 1 / 2 + autoscaler 0.5 / 0.5 + 1 worker 1 / 2 + operator 0.1 / 0.5
    # + the data layer at laptop sizes: feature server 0.25 / 0.5, Redis 0.1 / 0.25, one job slot 0.25 / 0.5
    assert (base["cpu"], base["memory_gib"], base["gpus"]) == (6.2, 10.25, 0)
    objs = build(BLUEPRINTS["reference-kind"]).compiled.objects()
    sentiment = next(o for o in objs if o["kind"] == "RayService")
    head = sentiment["spec"]["rayClusterConfig"]["headGroupSpec"]
    assert head["rayStartParams"]["num-cpus"] == "0"
    assert head["template"]["spec"]["containers"][0]["resources"]["limits"] == {"cpu": "1", "memory": "2Gi"}
    eks = build(BLUEPRINTS["reference-eks"]).plan.to_json()["requests"]
    assert eks["ceiling"]["gpus"] == 4


# --------------------------------------------------------------------------- #
# 11. CPU pods billed by the billing rule; runner-ups like for like
# --------------------------------------------------------------------------- #


def test_runner_ups_carry_the_same_head_and_cpu_terms_as_the_choice() -> None:
    cost = build(BLUEPRINTS["reference-eks"]).plan.to_json()["cost"]
    chat = cost["services"][0]
    head = chat["baseline_monthly_usd"]
    for alt in chat["runner_ups"]:
        nodes = -(-chat["max_replicas"] // alt["replicas_per_node"])
        assert alt["ceiling_monthly_usd"] == pytest.approx(head + nodes * alt["usd_per_node_hour"] * 730, abs=0.02)
        assert alt["baseline_monthly_usd"] == head  # same head, zero GPU nodes at min 0
        assert alt["ceiling_monthly_usd"] > chat["ceiling_monthly_usd"]


def test_operator_and_autoscaler_pods_are_billed() -> None:
    rst = build(BLUEPRINTS["reference-eks"]).compiled.resolved
    cpu, mem, _ = rst.requests(False)
    # Heads 4 + 2, autoscalers 2 × 0.5, one sentiment replica 1, the operator 0.1, and the data
    # layer: feature server 1, Redis 0.5, one job slot 1.
    assert cpu == pytest.approx(10.6)
    cost = build(BLUEPRINTS["reference-eks"]).plan.to_json()["cost"]
    assert cost["cpu_pool"][0] == {"item": "operators (KubeRay)", "baseline_monthly_usd": 5.04, "ceiling_monthly_usd": 5.04}


# --------------------------------------------------------------------------- #
# 15. A fail budget fails on the costs it knows; a region typo gets a suggestion
# --------------------------------------------------------------------------- #


def test_fail_budget_fails_on_known_costs_even_when_some_are_unknown(tmp_path) -> None:
    from stackdef.catalog.prices import PriceCatalog, read_csv

    # A region priced for L4 nodes and a CPU node type, but not for the H100 the second service wants.
    f = tmp_path / "p.csv"
    f.write_text(
        "provider,instance_type,region,gpu_model,gpu_count,vcpu,ram_gib,usd_per_hour\n"
        "aws,g6.xlarge,eu-north-1,NVIDIA L4,1,4,16,5.0\n"
        "aws,m6i.2xlarge,eu-north-1,,0,8,32,0\n"
    )
    catalog = PriceCatalog.default(tuple(read_csv(f)))
    d = spec(target={"type": "existing", "context": "x", "cloud": "aws", "region": "eu-north-1"}, budget={"monthly_usd": 5000})
    d["services"][1]["resources"] = {"gpus": 1, "accelerator": "H100"}
    with pytest.raises(SpecError) as exc:
        resolve(validate_stack(d), prices=catalog)
    (line,) = [i.format("s.yaml") for i in exc.value.issues]
    # 4 × $5/h × 730 = $14,600 known already.
    assert line.startswith("s.yaml: budget: the stack (known costs only) ceiling (max replicas) costs $14,600.00/month")


def test_region_typo_gets_did_you_mean() -> None:
    d = spec(target={"type": "eks", "region": "us-east1"})
    d["services"][0]["accelerator"] = {"type": "L4", "gpus_per_replica": 1}
    rst = resolve(validate_stack(d))
    (w,) = [w for w in rst.warnings if w.path == "target.region"]
    assert w.problem == "no prices for aws us-east1 in the catalog, so costs are unknown"
    assert w.fix.startswith("did you mean 'us-east-1'?")
