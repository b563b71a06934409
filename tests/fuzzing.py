"""Mutations of the shipped specs, for the fuzz test and ``bench/fuzz.py``.

Seeds are every shipped example and blueprint (Python blueprints are dumped
to YAML). A case is one seed plus one mutation, either at the field level
(a value replaced by a value of another type, a boundary value, a hostile
string; a key removed or added; a list emptied or doubled) or at the YAML
level (truncation, stray bytes, deep nesting, huge numbers, aliases, tags,
duplicate keys, non-scalar keys). Each case runs ``validate``, ``plan -f
json``, ``cost -f json`` and ``render`` in-process and is judged by
:func:`check`: exit code 0, 1 or 2, no traceback, every error line naming its
source (and, for a field error, the field), and a failed render leaving its
output folder exactly as it was.
"""

from __future__ import annotations

import copy
import json
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.clirun import Result, run
from tests.util import REPO

FIELD_CLASSES = ("type-swap", "boundary", "hostile-string", "remove-key", "unknown-key", "list-shape")
YAML_CLASSES = ("truncate", "stray-bytes", "deep-nesting", "huge-number", "alias-bomb", "yaml-tag", "duplicate-key", "complex-key")
CLASSES = FIELD_CLASSES + YAML_CLASSES

BOUNDARY = [0, -1, 1, 2**31 - 1, 2**31, 2**63, 10**40, 10**400, 0.0, -0.5, 1e308, 1e-308, float("inf"), float("-inf"), float("nan"), True, False, None]
HOSTILE = [
    "", " ", "x" * 300, "x" * 5000, "a\x00b", "bell\x07", "line\nbreak", "tab\there", "../../etc", "/", "..",
    "ÿ-ünïcødé", "UPPER", "-leading", "trailing-", "a" * 64, "app:latest", "a:b:c", "999999999999999999Gi", "9" * 400 + "Gi", "0Gi", "NaN",
    "x" * 2**20, "k8s.io/", "/x", "a/b/c", "1e400",
    "s3://", "pvc://", "{{ template }}", "$(whoami)", "😀",
]
SWAPS = [0, 1.5, "text", [], {}, [1, 2], {"k": "v"}, None, True]


@dataclass
class Seed:
    name: str
    text: str
    #: Files the spec needs beside it (relative path -> source path), e.g. the blueprint's app/.
    beside: dict[str, Path] = field(default_factory=dict)

    @property
    def data(self) -> Any:
        return yaml.safe_load(self.text)


def seeds() -> list[Seed]:
    from stackdef.loader import load

    out = []
    for p in sorted((REPO / "examples").glob("*.yaml")):
        out.append(Seed(p.relative_to(REPO).as_posix(), p.read_text()))
    for p in sorted((REPO / "blueprints").glob("*/stack*.yaml")):
        out.append(Seed(p.relative_to(REPO).as_posix(), p.read_text(), {"app": p.parent / "app"}))
    for p in sorted((REPO / "blueprints").glob("*/stack*.py")):
        stack = load(str(p)).stack
        text = yaml.safe_dump(stack.model_dump(mode="json", by_alias=True, exclude_unset=True), sort_keys=False)
        out.append(Seed(p.relative_to(REPO).as_posix(), text, {"app": p.parent / "app"}))
    return out


def spec_models(root: type) -> set[type]:
    """Every pydantic model reachable from ``root`` through field annotations (unions included)."""
    from stackdef.locations import models_within

    return set(models_within(root))


def models_in(obj: Any) -> set[type]:
    """The model classes a validated spec instantiates."""
    from pydantic import BaseModel

    out: set[type] = set()
    todo = [obj]
    while todo:
        o = todo.pop()
        if isinstance(o, BaseModel):
            out.add(type(o))
            todo.extend(getattr(o, k) for k in type(o).model_fields)
        elif isinstance(o, list | tuple):
            todo.extend(o)
        elif isinstance(o, dict):
            todo.extend(o.values())
    return out


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, prefix + (i,))
    return out


def _get(node: Any, path: tuple) -> Any:
    for key in path:
        node = node[key]
    return node


def _set(node: Any, path: tuple, value: Any) -> None:
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def mutate_fields(data: Any, cls: str, rng: random.Random) -> Any:
    d = copy.deepcopy(data)
    paths = _paths(d)
    if not paths:
        return d
    # Aim: numbers get boundary values, strings hostile ones (quantities get huge ones).
    want = {"boundary": (int, float), "hostile-string": (str,)}.get(cls)
    aimed = [p for p in paths if want and isinstance(_get(d, p), want) and not isinstance(_get(d, p), bool)]
    path = rng.choice(aimed or paths)
    value = _get(d, path)
    if cls == "hostile-string" and isinstance(value, str) and value[:1].isdigit():
        _set(d, path, rng.choice(["9" * 400 + "Gi", "1e400", "0", "0Gi", "-1", "1.5.5", "99999999999999999999Ei", "nan"]))
        return d
    if cls == "type-swap":
        _set(d, path, rng.choice([v for v in SWAPS if type(v) is not type(value)]))
    elif cls == "boundary":
        _set(d, path, rng.choice(BOUNDARY))
    elif cls == "hostile-string":
        _set(d, path, rng.choice(HOSTILE))
    elif cls == "remove-key":
        parent = _get(d, path[:-1]) if len(path) > 1 else d
        if isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent.pop(path[-1])
    elif cls == "unknown-key":
        parent = _get(d, path[:-1]) if len(path) > 1 else d
        if isinstance(parent, dict):
            key = rng.choice(["max_replica", "extra_field", str(path[-1]) + "s", "Type", "x" * 2**20, ""])
            parent[key] = rng.choice(SWAPS + HOSTILE[:8])
    elif cls == "list-shape":
        if isinstance(value, list):
            _set(d, path, rng.choice([[], value * 2, value + value[:1], [None]]))
        elif isinstance(value, dict):
            _set(d, path, rng.choice([{}, [value], {str(i): value for i in range(3)}]))
        else:
            _set(d, path, [value, value])
    return d


