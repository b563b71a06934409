"""GPU memory fit and the planner, against hand-worked numbers.

Constants: GiB = 2**30 bytes; bf16 = 2 bytes; L4/A10G usable 22,888 MiB and
H100 81,920 MiB (EC2 DescribeInstanceTypes); runtime overhead 1.5 GiB per GPU;
gpu_memory_utilization 0.9 unless stated.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stackdef.catalog.models import catalog, lookup
from stackdef.catalog.prices import PriceCatalog
from stackdef.cost import HOURS_PER_MONTH
from stackdef.errors import SpecError
from stackdef.loader import validate_stack
from stackdef.resolve import resolve
from stackdef.sizing import Workload, engine_rule_problems, fit, options, rank
from tests.util import spec

GIB = 2**30


def w(model: str, *, ctx: int | None = None, seqs: int | None = None, util: float = 0.9, dtype: str = "bfloat16", quant: str | None = None) -> Workload:
    arch = lookup(model)
    assert arch is not None
    return Workload(arch, dtype, quant, ctx, seqs, util)


def test_catalog_keeps_the_cited_facts() -> None:
    cat = catalog()
    assert set(cat) == {
        "Qwen2.5-0.5B-Instruct", "Qwen2.5-7B-Instruct", "Qwen2.5-72B-Instruct", "Llama-3.1-8B-Instruct",
        "Llama-3.1-70B-Instruct", "Mistral-7B-Instruct-v0.3", "Mixtral-8x7B-Instruct-v0.1",
    }
    q7 = cat["Qwen2.5-7B-Instruct"]
    assert (q7.params, q7.layers, q7.attention_heads, q7.kv_heads, q7.head_dim) == (7615616512, 28, 28, 4, 128)
    # The CSV's own computed column: 2 × 28 layers × 4 KV heads × 128 × 2 bytes = 57,344 B/token.
    assert q7.kv_bytes_per_token() == 57344
    assert "qwenlm.github.io" in q7.source and "2024-09-19" in q7.source
    assert lookup("meta-llama/Llama-3.1-70B-Instruct") is cat["Llama-3.1-70B-Instruct"]


def test_llama_70b_bf16_does_not_fit_one_h100() -> None:
    # weights = 70,553,706,496 × 2 B = 131.42 GiB > 80 GiB × 0.9 = 72 GiB, even with a 16-token context.
    f = fit(w("Llama-3.1-70B-Instruct", ctx=16), "H100", 1)
    assert f.weights_gib == pytest.approx(70553706496 * 2 / GIB)
    assert f.weights_gib == pytest.approx(131.42, abs=0.01)
    assert f.offered_gib == pytest.approx(81559 / 1024 * 0.9)  # nvidia-smi total of an H100
    assert not f.fits


def test_llama_70b_on_two_h100_fits_only_a_short_context() -> None:
    # offered 2 × 72 = 144 GiB; fixed 131.42 + 2 × 1.5 = 134.42; KV 327,680 B/token
    # (2 × 80 layers × 8 KV heads × 128 × 2 B): room for (144 − 134.42) GiB / 327,680 B ≈ 31,400 tokens.
    assert fit(w("Llama-3.1-70B-Instruct", ctx=16384), "H100", 2).fits  # KV 5.0 GiB → 139.4
    too_long = fit(w("Llama-3.1-70B-Instruct", ctx=32768), "H100", 2)  # KV 10.0 GiB → 144.4
    assert too_long.kv_cache_gib == pytest.approx(10.0)
    assert not too_long.fits
    assert not fit(w("Llama-3.1-70B-Instruct"), "H100", 2).fits  # default: the full 131,072 tokens


def test_reference_chat_fits_one_l4() -> None:
    # 14.19 (7,615,616,512 × 2 B) + 3.5 (57,344 B × 8,192 × 8 seqs) + 1.5 = 19.19 ≤ 22,888 MiB × 0.9 = 20.12
    f = fit(w("Qwen2.5-7B-Instruct", ctx=8192, seqs=8), "L4", 1)
    assert (round(f.weights_gib, 2), round(f.kv_cache_gib, 2), f.overhead_gib) == (14.19, 3.5, 1.5)
    assert f.offered_gib == pytest.approx(22888 / 1024 * 0.9)
    assert f.fits
    assert not fit(w("Qwen2.5-7B-Instruct", ctx=8192, seqs=16), "L4", 1).fits  # KV doubles to 7 GiB


def test_quantized_weights_keep_embeddings_16_bit() -> None:
    # Qwen2.5-72B AWQ: embeddings 152,064 × 8,192 × 2 (untied) = 2,491,416,576 params at 2 B,
    # the other 70,214,787,072 at 4.25 bits = 0.53125 B.
    f = fit(w("Qwen2.5-72B-Instruct", ctx=4096, quant="awq"), "H100", 1)
    expected = (2491416576 * 2 + (72706203648 - 2491416576) * 0.53125) / GIB
    assert f.weights_gib == pytest.approx(expected)
    assert f.weights_gib == pytest.approx(39.38, abs=0.01)
    assert fit(w("Qwen2.5-72B-Instruct", ctx=4096, quant="fp8"), "H100", 1).weights_gib == pytest.approx(
        (2491416576 * 2 + (72706203648 - 2491416576) * 1.0) / GIB
    )


def test_vllm_rules_head_divisibility_and_context() -> None:
    q7 = w("Qwen2.5-7B-Instruct", ctx=65536)
    problems = {field: text for field, text, _ in engine_rule_problems(q7, 8)}
    assert "tensor_parallel_size 8 does not divide Qwen2.5-7B-Instruct's 28 attention heads" in problems["engine.tensor_parallel_size"]
    assert "max_model_len 65536 exceeds Qwen2.5-7B-Instruct's max_position_embeddings 32768" in problems["engine.max_model_len"]
    assert engine_rule_problems(w("Qwen2.5-7B-Instruct", ctx=32768), 4) == []


AWS = PriceCatalog.default().gpu_instances("aws", "us-east-1")
GCP = PriceCatalog.default().gpu_instances("gcp", "us-central1")


def choose(workload: Workload, instances, lo: int, hi: int, **kw):
    return rank(options(workload, instances, **kw), lo, hi)[0]


def test_planner_hand_worked_choices() -> None:
    q7 = w("Qwen2.5-7B-Instruct", ctx=8192, seqs=8)
    # Cheapest single GPU that fits 19.2 GiB: L4 g6.xlarge $0.8048/h (A10G g5.xlarge is $1.006).
    assert choose(q7, AWS, 0, 4).instance.instance_type == "g6.xlarge"
    # GCP: L4 on g2-standard-4 at $0.706832/h.
    assert choose(q7, GCP, 0, 4).instance.instance_type == "g2-standard-4"
    # Llama-3.1-70B, 8k context × 4 seqs: needs 131.4 + 10 + 1.5/GPU. 8× L4 on g6.48xlarge
    # ($13.35/h, 8 × 20.1 = 160.9 GiB offered vs 153.4 needed) beats 8× A100-40G p4d ($21.96)
    # and 4× H100 on p5.48xlarge ($55.04, two replicas per node).
    l70 = w("Llama-3.1-70B-Instruct", ctx=8192, seqs=4)
    best = choose(l70, AWS, 0, 1)
    assert (best.instance.instance_type, best.gpus_per_replica) == ("g6.48xlarge", 8)
    # Forcing H100: 2 GPUs offer 144 GiB < 144.4 needed, so 4 per replica, 2 replicas per p5.48xlarge.
    h = choose(l70, AWS, 0, 4, gpu="H100")
    assert (h.instance.instance_type, h.gpus_per_replica, h.replicas_per_node) == ("p5.48xlarge", 4, 2)
    assert h.hourly(4) == pytest.approx(2 * 55.04)


def test_money_ties_are_decided_at_cents_then_by_the_baseline() -> None:
    # Two L4 per replica, up to 4 replicas: four g2-standard-24 (2 L4, $2.000833/h) or two
    # g2-standard-48 (4 L4, $4.001665/h). The ceilings differ by $0.0015 a month (price rounding);
    # at cents they tie, and the 2-GPU node halves the baseline of one replica.
    q7 = w("Qwen2.5-7B-Instruct", ctx=8192, seqs=8)
    opts = {o.instance.instance_type: o for o in options(q7, GCP, gpu="L4", gpus_per_replica=2)}
    small, big = opts["g2-standard-24"], opts["g2-standard-48"]
    assert 0 < (small.hourly(4) - big.hourly(4)) * HOURS_PER_MONTH < 0.01
    best = choose(q7, GCP, 1, 4, gpu="L4", gpus_per_replica=2)
    assert best.instance.instance_type == "g2-standard-24"
    assert best.hourly(1) == pytest.approx(big.hourly(1) / 2, rel=1e-6)


@settings(max_examples=120, deadline=None)
@given(
    model=st.sampled_from(sorted(catalog())),
    ctx=st.sampled_from([1024, 4096, 8192, 16384, 32768]),
    seqs=st.sampled_from([None, 1, 4, 16, 64]),
    lo=st.integers(0, 2),
    extra=st.integers(0, 6),
    region=st.sampled_from([("aws", "us-east-1"), ("gcp", "us-central1"), ("azure", "eastus")]),
)
def test_no_fitting_option_is_cheaper_than_the_choice(model, ctx, seqs, lo, extra, region) -> None:
    arch = lookup(model)
    ctx = min(ctx, arch.max_context)
    work = Workload(arch, "bfloat16", None, ctx, seqs, 0.9)
    instances = PriceCatalog.default().gpu_instances(*region)
    hi = max(lo, 1) + extra
    # Brute force, written independently of the planner: every whole-GPU instance ×
    # every GPU count dividing the heads, fit recomputed from the formula, cost = nodes × price × 730.
    brute = []
    for inst in instances:
        for g in range(1, inst.whole_gpus + 1):
            if inst.whole_gpus % g and g not in (1, 2, 4, 8):
                continue
            if g not in (1, 2, 4, 8) or arch.attention_heads % g:
                continue
            kv = 2 * arch.layers * arch.kv_heads * arch.head_dim * 2 * ctx * (seqs or 1) / GIB
            needed = arch.params * 2 / GIB + kv + 1.5 * g
            from stackdef.catalog.gpus import GPU_TYPES

            offered = GPU_TYPES[inst.gpu].usable_mib / 1024 * 0.9 * g
            per_node = min(inst.whole_gpus // g, (inst.vcpu - 1) // 2, int((inst.ram_gib * 0.9 - 1) // 8))
            if needed <= offered + 1e-9 and per_node >= 1:
                brute.append(math.ceil(hi / per_node) * inst.usd_per_hour * HOURS_PER_MONTH)
    ranked = rank(options(work, instances), lo, hi)
    if not brute:
        assert ranked == []
        return
    chosen = ranked[0]
    assert chosen.fit.fits
    assert chosen.hourly(hi) * HOURS_PER_MONTH == pytest.approx(min(brute))


def _resolve(d: dict):
    return resolve(validate_stack(d, "s.yaml"))


def test_auto_picks_gpu_count_and_instance_and_sets_tensor_parallel() -> None:
    d = spec()
    d["services"][0] = {
        "type": "llm", "name": "big", "source": "meta-llama/Llama-3.1-70B-Instruct",
        "engine": {"max_model_len": 8192, "max_num_seqs": 4}, "accelerator": {"type": "auto"},
        "autoscaling": {"min_replicas": 0, "max_replicas": 1},
    }
    (big, _) = _resolve(d).services
    assert (big.gpu_type, big.gpus_per_replica, big.detail.tensor_parallel_size) == ("L4", 8, 8)
    assert big.sizing.instance.instance_type == "g6.48xlarge"
    # Any L4 instance that holds an 8-GPU replica: only the 8-GPU size does.
    assert big.workers.placement.instance_types == ("g6.48xlarge", "gr6.8xlarge")[:len(big.workers.placement.instance_types)]
    assert big.workers.placement.instance_types[0] == "g6.48xlarge"
    assert [o.instance.instance_type for o in big.sizing.runner_ups][:1] == ["g5.48xlarge"]


def test_fit_failure_names_the_numbers_and_cheaper_fits() -> None:
    d = spec()
    d["services"][0]["source"] = "meta-llama/Llama-3.1-70B-Instruct"
    d["services"][0]["engine"] = {"max_model_len": 8192, "max_num_seqs": 4}
    d["services"][0]["accelerator"] = {"type": "L4", "gpus_per_replica": 1}
    with pytest.raises(SpecError) as exc:
        _resolve(d)
    (line,) = [i.format("s.yaml") for i in exc.value.issues]
    # 131.4 weights + 10.0 KV (327,680 B × 8,192 × 4) + 1.5 overhead = 142.9 GiB.
    assert line.startswith("s.yaml: services[0].accelerator: Llama-3.1-70B-Instruct does not fit: needs 142.9 GiB per replica")
    assert "1× L4 offer 20.1 GiB" in line
    assert "(cheapest that fit: 8× L4 on g6.48xlarge $13.3504/h" in line


def test_tp_that_vllm_rejects_is_a_spec_error() -> None:
    d = spec()
    d["services"][0]["engine"]["tensor_parallel_size"] = 8
    d["services"][0]["accelerator"] = {"type": "L4"}
    with pytest.raises(SpecError) as exc:
        _resolve(d)
    (line,) = [i.format("s.yaml") for i in exc.value.issues]
    assert line == (
        "s.yaml: services[0].engine.tensor_parallel_size: tensor_parallel_size 8 does not divide "
        "Qwen2.5-7B-Instruct's 28 attention heads (vLLM rejects it) (use one of 1, 2, 4, 7)"
    )


def test_unknown_model_with_inline_architecture_is_sized() -> None:
    d = spec()
    d["services"][0]["source"] = "acme/house-model-3b"
    d["services"][0]["architecture"] = {
        "params": 3_000_000_000, "layers": 24, "hidden_size": 3072, "attention_heads": 24, "kv_heads": 8, "max_context": 8192,
    }
    d["services"][0]["accelerator"] = {"type": "auto"}
    (chat, _) = _resolve(d).services
    assert chat.sizing.fit.weights_gib == pytest.approx(3e9 * 2 / GIB)
    assert chat.gpu_type == "L4"
    d["services"][0].pop("architecture")
    with pytest.raises(SpecError, match="accelerator auto needs the model's architecture"):
        _resolve(d)
