"""The generated Feast repository against the real Feast 0.67 and a real redis-server.

A small Parquet dataset is written here; the spec objects are declared here; the repository
is laid out the way a ConfigMap mount lays it out (each file a symlink into a
``..<timestamp>`` folder) and the in-cluster commands run on it as they stand: ``feast apply``
through :func:`apply_command`, materialization through :func:`materialize_command`, both the
real ``feast`` CLI. Then serving (Redis) and training (the file offline store's point-in-time
join) are compared. Redis is a private ``redis-server`` on a free loopback port, with a
password, stopped by its PID afterwards.
"""

from __future__ import annotations

import ast
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from stackdef.layers.data.feast_repo import (
    DEFINITIONS,
    FEATURE_STORE_YAML,
    PASSWORD_GUARD,
    apply_command,
    materialize_command,
    repo_files,
    serve_command,
)
from stackdef.layers.data.spec import Dataset, Entity, FeatureStore
from tests import servers

VENV_BIN = Path(sys.executable).parent

# --------------------------------------------------------------------------- spec and data


def _store_spec(**view_changes: Any) -> FeatureStore:
    driver_stats: dict[str, Any] = dict(
        name="driver-stats",
        entities=["driver"],
        source=dict(dataset="driver-hourly", timestamp_field="event_timestamp", created_timestamp_field="created"),
        features=dict(conv_rate="float32", acc_rate="float64", trips="int64", rating="int32", city="string", active="bool"),
        ttl="2h",
        stage="production",
        owner="ranking-team@example.com",
        freshness_sla="1h",
        materialize=dict(schedule="*/30 * * * *"),
        description="Hourly driver statistics.",
    )
    driver_stats.update(view_changes)
    return FeatureStore.model_validate(
        dict(
            project="rides",
            online_store=dict(type="redis", password=dict(secret="feast-redis", key="password")),
            entities=[
                dict(name="driver", join_keys=["driver_id"], value_type="int64", description="A driver."),
                dict(name="customer", join_keys=["customer_id"], value_type="string"),
            ],
            feature_views=[
                driver_stats,
                dict(
                    name="customer-profile",
                    entities=["customer"],
                    source=dict(dataset="customers", timestamp_field="ts"),
                    features=dict(segment="string", lifetime_value="float64", is_vip="bool"),
                    ttl="1d",
                ),
            ],
            feature_services=[
                dict(name="driver-ranking", feature_views=["driver-stats"], consumers=["ranker"]),
                dict(name="everything", feature_views=["driver-stats", "customer-profile"]),
            ],
        )
    )


DATASETS = {
    # Checks: a production view's dataset must have them (rules.py); the repo does not read them.
    "driver-hourly": Dataset.model_validate(
        dict(name="driver-hourly", source=dict(type="file", path="drivers/hourly.parquet"), checks=dict(columns=dict(conv_rate=dict(min=0, max=1))))
    ),
    "customers": Dataset.model_validate(dict(name="customers", source=dict(type="file", path="customers.parquet"))),
}
DRIVER_FEATURES = ["conv_rate", "acc_rate", "trips", "rating", "city", "active"]
CUSTOMER_FEATURES = ["segment", "lifetime_value", "is_vip"]


