"""The data layer through the CLI and the validator: `stackdef data validate`, `stackdef features`,
feature graduation (experimental → validated → production), and the layer's plan and bill."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from stackdef.blueprints.reference.stack import stack as reference

from tests.clirun import run
from tests.util import REPO

BASE = reference.model_dump(mode="json", by_alias=True, exclude_unset=True)


def write_spec(tmp_path: Path, d: dict[str, Any]) -> Path:
    (tmp_path / "app").mkdir(exist_ok=True)
    (tmp_path / "app" / "sentiment.py").write_text((REPO / "blueprints/reference/app/sentiment.py").read_text())
    p = tmp_path / "stack.yaml"
    p.write_text(yaml.safe_dump(d, sort_keys=False))
    return p


def user_stats(folder: Path, rating: float) -> None:
    (folder / "features").mkdir(parents=True, exist_ok=True)
    pd.DataFrame(
        {
            "user_id": np.array([1, 2], dtype="int64"),
            "review_count_30d": np.array([5, 0], dtype="int64"),
            "avg_rating_30d": np.array([rating, 3.0]),
            "event_timestamp": pd.to_datetime([pd.Timestamp.now(tz="UTC")] * 2, utc=True),
        }
    ).to_parquet(folder / "features" / "user_stats.parquet", index=False)


def test_data_validate_runs_the_clusters_checks_here(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, BASE)
    user_stats(tmp_path, 4.2)
    good = run("data", "validate", str(spec), "--dataset", "user-stats", "-f", "json")
    assert good.code == 0, good.stderr
    doc = json.loads(good.stdout)
    assert doc["passed"] and doc["rows"] == 2 and {c["name"] for c in doc["checks"]} >= {"avg_rating_30d: min 1, max 5", "event_timestamp: freshness 2h"}
    user_stats(tmp_path, 7.0)
    bad = run("data", "validate", str(spec), "--dataset", "user-stats")
    assert bad.code == 1
    assert "user-stats: avg_rating_30d: min 1, max 5: 1 of 2 rows" in bad.stderr
    assert "FAIL" in bad.stdout  # the table
    other = tmp_path / "elsewhere"
    user_stats(other, 4.0)
    assert run("data", "validate", str(spec), "--dataset", "user-stats", "--data-dir", str(other)).code == 0


def test_data_validate_usage_errors(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, BASE)
    r = run("data", "validate", str(spec), "--dataset", "nope")
    assert r.code == 2 and "no dataset 'nope' (datasets: reviews, user-stats)" in r.stderr
    plain = copy.deepcopy(BASE)
    del plain["data"]
    (tmp_path / "plain").mkdir()
    r = run("data", "validate", str(write_spec(tmp_path / "plain", plain)), "--dataset", "reviews")
    assert r.code == 2 and "declares no data layer" in r.stderr
    r = run("data", "validate", str(spec), "--dataset", "reviews")  # no file there
    assert r.code == 3 and len(r.lines) == 1 and "reviews" in r.lines[0]


def test_features_lists_stages_and_what_each_view_lacks(tmp_path: Path) -> None:
    d = copy.deepcopy(BASE)
    views = d["data"]["feature_store"]["feature_views"]
    views.append(
        {
            "name": "user-reviews",
            "entities": ["user"],
            "source": {"dataset": "reviews", "timestamp_field": "event_timestamp"},
            "features": {"rating": "int64"},
        }
    )
    r = run("features", str(write_spec(tmp_path, d)), "-f", "json")
    assert r.code == 0, r.stderr
    rows = {v["name"]: v for v in json.loads(r.stdout)["feature_views"]}
    assert rows["user-stats"]["stage"] == "production" and rows["user-stats"]["next_stage"] is None
    assert rows["user-stats"]["feature_services"] == ["sentiment-v1 (production)"]
    assert rows["user-reviews"]["stage"] == "experimental" and rows["user-reviews"]["lacks_for_next"] == []
    table = run("features", str(write_spec(tmp_path, d)))
    assert "user-reviews" in table.stdout and "experimental" in table.stdout and "ready" in table.stdout


@pytest.mark.parametrize(
    "change,field,contains",
    [
        # validated needs checks on the source
        (lambda d: d["data"]["datasets"][1].pop("checks") and d["data"]["datasets"][1].pop("schedule"),
         "data.feature_store.feature_views[0].stage", "lacks validation checks on its source dataset 'user-stats'"),
        # production also needs an owner, a freshness SLA and materialization
        (lambda d: d["data"]["feature_store"]["feature_views"][0].pop("owner"),
         "data.feature_store.feature_views[0].stage", "is in stage production but lacks an owner"),
        (lambda d: d["data"]["feature_store"]["feature_views"][0].pop("materialize"),
         "data.feature_store.feature_views[0].stage", "lacks a materialize schedule"),
        # a production feature service reads production views only
        (lambda d: d["data"]["feature_store"]["feature_views"][0].update(stage="validated"),
         "data.feature_store.feature_services[0].feature_views",
         "production feature service 'sentiment-v1' reads feature view 'user-stats', which is only validated"),
        (lambda d: d["data"]["feature_store"]["feature_services"][0].update(consumers=["nobody"]),
         "data.feature_store.feature_services[0].consumers", "service 'nobody' is not in the stack"),
        (lambda d: d["data"]["feature_store"]["feature_views"][0]["features"].update(user_id="int64"),
         "data.feature_store.feature_views[0].features.user_id", "is also a join key of the view"),
        (lambda d: d["data"]["datasets"][1].update(source={"type": "file", "path": "features/user_stats.csv"}),
         "data.feature_store.feature_views[0].source.dataset", "is a csv file source; Feast's file offline store reads Parquet"),
        (lambda d: d["data"]["datasets"][0].update(schedule="61 * * * *"),
         "data.datasets[0].schedule", "61 is outside 0–59"),
    ],
)
def test_graduation_and_reference_rules(tmp_path: Path, change: Any, field: str, contains: str) -> None:
    d = copy.deepcopy(BASE)
    change(d)
    r = run("validate", str(write_spec(tmp_path, d)))
    assert r.code == 1, r.stderr
    assert any(f": {field}: " in line and contains in line for line in r.lines), r.stderr


def test_plan_shows_the_layer_and_bills_it(tmp_path: Path) -> None:
    d = copy.deepcopy(BASE)
    d["target"] = {"type": "eks", "region": "us-east-1"}
    r = run("plan", str(write_spec(tmp_path, d)), "-f", "json")
    assert r.code == 0, r.stderr
    plan = json.loads(r.stdout)
    section = plan["layers"]["data"]
    assert [ds["name"] for ds in section["datasets"]] == ["reviews", "user-stats"]
    assert section["feature_store"]["feature_views"][0]["stage"] == "production"
    assert plan["images_to_provide"] == [section["image"]]
    (line,) = plan["cost"]["layers"]
    # Feature server 1 CPU / 1 GiB, Redis 0.5 / 1, one job slot 1 / 2 of a 7 CPU / 27.8 GiB
    # m6i.2xlarge ($0.384/h): 2.5 / 7 of a node; and its volumes (11 GiB EFS, 5 GiB gp3).
    assert line["baseline_monthly_usd"] == pytest.approx(round(2.5 / 7 * 0.384 * 730 + 11 * 0.30 + 5 * 0.08, 2), abs=0.01)
    md = run("plan", str(write_spec(tmp_path, d)), "-f", "markdown").stdout
    assert "**Feature views (Feast project reference)**" in md and "| user-stats | production |" in md


def _with_credentials(secret: str, keys: list[str]) -> dict[str, Any]:
    d = copy.deepcopy(BASE)
    d["secrets"] = [*d["secrets"], {"name": "bucket", "keys": keys}]
    d["data"]["datasets"][0]["source"] = {"type": "object_store", "uri": "s3://acme-data/reviews.parquet", "credentials": secret}
    return d


def test_credentials_secrets_are_checked_and_listed(tmp_path: Path) -> None:
    # A credentials Secret is read whole (envFrom): it must be declared, and its keys must be
    # variable names, or the pods start without them.
    ok = run("plan", str(write_spec(tmp_path, _with_credentials("bucket", ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]))), "-f", "json")
    assert ok.code == 0, ok.stderr
    secrets = {s["name"]: s for s in json.loads(ok.stdout)["secrets"]}
    assert secrets["bucket"]["used_by"] == ["data"]
    typo = run("validate", str(write_spec(tmp_path, _with_credentials("bukcet", ["AWS_ACCESS_KEY_ID"]))))
    assert typo.code == 1
    assert "data.datasets[0].source.credentials: secret 'bukcet' is not declared" in typo.stderr and "closest declared: bucket" in typo.stderr
    dashed = run("validate", str(write_spec(tmp_path, _with_credentials("bucket", ["access-key", "AWS_SECRET_ACCESS_KEY"]))))
    assert dashed.code == 1
    assert "data.datasets[0].source.credentials: secret 'bucket' becomes environment variables, but its keys access-key" in dashed.stderr


def test_materialization_reads_an_object_store_with_the_datasets_credentials(tmp_path: Path) -> None:
    from stackdef.pipeline import build

    d = _with_credentials("bucket", ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"])
    view = d["data"]["feature_store"]["feature_views"][0]
    d["data"]["datasets"][1]["source"] = {"type": "object_store", "uri": "s3://acme-data/user_stats.parquet", "credentials": "bucket"}
    objs = build(str(write_spec(tmp_path, d))).compiled.objects()
    cron = next(o for o in objs if o["kind"] == "CronJob" and o["metadata"]["labels"].get("stackdef.dev/feature-view") == view["name"])
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    for c in [*pod["initContainers"], *pod["containers"]]:  # validate-first and feast materialize both read the bucket
        assert c["envFrom"] == [{"secretRef": {"name": "bucket"}}], c["name"]
    # a file source needs no credentials
    (tmp_path / "plain").mkdir()
    plain = build(str(write_spec(tmp_path / "plain", copy.deepcopy(BASE)))).compiled.objects()
    cron = next(o for o in plain if o["kind"] == "CronJob" and o["metadata"]["labels"].get("stackdef.dev/feature-view") == view["name"])
    assert all("envFrom" not in c for c in cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"])
