"""The ``data`` layer: validated datasets (pandera) and a Feast feature store, beside the services."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stackdef.errors import Issue
from stackdef.layers.base import Layer
from stackdef.layers.data import rules
from stackdef.layers.data.spec import DataSection
from stackdef.spec.base import WholeSecret


def _checks_count(ds: Any) -> int:
    c = ds.checks
    if c is None:
        return 0
    per_column = sum(
        sum(
            1
            for x in (col.dtype, col.max_null_fraction, col.min, col.max, col.allowed, col.regex)
            if x is not None
        )
        + int(col.unique)
        + int(not col.nullable and col.max_null_fraction is None)
        for col in c.columns.values()
    )
    return per_column + int(c.rows is not None) + int(c.freshness is not None) + int(c.strict)


class DataLayer(Layer):
    name = "data"
    spec = DataSection
    description = "Validated datasets (pandera checks on a schedule) and a Feast feature store."

    def rules(self, ctx: Any, section: DataSection) -> list[Issue]:
        return rules.problems(ctx, section)

    def warnings(self, ctx: Any, section: DataSection) -> list[Issue]:
        return rules.warnings(ctx, section)

    def secret_refs(self, section: DataSection) -> Iterable[tuple[str, Any]]:
        for i, ds in enumerate(section.datasets):
            if ds.source.type == "postgres":
                yield f"datasets[{i}].source.password", ds.source.password
            elif getattr(ds.source, "credentials", None) is not None:
                yield f"datasets[{i}].source.credentials", WholeSecret(ds.source.credentials)
        fs = section.feature_store
        if fs is not None and fs.online_store.password is not None:
            yield "feature_store.online_store.password", fs.online_store.password

    def resolve(self, ctx: Any, section: DataSection) -> Any:
        from stackdef.layers.data.resolve import resolve_data

        return resolve_data(ctx, section)

    def service_env(self, rl: Any) -> dict[str, dict[str, str]]:
        d = rl.detail
        if d.feature_server is None:
            return {}
        return {
            svc: {"FEAST_FEATURE_SERVER_URL": d.feature_server, "FEAST_FEATURE_SERVICES": ",".join(names)}
            for svc, names in d.consumers.items()
        }

    def components(self, rst: Any, rl: Any) -> list[Any]:
        from stackdef.layers.data.compile import components

        return components(rst, rl)

    def plan_section(self, rst: Any, rl: Any) -> dict[str, Any]:
        section: DataSection = rl.spec
        d = rl.detail
        out: dict[str, Any] = {
            "image": d.image,
            "datasets": [
                {
                    "name": ds.name,
                    "source": ds.source.type,
                    "checks": _checks_count(ds),
                    "schedule": ds.schedule,
                    "on_failure": ds.on_failure,
                }
                for ds in section.datasets
            ],
        }
        fs = section.feature_store
        if fs is not None:
            out["feature_store"] = {
                "project": fs.project,
                "online_store": fs.online_store.type,
                "server": d.feature_server,
                "feature_views": [feature_row(v, section) for v in fs.feature_views],
                "feature_services": [
                    {"name": s.name, "feature_views": list(s.feature_views), "consumers": list(s.consumers), "production": s.production}
                    for s in fs.feature_services
                ],
            }
        return out


    def plan_tables(self, section: dict[str, Any]) -> list[tuple[str, tuple[str, ...], list[tuple[str, ...]]]]:
        out: list[tuple[str, tuple[str, ...], list[tuple[str, ...]]]] = []
        if section["datasets"]:
            out.append(
                (
                    "Datasets",
                    ("dataset", "source", "checks", "schedule", "on failure"),
                    [(d["name"], d["source"], str(d["checks"]), d["schedule"] or "—", d["on_failure"]) for d in section["datasets"]],
                )
            )
        fs = section.get("feature_store")
        if fs:
            out.append(
                (
                    f"Feature views (Feast project {fs['project']})",
                    ("feature view", "stage", "features", "source", "materialize", "to graduate"),
                    [
                        (
                            v["name"],
                            v["stage"],
                            ", ".join(v["features"]),
                            v["source"],
                            v["materialize"] or "—",
                            (f"{v['next_stage']}: needs {', '.join(v['lacks_for_next'])}" if v["lacks_for_next"] else f"{v['next_stage']}: ready")
                            if v["next_stage"]
                            else "—",
                        )
                        for v in fs["feature_views"]
                    ],
                )
            )
            if fs["feature_services"]:
                out.append(
                    (
                        "Feature services",
                        ("feature service", "feature views", "read by", "production"),
                        [(s["name"], ", ".join(s["feature_views"]), ", ".join(s["consumers"]) or "—", "yes" if s["production"] else "no") for s in fs["feature_services"]],
                    )
                )
        return out

    def stages(self, section: dict[str, Any]) -> dict[str, str]:
        fs = section.get("feature_store")
        return {f"feature view {v['name']}": v["stage"] for v in fs["feature_views"]} if fs else {}

    def graph(self, section: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        nodes: list[dict[str, Any]] = []
        edges: list[dict[str, Any]] = []
        for d in section["datasets"]:
            nodes.append({"id": f"ds:{d['name']}", "label": f"{d['name']} ({d['source']})", "group": "data", "shape": "data", "component": "data"})
            if d["checks"]:
                job = f"check:{d['name']}"
                nodes.append({"id": job, "label": f"validate {d['name']} · {d['checks']} checks, on failure {d['on_failure']}", "group": "data", "shape": "job", "component": "data"})
                edges.append({"from": f"ds:{d['name']}", "to": job, "label": "checked by"})
        fs = section.get("feature_store")
        if fs:
            nodes.append({"id": "feast:online", "label": f"online store ({fs['online_store']})", "group": "features", "shape": "store", "component": "feast-online"})
            for v in fs["feature_views"]:
                vid = f"fv:{v['name']}"
                nodes.append({"id": vid, "label": f"{v['name']} · {v['stage']}", "group": "features", "shape": "data", "component": "feast-registry"})
                edges.append({"from": f"ds:{v['source']}", "to": vid, "label": "source"})
                if v["materialize"]:
                    edges.append({"from": vid, "to": "feast:online", "label": "materialized"})
            if fs["server"]:
                nodes.append({"id": "feast:server", "label": "feature server", "group": "features", "shape": "service", "component": "feast-server"})
                edges.append({"from": "feast:online", "to": "feast:server", "label": ""})
                for s in fs["feature_services"]:
                    for consumer in s["consumers"]:
                        edges.append({"from": "feast:server", "to": f"svc:{consumer}", "label": s["name"]})
        return {"nodes": nodes, "edges": edges}


def feature_row(view: Any, section: DataSection) -> dict[str, Any]:
    nxt = rules.next_stage(view)
    return {
        "name": view.name,
        "stage": view.stage,
        "features": sorted(view.features),
        "source": view.source.dataset,
        "owner": view.owner,
        "freshness_sla": view.freshness_sla,
        "materialize": view.materialize.schedule if view.materialize else None,
        "next_stage": nxt,
        "lacks_for_next": rules.lacks(view, section, nxt) if nxt else [],
    }


LAYER = DataLayer()
