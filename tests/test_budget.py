"""Budgets: cap gives the largest affordable max_replicas (never more); fail and warn behave;
a budget below the baseline is an error under every policy.

The reference stack on EKS (us-east-1) costs, per month of 730 h. CPU nodes are
m6i.2xlarge ($0.384/h = $280.32/month; allocatable 8 − 1 = 7 CPU and 32 × 0.9 − 1 = 27.8 GiB):
  fixed     = EKS control plane $0.10/h + 1 system node m6i.2xlarge                 = $353.32
  chat      = head pod 4 CPU / 8 GiB + autoscaler 0.5 CPU / 0.5 GiB: 4.5 / 7 of a node = $180.21,
              + r × g6.xlarge $0.8048/h ($587.504 each)
  sentiment = head 2 CPU / 4 GiB + autoscaler + s replicas of 1 CPU / 3 GiB
  operator  = 0.1 CPU / 0.5 GiB
  CPU pool  = 4.5 + 2.5 + s + 0.1 CPU (8.1–10.1 for s = 1–3) over 7 per node: 2 whole nodes = $560.64
  cache     = chat's 50 GiB model cache on efs-sc (EFS Standard, $0.30/GiB-month)             = $15.00
so baseline (chat 0) = 353.32 + 560.64 + 15 = $928.96 and ceiling (chat 4) = $3,278.98.
The reference blueprint adds its data layer: feature server 1 CPU / 1 GiB, Redis 0.5 / 1, one job
slot of 1 / 2 (the materialization), which the two CPU nodes still hold, and its volumes:
data 10 GiB + registry 1 GiB on efs-sc ($3.30) and Redis 5 GiB on ebs-sc (gp3, $0.08/GiB: $0.40).
"""

from __future__ import annotations

import pytest

from stackdef.errors import SpecError, UsageError
from stackdef.loader import validate_stack
from stackdef.pipeline import build
from stackdef.resolve import resolve
from tests.util import BLUEPRINTS, spec

FIXED, REPLICA = 353.32, 0.8048 * 730
#: The two whole CPU nodes every variant here needs (HEAD + HEAD in the totals below).
HEAD = 280.32
CACHE = 50 * 0.30
CHAT_HEAD = round(4.5 / 7 * 280.32, 2)
DATA_VOLUMES = 11 * 0.30 + 5 * 0.08


def stack(budget: dict | None = None, chat_budget: dict | None = None) -> dict:
    d = spec()
    d["services"][0]["engine"] = {"dtype": "bfloat16", "max_model_len": 8192, "max_num_seqs": 8}
    d["services"][1]["code"] = {"source": "image"}
    if budget:
        d["budget"] = budget
    if chat_budget:
        d["services"][0]["budget"] = chat_budget
    return d


def resolved(d: dict):
    return resolve(validate_stack(d, "s.yaml"))


def issues(d: dict) -> list[str]:
    with pytest.raises(SpecError) as exc:
        resolved(d)
    return [i.format("s.yaml") for i in exc.value.issues]


def test_reference_costs_match_the_hand_worked_figures() -> None:
    plan = build(BLUEPRINTS["reference-eks"]).plan.to_json()
    cost = plan["cost"]
    assert cost["fixed_monthly_usd"] == FIXED
    assert cost["baseline_monthly_usd"] == pytest.approx(FIXED + HEAD + HEAD + CACHE + DATA_VOLUMES)
    assert cost["ceiling_monthly_usd"] == pytest.approx(FIXED + HEAD + 4 * REPLICA + HEAD + CACHE + DATA_VOLUMES, abs=0.01)
    chat = cost["services"][0]
    assert (chat["instance_type"], chat["gpus_per_replica"], chat["max_replicas"], chat["usd_per_replica_hour"]) == (
        "g6.xlarge", 1, 4, 0.8048)
    # Scale to zero: only the head's share of a CPU node, and the model cache.
    assert chat["baseline_monthly_usd"] == round(CHAT_HEAD + CACHE, 2) == 195.21
    assert chat["baseline_is_head_only"] is True and chat["volumes_monthly_usd"] == CACHE
    assert chat["ceiling_monthly_usd"] == pytest.approx(CHAT_HEAD + CACHE + 4 * REPLICA, abs=0.01)
    (data,) = cost["layers"]
    assert data["item"] == "data layer" and data["baseline_monthly_usd"] == data["ceiling_monthly_usd"]
    # The lines add up: services, operators, whole-node rounding and fixed costs make the total.
    lines = [s["baseline_monthly_usd"] for s in cost["services"]] + [p["baseline_monthly_usd"] for p in cost["layers"] + cost["cpu_pool"]]
    assert sum(lines) + FIXED == pytest.approx(cost["baseline_monthly_usd"], abs=0.02)
    assert cost["cpu_pool"][-1]["item"] == "CPU nodes rounded to whole m6i.2xlarge (2 at baseline, 2 at ceiling)"