def mutate_text(text: str, cls: str, rng: random.Random) -> str:
    lines = text.splitlines(keepends=True)
    if cls == "truncate":
        return text[: rng.randrange(1, max(2, len(text)))]
    if cls == "stray-bytes":
        i = rng.randrange(0, len(text))
        junk = rng.choice(["\t", "\x00", "\x07", "\ufeff", ":", "- ", "{", "]", "'", '"', "&", "*", "!", "%", "@", "`", "\\"])
        return text[:i] + junk + text[i:]
    if cls == "deep-nesting":
        depth = rng.choice([10, 70, 330, 5000])
        return text + f"labels: {'[' * depth}{']' * depth}\n"
    if cls == "huge-number":
        return text + f"extra_number: {'9' * rng.choice([40, 400, 5000])}\n"
    if cls == "alias-bomb":
        if rng.random() < 0.25:  # an alias inside the collection it names
            return text + rng.choice(["loop: &l [1, *l]\n", "loop: &l {k: *l}\n", "loop: &l [[[*l]]]\n"])
        bomb = 'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n'
        for prev, name in zip("abcdef", "bcdefg", strict=True):
            bomb += f"{name}: &{name} [{','.join([f'*{prev}'] * 10)}]\n"
        return bomb + text
    if cls == "yaml-tag":
        return text.replace("name:", rng.choice(["name: !!float", "name: !!binary", "name: !!python/object:os.system", "name: !custom"]), 1)
    if cls == "duplicate-key":
        if not lines:
            return text
        line = rng.choice([ln for ln in lines if ":" in ln] or lines)
        return text + line
    if cls == "complex-key":
        return text + rng.choice(["? [a]\n: 1\n", "? {k: v}\n: 1\n", "[x]: 1\n"])
    raise ValueError(cls)


@dataclass
class Case:
    seed: Seed
    cls: str
    text: str


def make_case(seed: Seed, cls: str, rng: random.Random) -> Case:
    if cls in FIELD_CLASSES:
        text = yaml.safe_dump(mutate_fields(seed.data, cls, rng), sort_keys=False, allow_unicode=True)
    else:
        text = mutate_text(seed.text, cls, rng)
    return Case(seed, cls, text)


@dataclass
class Outcome:
    code: int
    seconds: float
    problems: list[str]


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()} if folder.exists() else {}


def check(case: Case, work: Path) -> Outcome:
    """Run the offline commands on the case (diff against its seed too); list every broken promise."""
    work.mkdir(parents=True, exist_ok=True)
    for rel, src in case.seed.beside.items():
        if src.is_dir() and not (work / rel).exists():
            shutil.copytree(src, work / rel)
    # The output folder holds an earlier render of the seed plus a file of the user's own.
    seed_out = work / f"seed-render-{abs(hash(case.seed.name))}"
    if not seed_out.exists():
        (work / "seed.yaml").write_text(case.seed.text, encoding="utf-8")
        r = run("render", str(work / "seed.yaml"), "-o", str(seed_out))
        assert r.code == 0, r.stderr
        (seed_out / "NOTES.md").write_text("the user's own file")
    spec = work / "stack.yaml"
    spec.write_text(case.text, encoding="utf-8", errors="surrogatepass")
    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(seed_out, out)
    before = _tree(out)
    problems: list[str] = []
    worst = 0
    t0 = time.monotonic()
    commands = (
        ["validate", str(spec)],
        ["plan", str(spec), "-f", "json"],
        ["cost", str(spec), "-f", "json"],
        ["render", str(spec), "-o", str(out)],
        ["diff", str(work / "seed.yaml"), str(spec), "-f", "json"],
    )
    for args in commands:
        start = time.monotonic()
        try:
            r = run(*args)
        except AssertionError as exc:  # an exception escaped the CLI
            problems.append(f"{args[0]}: {exc}")
            worst = 3
            continue
        took = time.monotonic() - start
        if took > 2:
            problems.append(f"{args[0]}: took {took:.1f} s")
        worst = max(worst, r.code)
        problems += [f"{args[0]}: {p}" for p in judge(r, str(spec))]
        if args[0] == "render":
            after = _tree(out)
            if r.code != 0 and after != before:
                problems.append("render: a failed render changed the output folder")
            if after.get("NOTES.md") != before["NOTES.md"]:
                problems.append("render: the user's own file was lost")
        if args[0] in ("plan", "cost", "diff") and r.code == 0:
            try:
                json.loads(r.stdout, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
            except ValueError as exc:
                problems.append(f"{args[0]}: stdout is not strict JSON: {exc}")
    return Outcome(worst, time.monotonic() - t0, problems)


def judge(r: Result, source: str) -> list[str]:
    problems = []
    if r.code not in (0, 1, 2):
        problems.append(f"exit code {r.code}: {r.stderr[-300:]}")
    for line in r.lines:
        if line.startswith(("warning: ", "stackdef: ")):
            continue
        if not line.startswith(source):
            problems.append(f"error line does not name its source: {line[:200]}")
            continue
        rest = line[len(source):]
        # `SOURCE:LINE:COL: problem` (file level) or `SOURCE: field.path: problem` (field level).
        if not (rest.startswith(": ") or rest[:1] == ":" and rest[1:2].isdigit()):
            problems.append(f"malformed error line: {line[:200]}")
    if r.code == 1 and not r.lines:
        problems.append("exit 1 without a message")
    return problems
