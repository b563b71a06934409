"""The data layer's cross-field rules, and feature graduation.

A feature is a hypothesis before it is a contract. Each feature view has a stage, and the
obligations grow with it:

- ``experimental``: none;
- ``validated``: its source dataset has validation checks;
- ``production``: also a freshness SLA, an owner and a materialization schedule (validated
  first, unless the source only alerts).

A feature service marked ``production`` may read only production feature views. ``validate``
enforces the obligations of each view's declared stage; ``plan`` and ``stackdef features`` show
what each view lacks to reach the next stage.
"""

from __future__ import annotations

from typing import Any

from stackdef.errors import Issue
from stackdef.layers.data.spec import DataSection, FeatureView, duration_seconds

STAGES = ("experimental", "validated", "production")


def lacks(view: FeatureView, section: DataSection, stage: str) -> list[str]:
    """What ``view`` would need to be in ``stage`` (empty: it qualifies)."""
    out: list[str] = []
    if STAGES.index(stage) >= 1:
        ds = {d.name: d for d in section.datasets}.get(view.source.dataset)
        if ds is None or ds.checks is None or ds.checks.empty:
            out.append(f"validation checks on its source dataset {view.source.dataset!r}")
    if STAGES.index(stage) >= 2:
        if view.freshness_sla is None:
            out.append("a freshness_sla")
        if view.owner is None:
            out.append("an owner")
        if view.materialize is None:
            out.append("a materialize schedule")
    return out


def next_stage(view: FeatureView) -> str | None:
    i = STAGES.index(view.stage)
    return STAGES[i + 1] if i + 1 < len(STAGES) else None


def _dupes(names: list[str]) -> list[str]:
    seen: set[str] = set()
    return sorted({n for n in names if n in seen or seen.add(n)})  # type: ignore[func-returns-value]