@pytest.mark.parametrize("monthly", [1500.0, 2000.0, 2500.0, 3278.98, 5000.0])
def test_cap_gives_the_largest_affordable_max_replicas(monthly: float) -> None:
    rst = resolved(stack({"monthly_usd": monthly, "policy": "cap"}))
    chat = rst.services[0]
    total = lambda r: FIXED + HEAD + HEAD + CACHE + r * REPLICA  # noqa: E731
    assert total(chat.max_replicas) <= monthly + 0.01
    assert chat.max_replicas == 4 or total(chat.max_replicas + 1) > monthly
    assert chat.workers.max_workers == chat.max_replicas
    if chat.max_replicas < 4:
        assert chat.cut is not None and chat.cut.from_replicas == 4 and chat.cut.reason == "stack budget"
    else:
        assert chat.cut is None


def test_cap_cuts_in_reverse_declaration_order() -> None:
    d = stack({"monthly_usd": FIXED + 2 * HEAD + 2 * CACHE + 2 * REPLICA + 1, "policy": "cap"})
    d["services"].insert(0, dict(d["services"][0], name="first"))
    rst = resolved(d)
    first, chat = rst.services[0], rst.services[1]
    # "chat" is declared after "first", so it is cut first — all the way to its min (0) — before "first".
    assert chat.max_replicas == 0 and first.max_replicas < 4
    plan_cut = build_plan_cut(rst)
    assert plan_cut["chat"]["reason"] == "stack budget"


def build_plan_cut(rst) -> dict:
    from stackdef.compile import compile_stack
    from stackdef.plan import build_plan

    plan = build_plan(compile_stack(rst)).to_json()
    return {s["name"]: s["cut"] for s in plan["cost"]["services"] if s["cut"]}


def test_fail_shows_the_over_run() -> None:
    (line,) = issues(stack({"monthly_usd": 2000}))
    assert line == (
        "s.yaml: budget: the stack ceiling (max replicas) costs $3,278.98/month, over the $2,000.00 budget by "
        "$1,278.98 (raise the budget, lower max_replicas, or use policy cap)"
    )


def test_warn_keeps_max_replicas_and_warns() -> None:
    rst = resolved(stack({"monthly_usd": 2000, "policy": "warn"}))
    assert rst.services[0].max_replicas == 4
    assert any(w.path == "budget" and "over the $2,000.00 budget" in w.problem for w in rst.warnings)


@pytest.mark.parametrize("policy", ["fail", "cap", "warn"])
def test_budget_below_baseline_is_an_error_whatever_the_policy(policy: str) -> None:
    (line,) = issues(stack({"monthly_usd": 500, "policy": policy}))
    assert "the stack baseline (min replicas) costs $928.96/month, over the $500.00 budget by $428.96" in line


def test_service_budget_caps_that_service() -> None:
    rst = resolved(stack(chat_budget={"monthly_usd": CHAT_HEAD + CACHE + 2 * REPLICA + 1, "policy": "cap"}))
    chat = rst.services[0]
    assert chat.max_replicas == 2 and chat.cut.reason == "service budget"
    assert chat.cut.saved_monthly_usd == pytest.approx(2 * REPLICA, abs=0.01)
    (line,) = issues(stack(chat_budget={"monthly_usd": 100}))
    assert line.startswith("s.yaml: services[0].budget: service 'chat' baseline (min replicas) costs $195.21/month")


