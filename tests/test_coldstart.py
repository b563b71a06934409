"""Cold start from zero replicas, term by term against the stated figures (stackdef/coldstart.py,
the targets' node-start and storage figures in providers/)."""

from __future__ import annotations

import pytest

from stackdef import coldstart
from stackdef.catalog.models import lookup
from stackdef.loader import validate_stack
from stackdef.memory import Engine, checkpoint_bytes
from stackdef.pipeline import build
from stackdef.resolve import resolve
from tests.util import REPO, spec

MIB = 2**20


def _resolve(d: dict):
    return resolve(validate_stack(d, "s.yaml"))


def _llm(**changes) -> dict:
    d = spec(**changes)
    d["services"] = d["services"][:1]
    return d


def test_checkpoint_bytes_are_the_weights_on_disk() -> None:
    q7 = lookup("Qwen2.5-7B-Instruct")
    e = Engine("bfloat16", None, None, 4096, 256, 2048, 0.9)
    assert checkpoint_bytes(q7, e) == q7.params * 2
    awq = Engine("float16", "awq", None, 4096, 256, 2048, 0.9, tensor_parallel=4, pipeline_parallel=2)
    # Quantized checkpoints are smaller; the split of the replica does not change what is downloaded.
    assert checkpoint_bytes(q7, awq) == checkpoint_bytes(q7, Engine("float16", "awq", None, 4096, 256, 2048, 0.9)) < q7.params


def test_eks_with_a_model_cache_term_by_term() -> None:
    rst = _resolve(_llm())  # Qwen2.5-7B on 1× L4, EKS, model cache on efs-sc
    chat = rst.services[0]
    c = chat.cold_start
    by = {t.name: t.seconds for t in c.terms}
    weights = lookup("Qwen2.5-7B-Instruct").params * 2
    assert by["node"] == 40 + 60  # Karpenter to Ready, then the GPU allocatable
    assert by["image"] == pytest.approx(12e9 / 96e6)
    assert by["weights"] == pytest.approx(weights / (500 * MIB))  # EFS: 500 MiB/s per client
    assert (by["compile"], by["graphs"], by["engine"]) == (30, 20, 30)  # < 20 B parameters
    assert c.total_s == pytest.approx(sum(by.values()))
    # With the cache still empty the weights come from Hugging Face at 100 MB/s.
    assert c.first_start_s == pytest.approx(c.total_s - by["weights"] + weights / 100e6)


def test_without_a_cache_every_start_downloads() -> None:
    d = _llm()
    del d["services"][0]["model_cache"]
    c = _resolve(d).services[0].cold_start
    by = {t.name: t.seconds for t in c.terms}
    assert by["weights"] == pytest.approx(lookup("Qwen2.5-7B-Instruct").params * 2 / 100e6)
    assert c.first_start_s is None


def test_eager_mode_skips_graph_capture_and_large_models_take_longer() -> None:
    d = _llm()
    d["services"][0]["engine"]["enforce_eager"] = True
    by = {t.name: t.seconds for t in _resolve(d).services[0].cold_start.terms}
    assert by["graphs"] == 0 and by["compile"] == 0  # vLLM turns torch.compile off in eager mode too
    big = _llm(target={"type": "gke", "region": "us-central1"})
    big["services"][0].update(source="meta-llama/Llama-3.1-70B-Instruct", accelerator={"type": "auto"})
    big["services"][0]["engine"] = {"max_model_len": 8192, "dtype": "float16", "quantization": "awq"}
    big["services"][0]["model_cache"] = {"size": "100Gi"}
    c = _resolve(big).services[0].cold_start
    by = {t.name: t.seconds for t in c.terms}
    assert (by["node"], by["compile"], by["graphs"]) == (30 + 270 + 60, 70, 60)
    assert by["weights"] == pytest.approx(checkpoint_bytes(lookup("Llama-3.1-70B-Instruct"), Engine("float16", "awq", None, 8192, 256, 2048, 0.9)) / (100 * MIB))


def test_unknown_terms_make_a_lower_bound() -> None:
    # An existing cluster: stackdef cannot know its node start; a named StorageClass: nor its speed.
    d = _llm(target={"type": "existing"})
    d["services"][0]["model_cache"]["storage_class"] = "fast-nvme"
    c = _resolve(d).services[0].cold_start
    unknown = [t.name for t in c.terms if t.seconds is None]
    assert unknown == ["node", "weights"]
    assert c.total_s is None and c.known_s > 0


def test_scale_to_zero_slower_than_the_client_waits_is_a_warning() -> None:
    d = _llm(target={"type": "aks", "region": "eastus"})
    d["services"][0].update(source="meta-llama/Llama-3.1-70B-Instruct", accelerator={"type": "auto"}, request_timeout_s=300)
    d["services"][0]["engine"] = {"max_model_len": 8192, "dtype": "float16", "quantization": "awq"}
    del d["services"][0]["model_cache"]
    rst = _resolve(d)
    (w,) = [x for x in rst.warnings if x.path == "services[0].autoscaling.min_replicas"]
    assert "scaling from zero takes ~" in w.problem and "longer than request_timeout_s 300" in w.problem
    assert "add a model_cache" in w.fix
    # The same service kept warm (min_replicas 1) has nothing to warn about.
    d["services"][0]["autoscaling"]["min_replicas"] = 1
    assert not [x for x in _resolve(d).warnings if x.path == "services[0].autoscaling.min_replicas"]


def test_plan_carries_the_cold_start_and_load_per_service() -> None:
    plan = build(str(REPO / "examples/llama70b-auto-gke.yaml")).plan.to_json()
    c = plan["cold_start"]["llama"]
    assert [t["name"] for t in c["terms"]] == ["node", "image", "weights", "compile", "graphs", "engine"]
    assert all(t["basis"] for t in c["terms"])
    # Terms are rounded to whole seconds one by one, the total once: they agree within the rounding.
    assert abs(c["total_s"] - sum(t["seconds"] for t in c["terms"])) <= len(c["terms"]) / 2
    z = plan["sizing"]["llama"]
    assert z["kv_tokens"] > 0 and z["max_concurrency"] > 0


def test_every_figure_names_its_source() -> None:
    import stackdef.providers as providers

    for f in coldstart.FIGURES:
        assert f.source and f.value > 0
    for name in ("eks", "gke", "aks"):
        node = providers.plan(name).gpu_node_start
        assert node and all(f.source and f.value > 0 for f in node)
    assert providers.plan("kind").gpu_node_start == () and providers.plan("existing").gpu_node_start is None


def test_quantized_at_load_downloads_the_16_bit_checkpoint() -> None:
    # fp8 or bitsandbytes on a catalog model's own repository: vLLM downloads the 16-bit weights and
    # quantizes them as it loads, so the download is the full checkpoint, the memory the quantized one.
    d = _llm()
    del d["services"][0]["model_cache"]
    d["services"][0]["engine"]["quantization"] = "fp8"
    chat = _resolve(d).services[0]
    by = {t.name: t.seconds for t in chat.cold_start.terms}
    assert by["weights"] == pytest.approx(lookup("Qwen2.5-7B-Instruct").params * 2 / 100e6)
    assert chat.sizing.memory.worst.weights < lookup("Qwen2.5-7B-Instruct").params * 1.2
    # A checkpoint stored in fp8 downloads at one byte a weight.
    d["services"][0]["checkpoint"] = {"prequantized": True}
    by = {t.name: t.seconds for t in _resolve(d).services[0].cold_start.terms}
    assert by["weights"] < lookup("Qwen2.5-7B-Instruct").params * 1.3 / 100e6
