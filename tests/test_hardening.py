"""Bad input never crashes stackdef: each cause found by fuzzing (10,000 mutated specs) as a
regression test. Every case must end with exit 1 (invalid spec) or 2 (usage error), one line per
problem naming the source and the field, no internal error, quickly."""

from __future__ import annotations

import copy
import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.clirun import run

BASE: dict[str, Any] = {
    "name": "demo",
    "target": {"type": "kind"},
    "services": [{"type": "model", "name": "m", "import_path": "app:app", "deployment": "M"}],
}


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def with_(path: list[Any], value: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    d = copy.deepcopy(base or BASE)
    node: Any = d
    for key in path[:-1]:
        node = node[key] if isinstance(key, int) else node.setdefault(key, {})
    node[path[-1]] = value
    return d


def rejected(tmp_path: Path, text: str, *, field: str | None, contains: str, name: str = "s.yaml", code: int = 1) -> str:
    f = write(tmp_path, text, name)
    t0 = time.monotonic()
    r = run("validate", str(f))
    assert time.monotonic() - t0 < 5
    assert r.code == code, (r.code, r.stderr)
    assert len(r.lines) >= 1
    line = r.lines[0]
    assert line.startswith(str(f)), line
    if field is not None:
        assert f": {field}: " in line, line
    assert contains in line, line
    assert len(line) < 1000
    return line


def dump(d: dict[str, Any]) -> str:
    return yaml.safe_dump(d, sort_keys=False)


# --------------------------------------------------------------------------- #
# 1–3: the YAML / JSON layer
# --------------------------------------------------------------------------- #


def test_a_list_as_mapping_key(tmp_path: Path) -> None:
    rejected(tmp_path, dump(BASE) + "? [a]\n: 1\n", field=None, contains="a mapping key is a list or a mapping")


def test_engine_extra_cannot_smuggle_a_typed_field(tmp_path: Path) -> None:
    d = copy.deepcopy(BASE)
    d["services"] = [{"type": "llm", "name": "c", "source": "a/b", "engine": {"extra": {"kv_cache_dtype": ["fp8"]}}}]
    rejected(tmp_path, dump(d), field="services[0].engine.extra", contains="'kv_cache_dtype' is a typed field")
    d["services"][0]["engine"] = {"kv_cache_dtype": ["fp8"]}
    rejected(tmp_path, dump(d), field="services[0].engine.kv_cache_dtype", contains="input should be")


def test_huge_and_malformed_numbers(tmp_path: Path) -> None:
    rejected(tmp_path, "name: " + "9" * 5000 + "\n", field=None, contains="a 5000-digit number")
    rejected(tmp_path, "name: !!float abc\n", field=None, contains="'abc' is not a number")
    rejected(tmp_path, '{"name": ' + "9" * 5000 + "}", name="s.json", field=None, contains="a 5000-digit number")


def test_deep_nesting(tmp_path: Path) -> None:
    rejected(tmp_path, "name: " + "[" * 330 + "]" * 330 + "\n", field=None, contains="nested deeper than 64 levels")
    rejected(tmp_path, '{"name": ' + "[" * 20000 + "]" * 20000 + "}", name="s.json", field=None, contains="nested deeper than 64 levels")
    deep_block = "name:\n" + "".join(" " * i + "- \n" for i in range(1, 200))
    rejected(tmp_path, deep_block, field=None, contains="nested deeper than 64 levels")


def test_aliases_that_expand_without_bound(tmp_path: Path) -> None:
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n'
    for prev, name in zip("abcdef", "bcdefg", strict=True):
        bomb += f"{name}: &{name} [{','.join([f'*{prev}'] * 10)}]\n"
    rejected(tmp_path, bomb, field=None, contains="expands to more than 200,000 values")
    # An alias inside the collection it names is an infinite value: refused, and quickly (it used to hang).
    old = signal.signal(signal.SIGALRM, lambda *_: pytest.fail("a recursive alias hung the reader"))
    signal.alarm(10)
    try:
        for text in ("name: &l [1, *l]\n", "name: &l {k: [*l]}\n"):
            rejected(tmp_path, text, field=None, contains="refers to the collection that contains it")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    # Shared aliases that stay small are fine.
    rejected(tmp_path, "x: &x [1]\nname: [*x, *x]\n", field="name", contains="input should be")


def test_oversized_spec_file(tmp_path: Path) -> None:
    rejected(tmp_path, "name: demo\n# " + "x" * (9 * 2**20) + "\n", field=None, contains="over the 8,388,608-byte limit")


def test_duplicate_json_keys_are_errors_like_yaml(tmp_path: Path) -> None:
    rejected(tmp_path, '{"name": "a", "name": "b"}', name="s.json", field=None, contains="duplicate key 'name'")


# --------------------------------------------------------------------------- #
# 4: numbers that overflow
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    "path,value,field,contains",
    [
        (["services", 0, "resources", "memory"], "9" * 400 + "Gi", "services[0].resources.memory", "string should have at most 32 characters"),
        (["services", 0, "resources", "memory"], "99999999999999999999Ei", "services[0].resources.memory", "is not a positive quantity"),
        (["services", 0, "resources", "memory"], "0Gi", "services[0].resources.memory", "is not a positive quantity"),
        (["services", 0, "autoscaling", "target_ongoing_requests"], float("inf"), None, "is not a finite number"),
        (["services", 0, "autoscaling", "max_replicas"], 2**31, "services[0].autoscaling.max_replicas", "less than or equal to 2147483647"),
        (["budget"], {"monthly_usd": float("inf")}, None, "is not a finite number"),
    ],
)
def test_numbers_that_overflow_are_bounded(tmp_path: Path, path: list[Any], value: Any, field: str | None, contains: str) -> None:
    rejected(tmp_path, dump(with_(path, value)), field=field, contains=contains)