def _write_data(data_dir: Path, t0: datetime) -> None:
    import numpy as np
    import pandas as pd

    h, m = timedelta(hours=1), timedelta(minutes=1)
    # (driver, event, created, conv_rate, acc_rate, trips, rating, city, active)
    rows = [
        (1001, t0 - 5 * h, t0 - 5 * h, 0.1, 0.91, 10, 3, "lisbon", True),  # older than the TTL at t0 - 2h30m
        (1001, t0 - 90 * m, t0 - 90 * m, 0.2, 0.92, 20, 4, "lisbon", True),  # the value at t0 - 1h
        (1001, t0 - 30 * m, t0 - 30 * m, 0.3, 0.93, 30, 5, "porto", False),  # later: the latest
        (1002, t0 - 50 * m, t0 - 50 * m, 0.5, 0.80, 7, 2, "faro", True),
        (1002, t0 - 10 * m, t0 - 9 * m, 0.6, 0.81, 8, 2, "faro", True),
        (1002, t0 - 10 * m, t0 - 5 * m, 0.65, 0.82, 9, 3, "braga", True),  # same event, created later: wins
        (1003, t0 - 4 * h, t0 - 4 * h, 0.9, 0.99, 99, 1, "evora", False),  # only event: past the 2h TTL
    ]
    cols = list(zip(*rows, strict=True))
    drivers = pd.DataFrame(
        {
            "driver_id": np.array(cols[0], dtype="int64"),
            "event_timestamp": pd.to_datetime(list(cols[1]), utc=True),
            "created": pd.to_datetime(list(cols[2]), utc=True),
            "conv_rate": np.array(cols[3], dtype="float32"),
            "acc_rate": np.array(cols[4], dtype="float64"),
            "trips": np.array(cols[5], dtype="int64"),
            "rating": np.array(cols[6], dtype="int32"),
            "city": list(cols[7]),
            "active": np.array(cols[8], dtype="bool"),
        }
    )
    (data_dir / "drivers").mkdir(parents=True)
    drivers.to_parquet(data_dir / "drivers" / "hourly.parquet", index=False)
    customers = pd.DataFrame(
        {
            "customer_id": ["c-1", "c-1", "c-2"],
            "ts": pd.to_datetime([t0 - 30 * h, t0 - 3 * h, t0 - 1 * h], utc=True),
            "segment": ["new", "gold", "silver"],
            "lifetime_value": np.array([10.0, 250.5, 99.25]),
            "is_vip": [False, True, False],
        }
    )
    customers.to_parquet(data_dir / "customers.parquet", index=False)


# --------------------------------------------------------------------------- a real Redis


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    """A private redis-server with a random password; stopped by its PID, whatever happens."""
    with servers.redis_server(tmp_path_factory.mktemp("redis")) as found:
        yield found


# --------------------------------------------------------------------------- the applied store


@dataclass
class Applied:
    store: Any  # feast.FeatureStore
    t0: datetime
    password: str
    dirs: list[Path]
    #: What the apply and materialize commands printed.
    output: str


def _configmap_layout(root: Path, files: dict[str, str]) -> Path:
    """Lay the files out as a ConfigMap volume does: symlinks through ..data into a hidden folder."""
    stamp = root / "..2025_01_01_00_00_00.000000001"
    stamp.mkdir(parents=True)
    for name, text in files.items():
        (stamp / name).write_text(text)
    (root / "..data").symlink_to(stamp.name)
    for name in files:
        (root / name).symlink_to(f"..data/{name}")
    return root


def _start(argv: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc: subprocess.Popen[str]) -> str:
    try:
        out, _ = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, f"{proc.args!r} failed ({proc.returncode}):\n{out[-6000:]}"
    return out


