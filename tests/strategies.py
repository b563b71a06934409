"""Hypothesis strategies for stack specs: valid first, then 0–2 random mutations.

``stacks()`` draws specs around the valid region (bad values, broken
references and inconsistent numbers are applied as mutations), so tests see
both valid and invalid specs often; ``valid_stacks()`` draws no mutations.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

names = st.from_regex(r"[a-z][a-z0-9-]{0,38}[a-z0-9]", fullmatch=True)
gpus = st.sampled_from(["L4", "T4", "H100", "A100-80G", "A100-40G", "H200", "B200"])
targets = st.one_of(
    st.just({"type": "kind"}),
    st.builds(lambda r: {"type": "eks", "region": r}, st.sampled_from(["us-east-1", "eu-west-1"])),
    st.just({"type": "gke", "region": "us-central1"}),
    st.just({"type": "aks", "region": "eastus"}),
    st.builds(
        lambda key: {"type": "existing", "context": "prod", "gpu_nodes": {"label_key": key, "labels": {"pool": "gpu"}}},
        st.sampled_from(["nvidia.com/gpu.product", None, "example.com/gpu"]),
    ),
)


@st.composite
def autoscaling(draw: Any) -> dict[str, Any]:
    lo = draw(st.integers(0, 3))
    hi = draw(st.integers(max(lo, 1), 10))
    out = {"min_replicas": lo, "max_replicas": hi}
    if draw(st.booleans()):
        out["target_ongoing_requests"] = draw(st.sampled_from([1, 2.5, 64]))
    if draw(st.booleans()):
        out["initial_replicas"] = draw(st.integers(lo, hi))
    return out


@st.composite
def llm(draw: Any) -> dict[str, Any]:
    tp = draw(st.sampled_from([1, 2, 4]))
    pp = draw(st.sampled_from([1, 1, 2]))
    engine: dict[str, Any] = {"tensor_parallel_size": tp, "pipeline_parallel_size": pp}
    engine.update(
        draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "dtype": st.sampled_from(["auto", "bfloat16", "float16"]),
                    "max_model_len": st.integers(512, 32768),
                    "gpu_memory_utilization": st.floats(0.5, 0.95),
                    "max_num_seqs": st.integers(1, 256),
                    "extra": st.sampled_from([{}, {"enable_prefix_caching": True}]),
                },
            )
        )
    )
    svc: dict[str, Any] = {
        "type": "llm",
        "name": draw(names),
        "source": draw(st.sampled_from(["Qwen/Qwen2.5-7B-Instruct", "s3://models-bucket/qwen", "pvc://weights/q"])),
        "engine": engine,
        "accelerator": {"type": draw(gpus | st.just("auto")), "gpus_per_replica": draw(st.sampled_from([None, tp * pp]))},
        "autoscaling": draw(autoscaling()),
    }
    if draw(st.booleans()):
        svc["model_cache"] = {"size": draw(st.sampled_from(["20Gi", "100Gi"]))}
    if draw(st.booleans()):
        svc["hf_token"] = {"secret": "hf-token", "key": "token"}
    return svc


@st.composite
def model(draw: Any) -> dict[str, Any]:
    res: dict[str, Any] = {"cpu": draw(st.sampled_from([0.5, 1, 3.2])), "memory": draw(st.sampled_from(["512Mi", "2Gi"]))}
    if draw(st.booleans()):
        res.update(gpus=draw(st.integers(1, 2)), accelerator=draw(gpus))
    return {
        "type": "model",
        "name": draw(names),
        "import_path": draw(st.sampled_from(["app:app", "pkg.mod:build"])),
        "deployment": draw(st.sampled_from(["Model", "my-deployment"])),
        "resources": res,
        "autoscaling": draw(autoscaling()),
        "code": draw(st.sampled_from([{"source": "image"}, {"source": "remote", "working_dir": "s3://b-1/app.zip"}])),
    }


def _set(path: tuple, value: Any) -> Any:
    def apply(d: dict[str, Any]) -> None:
        node: Any = d
        for key in path[:-1]:
            if isinstance(node, list):
                if not node:
                    return
                key = key % len(node)
            node = node.setdefault(key, {}) if isinstance(node, dict) else node[key]
        node[path[-1]] = value

    return apply


MUTATIONS = [
    _set(("name",), "Bad_Name"),
    _set(("name",), "x" * 41),
    _set(("target",), {"type": "nomad"}),
    _set(("target",), {"type": "eks", "region": "Bad Region"}),
    _set(("services", 0, "name"), "9starts-with-digit"),
    _set(("services", 0, "autoscaling"), {"min_replicas": 5, "max_replicas": 2}),
    _set(("services", 0, "autoscaling"), {"min_replicas": -1}),
    _set(("services", 0, "unknown_field"), 1),
    _set(("services", 0, "resources"), {"cpu": 0}),
    _set(("services", 0, "engine"), {"tensor_parallel_size": 3}),
    _set(("services", 0, "engine"), {"dtype": "fp4"}),
    _set(("services", 0, "engine"), {"extra": {"model": "x"}}),
    _set(("services", 0, "accelerator"), {"type": "RTX9999"}),
    _set(("services", 0, "hf_token"), {"secret": "missing", "key": "token"}),
    _set(("services", 0, "model_cache"), {"size": "lots"}),
    _set(("services", 0, "image"), "app:latest"),
    _set(("services", -1, "type"), "batch"),
    _set(("services",), []),
    _set(("secrets",), [{"name": "hf-token", "keys": []}]),
]


@st.composite
def stacks(draw: Any, mutations: int = 2) -> dict[str, Any]:
    services = draw(st.lists(st.one_of(llm(), model()), min_size=1, max_size=3, unique_by=lambda s: s["name"]))
    data = {
        "apiVersion": "stackdef.dev/v1alpha1",
        "name": draw(names),
        "target": draw(targets),
        "secrets": [{"name": "hf-token", "keys": ["token"]}],
        "services": services,
        "network": draw(st.sampled_from([{}, {"allow_from_namespaces": ["web"], "monitoring_namespace": "monitoring"}])),
    }
    for mutate in draw(st.lists(st.sampled_from(MUTATIONS), max_size=mutations)):
        mutate(data)
    return data




def valid_stacks() -> st.SearchStrategy[dict[str, Any]]:
    return stacks(mutations=0)