def test_architecture_numbers_are_bounded(tmp_path: Path) -> None:
    d = copy.deepcopy(BASE)
    arch = {"params": int("1" + "0" * 20), "layers": 2, "hidden_size": 8, "attention_heads": 2, "kv_heads": 2, "max_context": 64}
    d["services"] = [{"type": "llm", "name": "c", "source": "a/b", "architecture": arch}]
    rejected(tmp_path, dump(d), field="services[0].architecture.params", contains="less than or equal to")
    d["services"][0]["architecture"] = 5
    # The path names the field, never pydantic's union member names, and the message says what fits.
    line = rejected(tmp_path, dump(d), field="services[0].architecture", contains="architecture must be a catalog model name or a mapping")
    assert "ModelArchitecture" not in line


# --------------------------------------------------------------------------- #
# 5: paths
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    "value,contains",
    [
        ("x" * 300, "cannot be used as a folder: File name too long"),
        ("a\0b", "string should match pattern"),
        ("/proc/1", "string should match pattern"),
        ("/", "string should match pattern"),
        ("../..", "is outside the spec's folder"),
    ],
)
def test_code_paths_must_be_folders_inside_the_spec_tree(tmp_path: Path, value: str, contains: str) -> None:
    d = with_(["services", 0, "code"], {"source": "local", "path": value})
    rejected(tmp_path, dump(d), field="services[0].code.path", contains=contains)


def test_a_huge_code_folder_stops_the_walk_early(tmp_path: Path) -> None:
    app = tmp_path / "app"
    for i in range(600):
        (app / f"d{i // 100}").mkdir(parents=True, exist_ok=True)
        (app / f"d{i // 100}" / f"m{i}.py").write_text("x = 1\n")
    d = with_(["services", 0, "code"], {"source": "local", "path": "app"})
    rejected(tmp_path, dump(d), field="services[0].code.path", contains="holds more than 500 source files")


@pytest.mark.parametrize(
    "value,contains",
    [("x" * 300 + ".csv", "cannot read: File name too long"), ("a\0b", "string should match pattern"), ("/proc/1", "no such file")],
)
def test_pricing_file_paths(tmp_path: Path, value: str, contains: str) -> None:
    rejected(tmp_path, dump(with_(["pricing"], {"file": value})), field="pricing.file", contains=contains)


# --------------------------------------------------------------------------- #
# 6: price rows
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    "row,contains",
    [
        ("aws,x1,us-east-1,,0,8,nan,0.1", "column ram_gib: 'nan' is not a number"),
        ("aws,x1,us-east-1,,0,inf,32,0.1", "column vcpu: 'inf' is not a number"),
        ("aws,x1,us-east-1,,0,1,32,0.1", "column vcpu: 1 leaves no CPU for pods"),
        ("aws,x1,us-east-1,,0,8", "the row has fewer fields than the header"),
        ("aws,x1,us-east-1,,0,8,32,-0.5", "column usd_per_hour: -0.5 is outside"),
    ],
)
def test_bad_price_rows(tmp_path: Path, row: str, contains: str) -> None:
    (tmp_path / "p.csv").write_text("provider,instance_type,region,gpu_model,gpu_count,vcpu,ram_gib,usd_per_hour\n" + row + "\n")
    rejected(tmp_path, dump(with_(["pricing"], {"file": "p.csv"})), field="pricing.file", contains=contains)