@pytest.fixture(scope="module")
def applied(redis_server: tuple[int, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Applied]:
    port, password = redis_server
    root = tmp_path_factory.mktemp("feast")
    t0 = datetime.now(UTC).replace(microsecond=0)
    data_dir, registry = root / "data", root / "registry" / "registry.db"
    _write_data(data_dir, t0)
    files = repo_files(
        _store_spec(), DATASETS, data_dir=str(data_dir), registry_path=str(registry),
        redis_address=f"127.0.0.1:{port}", redis_ssl=False,
    )
    repo = _configmap_layout(root / "repo", files)
    # The pods' environment: feast on PATH, the password from the Secret, no inherited Feast overrides.
    env = {k: v for k, v in os.environ.items() if k not in ("FEATURE_STORE_YAML_BASE64", "FEATURE_REPO_DIR_ENV_VAR", "FEAST_FS_YAML_FILE_PATH")}
    env.update(PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}", REDIS_PASSWORD=password)
    apply = _start(apply_command(str(repo), work_dir=str(root / "work")), env)
    try:
        import feast  # three seconds: while the apply Job's command runs
    finally:
        output = _finish(apply)
    # The CronJob's command: up to now (date -u in the container), from now - ttl on a first run.
    output += _finish(_start(materialize_command("driver-stats", str(repo)), env))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REDIS_PASSWORD", password)
        store = feast.FeatureStore(repo_path=str(repo))
        store.materialize(t0 - timedelta(days=7), t0, feature_views=["customer-profile"])
        yield Applied(store, t0, password, [root], output)


# --------------------------------------------------------------------------- tests against Feast and Redis


def _online(store: Any, features: Any, rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return dict(store.get_online_features(features=features, entity_rows=rows).to_dict())


@pytest.mark.slow
def test_the_password_is_in_no_file(applied: Applied) -> None:
    # Feast has connected with it (apply and materialize succeeded) ...
    files = [p for d in applied.dirs for p in d.rglob("*") if p.is_file()]
    assert any(p.name == "registry.db" for p in files) and any(p.name == DEFINITIONS for p in files)
    # ... and it is written nowhere: not in the repo, its working copy, the registry or the data.
    assert [str(p) for p in files if applied.password.encode() in p.read_bytes()] == []
    assert "driver-stats" in applied.output and applied.password not in applied.output


@pytest.mark.slow
def test_serving_returns_the_latest_values(applied: Applied) -> None:
    refs = [f"driver-stats:{f}" for f in DRIVER_FEATURES]
    got = _online(applied.store, refs, [{"driver_id": 1001}, {"driver_id": 1002}, {"driver_id": 1003}])
    assert got["driver_id"] == [1001, 1002, 1003]
    assert got["conv_rate"][:2] == pytest.approx([0.3, 0.65])
    assert got["acc_rate"][:2] == [0.93, 0.82]
    assert got["trips"][:2] == [30, 9]
    assert got["rating"][:2] == [5, 3]
    assert got["city"][:2] == ["porto", "braga"]  # 1002: the row created later wins the tie
    assert got["active"][:2] == [False, True]
    # 1003's only event is older than the TTL: the first incremental run (from now - ttl) skips it.
    assert [got[f][2] for f in DRIVER_FEATURES] == [None] * len(DRIVER_FEATURES)
    got = _online(applied.store, [f"customer-profile:{f}" for f in CUSTOMER_FEATURES], [{"customer_id": "c-1"}, {"customer_id": "c-2"}])
    assert got == {
        "customer_id": ["c-1", "c-2"],
        "segment": ["gold", "silver"],
        "lifetime_value": [250.5, 99.25],
        "is_vip": [True, False],
    }


@pytest.mark.slow
def test_a_feature_service_serves_its_views_features(applied: Applied) -> None:
    service = applied.store.get_feature_service("driver-ranking")
    assert service.tags == {"stackdef.production": "false", "stackdef.consumers": "ranker"}
    got = _online(applied.store, service, [{"driver_id": 1001}])
    assert sorted(got) == sorted(["driver_id", *DRIVER_FEATURES])
    assert _online(applied.store, [f"driver-stats:{f}" for f in DRIVER_FEATURES], [{"driver_id": 1001}]) == got
    everything = _online(applied.store, applied.store.get_feature_service("everything"), [{"driver_id": 1002, "customer_id": "c-2"}])
    assert sorted(everything) == sorted(["driver_id", "customer_id", *DRIVER_FEATURES, *CUSTOMER_FEATURES])
    assert (everything["city"], everything["segment"]) == (["braga"], ["silver"])
    view = applied.store.get_feature_view("driver-stats")
    assert view.ttl == timedelta(hours=2) and view.online and view.owner == "ranking-team@example.com"
    assert view.tags == {
        "stackdef.stage": "production", "stackdef.dataset": "driver-hourly", "stackdef.owner": "ranking-team@example.com",
        "stackdef.freshness_sla": "1h", "stackdef.materialize": "*/30 * * * *",
    }


def _same(online: Any, historical: Any) -> bool:
    if online is None:
        return historical is None or (isinstance(historical, float) and math.isnan(historical))
    if isinstance(online, bool):
        return bool(historical) == online
    if isinstance(online, (int, float)):
        return float(historical) == float(online)  # exact: both read the stored float32/float64
    return historical == online


@pytest.mark.slow
def test_training_and_serving_agree_point_in_time(applied: Applied) -> None:
    """Must stay the last test on the store: it ends by materializing a wider window (see the end)."""
    import pandas as pd

    store, t0, h, m = applied.store, applied.t0, timedelta(hours=1), timedelta(minutes=1)
    asked = [(1001, t0), (1001, t0 - 60 * m), (1001, t0 - 2 * h - 30 * m), (1002, t0), (1003, t0), (9999, t0)]
    entity_df = pd.DataFrame({"driver_id": [d for d, _ in asked], "event_timestamp": pd.to_datetime([at for _, at in asked], utc=True)})
    refs = [f"driver-stats:{f}" for f in DRIVER_FEATURES]
    hist = store.get_historical_features(entity_df=entity_df, features=refs).to_df()
    hist["event_timestamp"] = pd.to_datetime(hist["event_timestamp"], utc=True)

    def row(driver: int, at: datetime) -> dict[str, Any] | None:
        rows = hist[(hist["driver_id"] == driver) & (hist["event_timestamp"] == pd.Timestamp(at))].to_dict("records")
        assert len(rows) <= 1
        return {f: (None if rows[0][f] is pd.NA else rows[0][f]) for f in DRIVER_FEATURES} if rows else None

    def empty(r: dict[str, Any] | None) -> bool:
        return r is None or all(_same(None, v) for v in r.values())

    online = _online(store, refs, [{"driver_id": 1001}, {"driver_id": 1002}, {"driver_id": 1003}])
    # After the last event training reads exactly what serving returns, for every entity.
    for i, driver in enumerate([1001, 1002, 1003]):
        r, served = row(driver, t0), {f: online[f][i] for f in DRIVER_FEATURES}
        assert (empty(r) and served == dict.fromkeys(DRIVER_FEATURES)) or (r is not None and all(_same(served[f], r[f]) for f in DRIVER_FEATURES)), (driver, r, served)
    assert online["city"][:2] == ["porto", "braga"] and row(1003, t0) is None
    # At t0 - 1h: the value of t0 - 90m, not the later row of t0 - 30m.
    r = row(1001, t0 - 60 * m)
    assert r is not None and (float(r["conv_rate"]), r["trips"], r["rating"], r["city"]) == (pytest.approx(0.2), 20, 4, "lisbon")
    # At t0 - 2h30m the newest earlier row (t0 - 5h) is past the 2h TTL: no values.
    assert empty(row(1001, t0 - 2 * h - 30 * m))
    # How: Feast 0.67's file offline store drops an entity row whose candidate rows are all past
    # the TTL (its TTL filter runs after the left join), where an entity it has never seen gets nulls.
    assert len(hist) == len(asked) - 2
    assert empty(row(9999, t0)) and row(9999, t0) is not None

    customers = pd.DataFrame({"customer_id": ["c-1", "c-1"], "event_timestamp": pd.to_datetime([t0, t0 - 20 * h], utc=True)})
    chist = store.get_historical_features(entity_df=customers, features=[f"customer-profile:{f}" for f in CUSTOMER_FEATURES]).to_df()
    assert list(chist.sort_values("event_timestamp")["segment"]) == ["new", "gold"]

    # Feast applies the TTL to training only (feast-dev/feast#1802, closed as won't fix): whatever a
    # wider window loads into Redis is served however old it is. From a week back, 1003's 4h-old
    # value (TTL 2h) reaches serving while training at the same instant has none.
    store.materialize(t0 - timedelta(days=7), t0, feature_views=["driver-stats"])
    assert _online(store, ["driver-stats:city"], [{"driver_id": 1003}])["city"] == ["evora"]
    assert row(1003, t0) is None


# --------------------------------------------------------------------------- the files themselves


def _files(**view_changes: Any) -> dict[str, str]:
    return repo_files(
        _store_spec(**view_changes), DATASETS, data_dir="/data", registry_path="/feast/registry/registry.db",
        redis_address="feast-redis:6379", redis_ssl=False,
    )


def test_the_files_are_byte_stable_and_follow_the_features() -> None:
    a, b = _files(), _files()
    assert sorted(a) == [FEATURE_STORE_YAML, DEFINITIONS]
    assert a == b and all(a[k].encode() == b[k].encode() for k in a)
    more = _files(features=dict(conv_rate="float32", acc_rate="float64", trips="int64", rating="int32", city="string", active="bool", surge="float64"))
    assert more[DEFINITIONS] != a[DEFINITIONS]
    assert "Field(name='surge', dtype=Float64)," in more[DEFINITIONS]
    # The store's configuration does not depend on the features.
    assert more[FEATURE_STORE_YAML] == a[FEATURE_STORE_YAML]


def test_every_name_is_a_literal() -> None:
    """Descriptions and owners go through repr: quotes, backslashes and newlines come back intact."""
    nasty = "it's \"quoted\" \\ and\nmultiline ''' \"\"\" {{ x }} ${HOME}"
    text = _files(description=nasty, owner="o'brien \"the\" owner")[DEFINITIONS]
    tree = ast.parse(text)
    views = [
        {kw.arg: kw.value for kw in node.keywords}
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "FeatureView"
    ]
    stats = next(v for v in views if ast.literal_eval(v["name"]) == "driver-stats")
    assert ast.literal_eval(stats["description"]) == nasty
    assert ast.literal_eval(stats["owner"]) == "o'brien \"the\" owner"


@pytest.mark.parametrize("password", ["12e3", "true", "null", "p@ss: #word", "$HOME", "ünï"])
def test_the_password_survives_feasts_own_loader(password: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Feast expands ${REDIS_PASSWORD} before parsing the YAML, then json-decodes each value of the
    connection string; the JSON quotes keep a password that looks like a number or a keyword a string."""
    from feast.infra.online_stores.redis import RedisOnlineStore
    from feast.repo_config import load_repo_config

    monkeypatch.setenv("REDIS_PASSWORD", password)
    (tmp_path / FEATURE_STORE_YAML).write_text(
        repo_files(_store_spec(), DATASETS, data_dir="/data", registry_path="/r/registry.db",
                   redis_address="redis.example.com:6380", redis_ssl=True)[FEATURE_STORE_YAML]
    )
    config = load_repo_config(tmp_path, tmp_path / FEATURE_STORE_YAML)
    assert (config.project, config.entity_key_serialization_version, config.offline_store.type) == ("rides", 3, "file")
    nodes, params = RedisOnlineStore._parse_connection_string(config.online_store.connection_string)
    assert nodes == [{"host": "redis.example.com", "port": "6380"}]
    assert params == {"password": password, "ssl": True}


def test_a_redis_without_a_password(tmp_path: Path) -> None:
    from feast.repo_config import load_repo_config

    text = repo_files(_store_spec(), DATASETS, data_dir="/data", registry_path="/r/registry.db",
                      redis_address="cache.internal:6379", redis_ssl=True, password_env=None)[FEATURE_STORE_YAML]
    assert "connection_string: 'cache.internal:6379,ssl=true'" in text and "password=" not in text
    (tmp_path / FEATURE_STORE_YAML).write_text(text)
    assert load_repo_config(tmp_path, tmp_path / FEATURE_STORE_YAML).online_store.connection_string == "cache.internal:6379,ssl=true"


def test_in_cluster_commands() -> None:
    assert apply_command() == [
        "sh", "-c",
        PASSWORD_GUARD + 'set -eu; rm -rf "$2"; mkdir -p "$2"; cp -L "$1"/*.yaml "$1"/*.py "$2"/; exec feast -c "$2" apply',
        "feast-apply", "/feast/repo", "/tmp/feast-repo",
    ]
    assert materialize_command("driver-stats") == [
        "sh", "-c",
        PASSWORD_GUARD + 'set -eu; exec feast -c "$1" materialize-incremental "$(date -u +%Y-%m-%dT%H:%M:%S)" --views "$2"',
        "feast-materialize", "/feast/repo", "driver-stats",
    ]


@pytest.mark.parametrize("password", ["a,b", "it's", 'say "x"', "back\\slash"])
def test_a_password_feast_cannot_carry_stops_every_pod_in_one_line(password: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from feast.infra.online_stores.redis import RedisOnlineStore
    from feast.repo_config import load_repo_config

    # Why: through Feast's own loader the password does not arrive intact (or does not parse).
    monkeypatch.setenv("REDIS_PASSWORD", password)
    (tmp_path / FEATURE_STORE_YAML).write_text(
        repo_files(_store_spec(), DATASETS, data_dir="/data", registry_path="/r/registry.db", redis_address="redis:6379", redis_ssl=False)[FEATURE_STORE_YAML]
    )
    try:
        config = load_repo_config(tmp_path, tmp_path / FEATURE_STORE_YAML)
        arrived = RedisOnlineStore._parse_connection_string(config.online_store.connection_string)[1].get("password")
    except Exception as exc:  # refusing to parse is the other way Feast fails here
        arrived = exc
    assert arrived != password
    # So each Feast pod's script stops before Feast runs, naming the problem.
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "feast").write_text("#!/bin/sh\necho feast ran\n")
    (fake_bin / "feast").chmod(0o755)
    for cmd in (apply_command(str(tmp_path)), materialize_command("v", str(tmp_path)), serve_command(6566, str(tmp_path))):
        env = {"PATH": f"{fake_bin}:/usr/bin:/bin", "REDIS_PASSWORD": password}
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30)
        assert (proc.returncode, proc.stdout) == (2, ""), (cmd, proc)
        assert proc.stderr.count("\n") == 1 and "Redis password contains" in proc.stderr
        assert password not in proc.stderr  # the value itself is never printed


@pytest.mark.parametrize("password", [None, "", "12e3", "p@ss: #word", "$HOME", "ünï"])
def test_the_password_guard_lets_good_passwords_through(password: str | None, tmp_path: Path) -> None:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "feast").write_text("#!/bin/sh\necho feast ran \"$@\"\n")
    (fake_bin / "feast").chmod(0o755)
    env = {"PATH": f"{fake_bin}:/usr/bin:/bin"} | ({} if password is None else {"REDIS_PASSWORD": password})
    proc = subprocess.run(serve_command(6566, str(tmp_path)), env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and proc.stdout.startswith("feast ran -c"), proc


def test_what_feast_cannot_take_is_refused() -> None:
    raw = _store_spec().model_dump()
    raw["entities"][0]["join_keys"].append("region_id")
    # Feast takes one join key per entity: the spec itself says so (and repo_files would refuse).
    with pytest.raises(ValueError, match="at most 1 item"):
        FeatureStore.model_validate(raw)
    two_keys = FeatureStore.model_construct(**{**_store_spec().__dict__, "entities": [Entity.model_construct(**{**_store_spec().entities[0].__dict__, "join_keys": ["driver_id", "region_id"]})]})
    with pytest.raises(ValueError, match="takes exactly one"):
        repo_files(two_keys, DATASETS, data_dir="/data", registry_path="/r", redis_address="r:6379", redis_ssl=False)
    csv = {**DATASETS, "customers": Dataset.model_validate(dict(name="customers", source=dict(type="file", path="c.csv")))}
    with pytest.raises(ValueError, match="Parquet only"):
        repo_files(_store_spec(), csv, data_dir="/data", registry_path="/r", redis_address="r:6379", redis_ssl=False)
    with pytest.raises(ValueError, match="expand"):
        repo_files(_store_spec(), DATASETS, data_dir="/data", registry_path="/$HOME/r", redis_address="r:6379", redis_ssl=False)


def test_object_store_sources_and_shared_datasets() -> None:
    raw = _store_spec().model_dump()
    # A second view over the same dataset by another timestamp needs a source of its own.
    raw["feature_views"].append(
        dict(name="driver-daily", entities=["driver"], source=dict(dataset="driver-hourly", timestamp_field="day"), features=dict(daily_trips="int64"))
    )
    datasets = {**DATASETS, "customers": Dataset.model_validate(dict(name="customers", source=dict(type="object_store", uri="s3://lake/crm/customers.parquet")))}
    text = repo_files(FeatureStore.model_validate(raw), datasets, data_dir="/data/", registry_path="/r", redis_address="r:6379", redis_ssl=False)[DEFINITIONS]
    sources = [
        {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg != "file_format"}
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "FileSource"
    ]
    assert sources == [
        dict(name="driver-hourly__event_timestamp__created", path="/data/drivers/hourly.parquet", timestamp_field="event_timestamp", created_timestamp_column="created"),
        dict(name="customers", path="s3://lake/crm/customers.parquet", timestamp_field="ts"),
        dict(name="driver-hourly__day", path="/data/drivers/hourly.parquet", timestamp_field="day"),
    ]