def problems(ctx: Any, section: DataSection) -> list[Issue]:
    out: list[Issue] = []
    datasets = {d.name: d for d in section.datasets}
    for name in _dupes([d.name for d in section.datasets]):
        out.append(Issue("data.datasets", f"dataset {name!r} is declared twice", "give each dataset its own name"))
    for i, d in enumerate(section.datasets):
        path = f"data.datasets[{i}]"
        if d.schedule is not None and (d.checks is None or d.checks.empty):
            out.append(Issue(f"{path}.schedule", f"dataset {d.name!r} is scheduled but has no checks", "add checks, or drop the schedule"))
        if d.checks is not None and d.checks.freshness is not None:
            col = d.checks.columns.get(d.checks.freshness.column)
            if col is not None and col.dtype not in (None, "timestamp"):
                out.append(
                    Issue(
                        f"{path}.checks.freshness.column",
                        f"freshness reads {d.checks.freshness.column!r}, whose dtype is {col.dtype}",
                        "point it at a timestamp column",
                    )
                )
        if d.source.type == "file" and section.volume is None and not ctx.target.local:
            out.append(
                Issue(
                    f"{path}.source",
                    f"file dataset {d.name!r} needs the data volume to be read in the cluster",
                    "declare data.volume, or use an object_store source",
                )
            )
    fs = section.feature_store
    if fs is None:
        return out
    entities = {e.name for e in fs.entities}
    views = {v.name: v for v in fs.feature_views}
    services = {s.name for s in ctx.stack.services}
    for what, names in (("entity", [e.name for e in fs.entities]), ("feature view", [v.name for v in fs.feature_views]), ("feature service", [s.name for s in fs.feature_services])):
        for name in _dupes(names):
            out.append(Issue("data.feature_store", f"{what} {name!r} is declared twice", f"give each {what} its own name"))
    features_seen: dict[str, str] = {}
    for i, v in enumerate(fs.feature_views):
        path = f"data.feature_store.feature_views[{i}]"
        for e in v.entities:
            if e not in entities:
                out.append(Issue(f"{path}.entities", f"entity {e!r} is not declared", f"declare it in data.feature_store.entities (declared: {', '.join(sorted(entities))})"))
        ds = datasets.get(v.source.dataset)
        if ds is None:
            out.append(Issue(f"{path}.source.dataset", f"dataset {v.source.dataset!r} is not declared", "declare it in data.datasets"))
        elif ds.source.type not in ("file", "object_store") or ds.source.file_format != "parquet":
            what = f"{ds.source.file_format} {ds.source.type}" if ds.source.type in ("file", "object_store") else ds.source.type
            out.append(
                Issue(
                    f"{path}.source.dataset",
                    f"dataset {ds.name!r} is a {what} source; Feast's file offline store reads Parquet files and objects",
                    "use a Parquet file or object-store dataset",
                )
            )
        elif ds.checks is not None:
            cols = ds.checks.columns
            for field in [v.source.timestamp_field, *v.features]:
                if cols and field not in cols and ds.checks.strict:
                    out.append(Issue(f"{path}.features", f"column {field!r} is not in dataset {ds.name!r}'s strict checks", "add it to the dataset's columns"))
        keys = {k for e in fs.entities if e.name in v.entities for k in e.join_keys}
        stamps = {v.source.timestamp_field, v.source.created_timestamp_field} - {None}
        for f in v.features:
            if f in keys or f in stamps:
                what = "a join key" if f in keys else "a timestamp column"
                out.append(Issue(f"{path}.features.{f}", f"feature {f!r} is also {what} of the view (Feast keeps those apart)", "rename the feature"))
            if f in features_seen:
                out.append(Issue(f"{path}.features.{f}", f"feature {f!r} is also in feature view {features_seen[f]!r}", "rename one of them"))
            features_seen.setdefault(f, v.name)
        missing = lacks(v, section, v.stage)
        if missing:
            out.append(
                Issue(
                    f"{path}.stage",
                    f"feature view {v.name!r} is in stage {v.stage} but lacks {', '.join(missing)}",
                    "add what it lacks, or lower its stage",
                )
            )
        if v.freshness_sla is not None and duration_seconds(v.freshness_sla) < 60:
            out.append(Issue(f"{path}.freshness_sla", f"a freshness SLA of {v.freshness_sla} is below a CronJob's one-minute resolution", "use at least 1m"))
    for i, s in enumerate(fs.feature_services):
        path = f"data.feature_store.feature_services[{i}]"
        for name in s.feature_views:
            v = views.get(name)
            if v is None:
                out.append(Issue(f"{path}.feature_views", f"feature view {name!r} is not declared", "declare it in data.feature_store.feature_views"))
            elif s.production and v.stage != "production":
                out.append(
                    Issue(
                        f"{path}.feature_views",
                        f"production feature service {s.name!r} reads feature view {name!r}, which is only {v.stage}",
                        f"graduate {name!r} to production (it lacks {', '.join(lacks(v, section, 'production')) or 'only the stage'}), or drop it from the service",
                    )
                )
        for c in s.consumers:
            if c not in services:
                out.append(Issue(f"{path}.consumers", f"service {c!r} is not in the stack", f"name one of {', '.join(sorted(services))}"))
    return out


def warnings(ctx: Any, section: DataSection) -> list[Issue]:
    out: list[Issue] = []
    fs = section.feature_store
    if fs is None:
        return out
    datasets = {d.name: d for d in section.datasets}
    for i, v in enumerate(fs.feature_views):
        m = v.materialize
        ds = datasets.get(v.source.dataset)
        if m is not None and m.validate_first and ds is not None and (ds.checks is None or ds.checks.empty):
            out.append(
                Issue(
                    f"data.feature_store.feature_views[{i}].materialize.validate_first",
                    f"dataset {ds.name!r} has no checks, so nothing gates materializing {v.name!r}",
                    "add checks to the dataset",
                )
            )
    return out