def test_price_annotations_carry_the_hourly_price_per_replica() -> None:
    objs = build(BLUEPRINTS["reference-eks"]).compiled.objects()
    chat = next(o for o in objs if o["kind"] == "RayService" and o["metadata"]["name"] == "chat")
    ann = chat["metadata"]["annotations"]
    assert ann["stackdef.dev/usd-per-replica-hour"] == "0.8048"
    assert ann["stackdef.dev/instance-type"] == "g6.xlarge"
    # Not in the worker template, which KubeRay hashes: a price change must not start a new cluster.
    worker = chat["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["template"]["metadata"]
    assert worker["annotations"] == {"stackdef.dev/worker-replicas": "0-4"}


def test_user_price_file_overrides_the_catalog(tmp_path) -> None:
    f = tmp_path / "prices.csv"
    f.write_text(
        "provider,instance_type,region,gpu_model,gpu_count,vcpu,ram_gib,usd_per_hour\n"
        "aws,g6.xlarge,us-east-1,NVIDIA L4,1,4,16,0.40\n"
    )
    plan = build(BLUEPRINTS["reference-eks"], prices_file=f).plan.to_json()
    assert plan["cost"]["services"][0]["usd_per_replica_hour"] == 0.40
    bad = tmp_path / "bad.csv"
    bad.write_text("provider,instance_type\naws,x\n")
    # A bad --prices file is a usage error naming the missing columns and the expected ones.
    with pytest.raises(UsageError, match=r"bad.csv: missing column\(s\) region, vcpu, ram_gib, usd_per_hour \(expected columns: provider, instance_type, region"):
        build(BLUEPRINTS["reference-eks"], prices_file=bad)


def test_kind_costs_nothing_and_unknown_regions_say_so() -> None:
    kind = build(BLUEPRINTS["reference-kind"]).plan.to_json()["cost"]
    assert (kind["baseline_monthly_usd"], kind["ceiling_monthly_usd"]) == (0.0, 0.0)
    d = stack()
    d["target"] = {"type": "eks", "region": "eu-west-1"}
    d["services"][0]["accelerator"] = {"type": "L4", "gpus_per_replica": 1}
    rst = resolved(d)
    assert any("no prices for aws eu-west-1" in w.problem for w in rst.warnings)


def test_existing_cluster_can_name_its_cloud_for_pricing() -> None:
    d = stack()
    d["target"] = {"type": "existing", "context": "prod", "cloud": "gcp", "region": "us-central1"}
    rst = resolved(d)
    chat = rst.services[0]
    assert chat.sizing.instance.instance_type == "g2-standard-4"
    # Pricing only: an existing cluster's node pools are not pinned to an instance type.
    assert "node.kubernetes.io/instance-type" not in chat.workers.placement.node_selector
    assert rst.fixed_items == ()  # no control-plane fee is assumed for a cluster stackdef did not create


def test_fractional_gpu_instances_are_never_chosen() -> None:
    from stackdef.catalog.prices import PriceCatalog

    azure = PriceCatalog.default().for_region("azure", "eastus")
    partitions = [i for i in azure if i.gpu_count.denominator != 1]
    assert [i.instance_type for i in partitions] == ["Standard_NV12ads_A10_v5", "Standard_NV18ads_A10_v5", "Standard_NV6ads_A10_v5"]
    assert all(i.gpu is None and "fraction of one GPU" in (i.excluded or "") for i in partitions)
    d = stack()
    d["target"] = {"type": "aks", "region": "eastus"}
    d["services"][0]["accelerator"] = {"type": "auto"}
    chat = resolved(d).services[0]
    assert chat.sizing.instance.whole_gpus >= 1
    # The whole A10 ($3.20/h) was invisible once (no "NVIDIA A10" in the GPU map) and an A100 ($3.673/h,
    # +14.8%) was chosen instead.
    assert chat.sizing.instance.instance_type == "Standard_NV36ads_A10_v5"
    assert chat.gpu_type == "A10"


def test_gpu_model_services_are_packed_by_the_same_rule() -> None:
    # 1× L4 with 6 CPU and 20 Gi (+1 Gi Ray overhead) per replica: g6.xlarge (4 vCPU) cannot hold
    # the pod, g6.2xlarge (8 vCPU → 7 allocatable, 32 GiB → 27.8) holds one; g6.12xlarge's
    # 4 L4 would hold 4 by GPUs but only 7 by CPU (47 allocatable // 6) and 7 by memory, so 4.
    d = stack()
    d["services"][1]["resources"] = {"cpu": 6, "memory": "20Gi", "gpus": 1, "accelerator": "L4"}
    model = resolved(d).services[1]
    assert (model.sizing.instance.instance_type, model.sizing.replicas_per_node) == ("g6.2xlarge", 1)
    from stackdef.catalog.prices import PriceCatalog
    from stackdef.cost import replicas_per_node

    g6_12 = next(i for i in PriceCatalog.default().instances if i.instance_type == "g6.12xlarge")
    assert replicas_per_node(g6_12, 1, 6, 21) == 4
    assert replicas_per_node(g6_12, 1, 16, 21) == 2  # CPU-bound: 47 // 16