# --------------------------------------------------------------------------- #
# 7: budgets at the bounds are fast
# --------------------------------------------------------------------------- #


def test_a_cap_budget_with_max_replicas_at_its_bound_is_instant(tmp_path: Path) -> None:
    for max_replicas in (10**9, 2**31 - 1):
        d = {
            "name": "demo",
            "target": {"type": "gke", "region": "us-central1"},
            "services": [
                {"type": "model", "name": "m", "import_path": "app:app", "deployment": "M",
                 "autoscaling": {"min_replicas": 1, "max_replicas": max_replicas}}
            ],
            "budget": {"monthly_usd": 5000, "policy": "cap"},
        }
        f = write(tmp_path, dump(d))
        t0 = time.monotonic()
        r = run("plan", str(f), "-f", "json")
        assert time.monotonic() - t0 < 2
        assert r.code == 0, r.stderr
        cost = json.loads(r.stdout)["cost"]
        assert cost["ceiling_monthly_usd"] <= 5000
        assert cost["services"][0]["cut"]["from_max_replicas"] == max_replicas


# --------------------------------------------------------------------------- #
# 8 and the smaller ones: labels, names, images, messages
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    "labels,contains",
    [
        ({"k" * 2**20: "v"}, "string should have at most 317 characters"),
        ({"k": "v" * 2**20}, "string should have at most 63 characters"),
        ({"": "v"}, "label key '' is not valid"),
        ({"/x": "v"}, "label key '/x' is not valid"),
        ({"example.com/": "v"}, "label key 'example.com/' is not valid"),
        ({"a": "-v-"}, "label value '-v-' is not valid"),
    ],
)
def test_labels_follow_kubernetes_grammar(tmp_path: Path, labels: dict[str, str], contains: str) -> None:
    line = rejected(tmp_path, dump(with_(["labels"], labels)), field=None, contains=contains)
    assert ": labels" in line


def test_storage_classes_and_images_are_names(tmp_path: Path) -> None:
    d = copy.deepcopy(BASE)
    d["services"] = [{"type": "llm", "name": "c", "source": "a/b", "model_cache": {"storage_class": ".."}}]
    rejected(tmp_path, dump(d), field="services[0].model_cache.storage_class", contains="string should match pattern")
    rejected(tmp_path, dump(with_(["services", 0, "image"], "a:b:c")), field="services[0].image", contains="is not an image reference")


def test_control_characters_are_escaped_in_one_line(tmp_path: Path) -> None:
    line = rejected(tmp_path, dump(with_(["name"], "bad\x07name\nsecond")), field="name", contains="\\x07")
    assert "\n" not in line and "\\n" in line


def test_messages_stay_short_with_thousands_of_declarations(tmp_path: Path) -> None:
    d = copy.deepcopy(BASE)
    d["secrets"] = [{"name": f"s-{i}", "keys": ["k"]} for i in range(1000)]
    d["services"] = [
        {"type": "model", "name": f"m{i}", "import_path": "app:app", "deployment": "M", "secret_env": {"X": {"secret": "nope", "key": "k"}}}
        for i in range(100)
    ]
    f = write(tmp_path, dump(d))
    r = run("validate", str(f))
    assert r.code == 1
    assert len(r.lines) == 100 and max(map(len, r.lines)) < 400
    assert r.lines[0].endswith("(add it to `secrets` with key 'k'; declared: s-0, s-1, s-10, s-100, s-101 and 995 more)")


def test_plan_json_is_strict_json(tmp_path: Path) -> None:
    r = run("plan", str(write(tmp_path, dump(BASE))), "-f", "json")
    assert r.code == 0
    json.loads(r.stdout, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))


def test_offline_commands_pause_the_cyclic_collector_and_restore_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The collector's full passes were a third of a 3,000-service plan; the pause must never outlive
    # the command (the in-process runner, a notebook or a test session keep running).
    import gc

    from stackdef import pipeline

    seen: list[bool] = []
    real = pipeline.build

    def spy(*a: Any, **k: Any) -> Any:
        seen.append(gc.isenabled())
        return real(*a, **k)

    monkeypatch.setattr(pipeline, "build", spy)
    good = write(tmp_path, dump(BASE))
    assert run("plan", str(good), "-f", "json").code == 0
    assert seen == [False] and gc.isenabled()
    bad = write(tmp_path, dump(with_(["services", 0, "autoscaling"], {"min_replicas": 3, "max_replicas": 1})), "bad.yaml")
    assert run("plan", str(bad)).code == 1
    assert gc.isenabled()
