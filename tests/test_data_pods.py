"""The data layer's compiled pods, run as the kubelet runs them (tests/pod_runner.py), against a
real redis-server and a real Pushgateway: `feast apply`, materialization gated by validation
(a failing check keeps the rows out of the online store), the validation CronJob's metrics, and
the feature server reachable by exactly the services that read it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from stackdef.blueprints.reference.stack import stack as reference

from stackdef.compile import compile_stack
from stackdef.loader import validate_stack
from stackdef.resolve import resolve
from tests import servers
from tests.pod_runner import pod_spec, run_pod

REDIS_DNS = "feast-redis.reference.svc.cluster.local:6379"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("cluster")
    with servers.redis_server(root / "redis") as (port, password), servers.pushgateway() as gateway:
        d = reference.model_dump(mode="json", by_alias=True, exclude_unset=True)
        d["data"]["pushgateway"] = gateway
        objs = compile_stack(resolve(validate_stack(d, "s.yaml"))).objects()
        yield {
            "objs": objs,
            "by_name": {(o["kind"], o["metadata"]["name"]): o for o in objs},
            "config_maps": {o["metadata"]["name"]: o["data"] for o in objs if o["kind"] == "ConfigMap"},
            "claims": {"data": root / "pv-data", "feast-registry": root / "pv-registry"},
            "secrets": {"feast-redis": {"password": password}},
            "addresses": {REDIS_DNS: f"127.0.0.1:{port}"},
            "root": root,
            "gateway": gateway,
            "password": password,
        }


def _run(cluster: Any, kind: str, name: str, tag: str) -> Any:
    obj = next(o for (k, n), o in cluster["by_name"].items() if k == kind and n.startswith(name))
    return run_pod(
        pod_spec(obj),
        workdir=cluster["root"] / tag,
        config_maps=cluster["config_maps"],
        claims=cluster["claims"],
        secrets=cluster["secrets"],
        addresses=cluster["addresses"],
        paths={"/data": cluster["claims"]["data"]},
    )


def _user_stats(cluster: Any, rating: float, when: datetime) -> None:
    folder = cluster["claims"]["data"] / "features"
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(
        {
            "user_id": np.array([1, 2], dtype="int64"),
            "review_count_30d": np.array([12, 3], dtype="int64"),
            "avg_rating_30d": np.array([rating, 4.0]),
            "event_timestamp": pd.to_datetime([when, when], utc=True),
        }
    ).to_parquet(folder / "user_stats.parquet", index=False)


def _online(cluster: Any, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    from feast import FeatureStore

    repo = cluster["root"] / "client-repo"
    repo.mkdir(exist_ok=True)
    text = cluster["config_maps"]["feast-repo"]["feature_store.yaml"]
    text = text.replace("/feast/registry", str(cluster["claims"]["feast-registry"])).replace(REDIS_DNS, cluster["addresses"][REDIS_DNS])
    (repo / "feature_store.yaml").write_text(text)
    monkeypatch.setenv("REDIS_PASSWORD", cluster["password"])
    store = FeatureStore(repo_path=str(repo))
    got = store.get_online_features(features=["user-stats:avg_rating_30d"], entity_rows=[{"user_id": 1}]).to_dict()
    return got["avg_rating_30d"]


def test_apply_then_materialize_then_a_failing_check_blocks_the_next_run(cluster: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    applied = _run(cluster, "Job", "feast-apply", "apply")
    assert applied.succeeded, applied.output
    assert (cluster["claims"]["feast-registry"] / "registry.db").is_file()

    _user_stats(cluster, 4.5, now - timedelta(minutes=20))
    first = _run(cluster, "CronJob", "materialize-user-stats", "materialize-1")
    assert list(first.exit_codes) == ["validate-first", "materialize"] and first.succeeded, first.output
    assert _online(cluster, monkeypatch) == [4.5]

    # New rows break a check (ratings go up to 5): validation fails, the pod stops there, and the
    # online store keeps serving the last good value.
    _user_stats(cluster, 9.5, now - timedelta(minutes=5))
    second = _run(cluster, "CronJob", "materialize-user-stats", "materialize-2")
    assert second.exit_codes == {"validate-first": 1}
    assert "user-stats: avg_rating_30d: min 1, max 5: " in second.output["validate-first"]
    assert _online(cluster, monkeypatch) == [4.5]
    # The password never reaches a file the pods read or an output line.
    for text in (*first.output.values(), *second.output.values(), *cluster["config_maps"]["feast-repo"].values()):
        assert cluster["password"] not in text


def test_the_validation_cronjob_reports_to_the_pushgateway(cluster: Any) -> None:
    folder = cluster["claims"]["data"] / "reviews"
    folder.mkdir(parents=True, exist_ok=True)
    now = pd.Timestamp.now(tz="UTC")
    pd.DataFrame(
        {
            "review_id": ["r1", "r2", "r2"],  # a duplicate id
            "user_id": np.array([1, 2, 3], dtype="int64"),
            "rating": np.array([5, 3, 4], dtype="int64"),
            "text": ["great", "ok", "fine"],
            "event_timestamp": [now, now, now],
        }
    ).to_parquet(folder / "reviews.parquet", index=False)
    run = _run(cluster, "CronJob", "validate-reviews", "validate-reviews")
    assert run.exit_codes == {"validate": 1}
    assert "reviews: review_id: unique: " in run.output["validate"]
    metrics = servers.scrape(cluster["gateway"])
    assert 'stackdef_data_check_passed{check="review_id: unique",dataset="reviews",instance="",job="stackdef-data-validate",stack="reference"} 0' in metrics
    assert 'stackdef_data_rows_checked{dataset="reviews",instance="",job="stackdef-data-validate",stack="reference"} 3' in metrics


def test_only_the_consumer_services_reach_the_feature_server(cluster: Any) -> None:
    objs = cluster["by_name"]
    policy = objs[("NetworkPolicy", "feast-server")]["spec"]
    (rule,) = policy["ingress"]
    assert rule["from"] == [{"podSelector": {"matchLabels": {"stackdef.dev/service": "sentiment", "stackdef.dev/stack": "reference"}}}]
    assert rule["ports"] == [{"protocol": "TCP", "port": 6566}]
    # The consumer's pods know where the server is and which feature service to ask for.
    sentiment = objs[("RayService", "sentiment")]["spec"]["rayClusterConfig"]
    for group in [sentiment["headGroupSpec"], *sentiment["workerGroupSpecs"]]:
        env = {e["name"]: e.get("value") for e in group["template"]["spec"]["containers"][0]["env"]}
        assert env["FEAST_FEATURE_SERVER_URL"] == "http://feast-server.reference.svc.cluster.local:6566"
        assert env["FEAST_FEATURE_SERVICES"] == "sentiment-v1"
    chat = objs[("Deployment", "chat")]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert "FEAST_FEATURE_SERVER_URL" not in {e["name"] for e in chat}
    # Redis admits the Feast pods only.
    (redis_rule,) = objs[("NetworkPolicy", "feast-redis")]["spec"]["ingress"]
    assert redis_rule["from"][0]["podSelector"]["matchExpressions"][0]["values"] == ["feast-apply", "feast-materialize", "feast-server"]
