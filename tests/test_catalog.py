"""The GPU and price catalogs: every price row maps to a GPU type through the explicit table (or is
excluded with its reason), a user's price file cannot smuggle in an unknown GPU, and each cloud
offers only the GPUs it has."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from stackdef.catalog import gpus
from stackdef.catalog.gpus import GPU_TYPES, PRICE_ROW_GPUS, Excluded
from stackdef.catalog.prices import PriceCatalog, builtin
from tests.clirun import run

DATA = Path(gpus.__file__).parent / "data" / "gpu_prices.csv"


def rows() -> list[dict[str, str]]:
    with DATA.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_every_price_row_maps_to_a_gpu_type_or_is_excluded_with_a_reason() -> None:
    seen = set()
    for r in rows():
        text = r["gpu_model"]
        assert text in PRICE_ROW_GPUS, f"{r['instance_type']}: {text!r} is in no row of PRICE_ROW_GPUS"
        seen.add(text)
        found = PRICE_ROW_GPUS[text]
        if isinstance(found, Excluded):
            assert found.reason
        else:
            assert found in GPU_TYPES
            # The GPU's memory in the row agrees with the type's (no A100-40G row mapped to an 80 GB type).
            assert int(r["gpu_mem_per_gpu_gb"]) == GPU_TYPES[found].memory_gb, (r["instance_type"], found)
    assert seen == set(PRICE_ROW_GPUS), f"table entries no row uses: {set(PRICE_ROW_GPUS) - seen}"


def test_no_priced_gpu_instance_is_dropped() -> None:
    # Every GPU row of the data is a plannable instance or carries its exclusion reason.
    by_type = {i.instance_type: i for i in builtin()}
    for r in rows():
        inst = by_type[r["instance_type"]]
        assert (inst.gpu is not None and inst.whole_gpus >= 1) or inst.excluded, r["instance_type"]
    azure = {i.instance_type for i in PriceCatalog.default().gpu_instances("azure", "eastus")}
    assert {"Standard_NV36ads_A10_v5", "Standard_NV72ads_A10_v5"} <= azure


def test_gpu_memory_is_what_cuda_reports_below_nvidia_smi() -> None:
    # vLLM budgets from cudaMemGetInfo's total, a few hundred MiB below nvidia-smi's (NVML's), which
    # is itself below the nominal size; the batch defaults read NVML's. Every figure cites its source.
    for g in GPU_TYPES.values():
        assert g.usable_mib < g.nvml_mib <= g.memory_gb * 1024 + 3 * 1024, g.name  # H200's 141 GB is 143,771 MiB
        assert 0 < g.nvml_mib - g.usable_mib < 1024, g.name
        assert "cudaMemGetInfo" in g.usable_source and ("#" in g.usable_source or "(" in g.usable_source)
    # vLLM's own log for an H100: "total_memory=79.19GiB" (the lowest current-driver figure is 79.18).
    assert abs(GPU_TYPES["H100"].usable_gib - 79.19) < 0.02


def test_storage_prices_per_class_with_minimums_and_tiers() -> None:
    from stackdef.catalog.storage import monthly_usd

    assert monthly_usd("aws", "us-east-1", "ebs-sc", 50)[0] == 50 * 0.08
    # Filestore Basic HDD bills at least 100 GiB whatever the claim asks.
    assert monthly_usd("gcp", "us-central1", "standard-rwx", 10)[0] == 100 * 0.20
    # Azure managed disks bill the smallest tier that holds the request: 50 GiB is an E6 (64 GiB).
    price, row = monthly_usd("azure", "eastus", "managed-csi", 50)
    assert row.storage_class == "managed-csi/E6" and price == 64 * 0.075
    assert monthly_usd("azure", "eastus", "managed-csi", 4096) is None  # past the table: unpriced, not guessed
    assert monthly_usd("aws", "us-east-1", "fast-nvme", 10) is None


def test_an_unpriced_storage_class_is_a_warning_not_zero(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "name: demo\ntarget: {type: eks, region: us-east-1}\nservices:\n"
        "- {type: llm, name: chat, source: Qwen/Qwen2.5-0.5B-Instruct, engine: {max_model_len: 4096},"
        " model_cache: {size: 10Gi, storage_class: fast-nvme}}\n"
    )
    r = run("validate", str(spec))
    assert r.code == 0
    assert "services[0].model_cache: the model cache's StorageClass fast-nvme has no price for aws/us-east-1, so costs leave it out" in r.stderr


@pytest.mark.parametrize(
    "gpu_model,count,contains",
    [
        ("NVIDIA A10X", "1", "column gpu_model: 'NVIDIA A10X' is not a GPU stackdef knows"),
        ("a10", "1", "is not a GPU stackdef knows (write one of T4, A10G, A10, L4"),
        ("", "2", "column gpu_model: empty but gpu_count is 2"),
    ],
)
def test_a_price_file_naming_an_unknown_gpu_is_a_usage_error(tmp_path: Path, gpu_model: str, count: str, contains: str) -> None:
    prices = tmp_path / "p.csv"
    prices.write_text(f"provider,instance_type,region,gpu_model,gpu_count,vcpu,ram_gib,usd_per_hour\naws,x1,us-east-1,{gpu_model},{count},8,32,1.0\n")
    spec = tmp_path / "s.yaml"
    spec.write_text("name: demo\ntarget: {type: kind}\nservices:\n- {type: model, name: m, import_path: 'a:app', deployment: M}\n")
    r = run("plan", str(spec), "--prices", str(prices))
    assert r.code == 2, r.stderr
    assert f"{prices}: row 2, " in r.stderr and contains in r.stderr, r.stderr


def test_a_price_file_may_name_the_gpu_type_itself(tmp_path: Path) -> None:
    prices = tmp_path / "p.csv"
    prices.write_text("provider,instance_type,region,gpu_model,gpu_count,vcpu,ram_gib,usd_per_hour\naws,g6.xlarge,us-east-1,L4,1,4,16,0.5\n")
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "name: demo\ntarget: {type: eks, region: us-east-1}\nservices:\n"
        "- {type: llm, name: chat, source: Qwen/Qwen2.5-0.5B-Instruct, engine: {max_model_len: 4096}}\n"
    )
    r = run("plan", str(spec), "--prices", str(prices), "-f", "json")
    assert r.code == 0, r.stderr
    assert '"instance_type": "g6.xlarge"' in r.stdout and "0.5" in r.stdout


@pytest.mark.parametrize("gpu,target,ok", [("L4", "aks", False), ("A10G", "aks", False), ("A10", "eks", False), ("A10", "gke", False), ("A10", "aks", True), ("T4", "aks", True)])
def test_each_cloud_offers_only_its_gpus(tmp_path: Path, gpu: str, target: str, ok: bool) -> None:
    region = {"eks": "us-east-1", "gke": "us-central1", "aks": "eastus"}[target]
    spec = tmp_path / "s.yaml"
    spec.write_text(
        f"name: demo\ntarget: {{type: {target}, region: {region}}}\nservices:\n"
        f"- {{type: model, name: scorer, import_path: 'a:app', deployment: S, resources: {{gpus: 1, accelerator: {gpu}}}}}\n"
    )
    r = run("validate", str(spec))
    if ok:
        assert r.code == 0, r.stderr
    else:
        assert r.code == 1
        assert f"services[0].resources.accelerator: GPU {gpu} is not offered on {target}" in r.stderr, r.stderr
