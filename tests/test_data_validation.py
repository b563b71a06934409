"""Dataset validation against the real pandera, real files and a real Pushgateway.

- every check kind passes good rows and fails bad ones, naming the check in its line, read from
  Parquet and from CSV;
- the schema :mod:`stackdef.layers.data.checks` writes is what pandera's own ``to_yaml`` writes
  for the same schema built with pandera's API, byte for byte; it survives pandera's round
  trip; both schemas find the same failures;
- the runner's exit codes (0, 1, 2 bad job, 3 unreadable source) with one line and no
  traceback, from a subprocess;
- metrics pushed to ``/usr/bin/prometheus-pushgateway`` (started here, stopped by PID), the
  last success surviving a failed run, and the ``--metrics-file`` text format.
"""

from __future__ import annotations

import importlib.util
import io
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa
import pytest
import yaml
from pandera.io import pandas_io
from prometheus_client.parser import text_string_to_metric_families

from stackdef import yamlio
from stackdef.layers.data.checks import fullmatch_pattern, job_document, pandera_schema
from stackdef.layers.data.spec import Checks, Dataset
from stackdef.runtime import validate
from stackdef.runtime.validate import run
from tests import servers

REPO = Path(__file__).resolve().parents[1]
NOW = pd.Timestamp.now(tz="UTC").floor("s")


def _dataset(checks: dict[str, Any], source: dict[str, Any] | None = None, name: str = "orders") -> Dataset:
    return Dataset.model_validate({"name": name, "source": source or {"type": "file", "path": "rows.parquet"}, "checks": checks})


def _write(df: pd.DataFrame, folder: Path, fmt: str) -> dict[str, Any]:
    path = folder / f"rows.{fmt}"
    if fmt == "parquet":
        df.to_parquet(path, index=False)
    else:
        df.to_csv(path, index=False)
    return {"type": "file", "path": path.name}


def _validate(tmp_path: Path, checks: dict[str, Any], df: pd.DataFrame, fmt: str = "parquet", **kw: Any):
    ds = _dataset(checks, _write(df, tmp_path, fmt))
    out, err = io.StringIO(), io.StringIO()
    result = run(job_document("shop", ds, kw.pop("pushgateway", None)), tmp_path, out=out, err=err, **kw)
    return result, out.getvalue().splitlines(), err.getvalue()


# --------------------------------------------------------------------------- every check kind

# (case, checks, good rows, bad rows, the one check the bad rows fail)
KINDS = [
    ("dtype int64", {"columns": {"x": {"dtype": "int64"}}}, {"x": [1, 2]}, {"x": ["a", "b"]}, "x: dtype int64"),
    ("dtype float64", {"columns": {"x": {"dtype": "float64"}}}, {"x": [1.5, 2.0]}, {"x": ["a", "b"]}, "x: dtype float64"),
    ("dtype string", {"columns": {"x": {"dtype": "string"}}}, {"x": ["a", "007"]}, {"x": [1.5, 2.5]}, "x: dtype string"),
    ("dtype bool", {"columns": {"x": {"dtype": "bool"}}}, {"x": [True, False]}, {"x": ["yes", "no"]}, "x: dtype bool"),
    ("dtype timestamp", {"columns": {"x": {"dtype": "timestamp"}}}, {"x": [NOW, NOW]}, {"x": ["soon", "later"]}, "x: dtype timestamp"),
    ("nullable", {"columns": {"x": {"dtype": "float64"}}}, {"x": [1.0, 2.0]}, {"x": [1.0, None]}, "x: not null"),
    (
        "max_null_fraction",
        {"columns": {"x": {"dtype": "float64", "max_null_fraction": 0.25}}},
        {"x": [1.0, None, 3.0, 4.0]},
        {"x": [None, None, 3.0, 4.0]},
        "x: max null fraction 0.25",
    ),
    ("min", {"columns": {"x": {"min": 0}}}, {"x": [0, 5]}, {"x": [-1, 5]}, "x: min 0"),
    ("max", {"columns": {"x": {"max": 10}}}, {"x": [3, 10]}, {"x": [3, 11]}, "x: max 10"),
    ("min and max", {"columns": {"x": {"min": 0, "max": 10}}}, {"x": [0, 10]}, {"x": [5, 10.5]}, "x: min 0, max 10"),
    ("allowed", {"columns": {"x": {"allowed": ["EUR", "USD"]}}}, {"x": ["EUR", "USD"]}, {"x": ["EUR", "usd"]}, "x: allowed"),
    ("unique", {"columns": {"x": {"unique": True}}}, {"x": [1, 2]}, {"x": [1, 1]}, "x: unique"),
    # "EURO" starts with a match: fullmatch semantics fail it, pandera's re.match alone would not.
    ("regex", {"columns": {"x": {"dtype": "string", "regex": "[A-Z]{3}"}}}, {"x": ["EUR", "USD"]}, {"x": ["EUR", "EURO"]}, "x: regex"),
    ("row count min", {"rows": {"min": 3}}, {"x": [1, 2, 3]}, {"x": [1, 2]}, "row count: min 3"),
    ("row count max", {"rows": {"max": 2}}, {"x": [1, 2]}, {"x": [1, 2, 3]}, "row count: max 2"),
    (
        "freshness",
        {"freshness": {"column": "ts", "max_age": "1h"}},
        {"ts": [NOW - pd.Timedelta("3h"), NOW - pd.Timedelta("10m")]},
        {"ts": [NOW - pd.Timedelta("3h"), NOW - pd.Timedelta("2h")]},
        "ts: freshness 1h",
    ),
    ("strict", {"columns": {"x": {}}, "strict": True}, {"x": [1]}, {"x": [1], "y": [2]}, "columns: strict"),
    ("present", {"columns": {"x": {"nullable": True}}}, {"x": [None, 1.0]}, {"y": [1]}, "x: present"),
]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
@pytest.mark.parametrize("case, checks, good, bad, failing", KINDS, ids=[k[0] for k in KINDS])
def test_every_check_kind(tmp_path: Path, fmt: str, case: str, checks: dict, good: dict, bad: dict, failing: str) -> None:
    result, lines, err = _validate(tmp_path, checks, pd.DataFrame(good), fmt)
    assert result.exit_code == 0, lines
    assert all(c.passed for c in result.checks) and failing in [c.name for c in result.checks]
    assert lines == [f"stackdef-validate: orders: all {len(result.checks)} checks passed on {len(good[next(iter(good))]):,} rows in {lines[0].split(' in ')[-1]}"]
    assert err == ""

    result, lines, err = _validate(tmp_path, checks, pd.DataFrame(bad), fmt)
    if fmt == "csv" and case == "dtype string":
        assert result.exit_code == 0  # every CSV value is text: "1.5" is a string there
        return
    assert result.exit_code == 1
    assert [c.name for c in result.failed] == [failing], lines
    assert len(lines) == 2 and lines[0].startswith(f"stackdef-validate: orders: {failing}: "), lines
    assert lines[1].startswith("stackdef-validate: orders: 1 of ") and "checks failed" in lines[1]
    assert err == ""


def test_messages_say_what_failed(tmp_path: Path) -> None:
    checks = {"columns": {"amount": {"dtype": "float64", "min": 0}, "cur": {"allowed": ["EUR", "USD"]}}, "rows": {"min": 10}}
    df = pd.DataFrame({"amount": [5.0, -1.0, -2.5] * 334, "cur": ["EUR", "usd", "USD"] * 334})
    result, lines, _ = _validate(tmp_path, checks, df)
    by_name = {c.name: c for c in result.checks}
    assert by_name["amount: min 0"].rows == 668
    assert by_name["amount: min 0"].message == "668 of 1,002 rows are below 0 (first failing values: -1.0, -2.5)"
    assert by_name["cur: allowed"].message.startswith("334 of 1,002 rows are not among the 2 allowed values ('EUR', 'USD')")
    assert by_name["row count: min 10"].passed and by_name["amount: dtype float64"].passed
    assert by_name["amount: dtype float64"].message == "passed"
    assert lines[0] == "stackdef-validate: orders: amount: min 0: 668 of 1,002 rows are below 0 (first failing values: -1.0, -2.5)"


def test_missing_column_fails_its_checks(tmp_path: Path) -> None:
    result, lines, _ = _validate(tmp_path, {"columns": {"a": {"dtype": "int64", "min": 0}, "b": {}}}, pd.DataFrame({"b": [1]}))
    failed = {c.name: c.message for c in result.failed}
    assert failed["a: present"] == "column a is missing (the data has 1 columns: b)"
    assert failed["a: min 0"] == "not checked: column a is missing"
    assert set(failed) == {"a: present", "a: dtype int64", "a: not null", "a: min 0"}


# --------------------------------------------------------------------------- Parquet and CSV

FULL = {
    "columns": {
        "order_id": {"dtype": "int64", "unique": True, "min": 1},
        "amount": {"dtype": "float64", "min": 0, "max": 10000},
        "discount": {"dtype": "float64", "max": 0.5, "nullable": True},
        "currency": {"dtype": "string", "allowed": ["EUR", "USD"], "regex": "(?i)[a-z]{3}"},
        "coupon": {"dtype": "string", "max_null_fraction": 0.5},
        "qty": {"dtype": "int64", "nullable": True},
        "paid": {"dtype": "bool"},
        "created_at": {"dtype": "timestamp"},
    },
    "rows": {"min": 2, "max": 1000},
    "freshness": {"column": "created_at", "max_age": "2h"},
    "strict": True,
}


def _good_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": [1, 2, 3, 4],
            "amount": [10.0, 0.0, 9999.5, 10000.0],
            "discount": [0.1, None, 0.5, 0.0],
            "currency": ["EUR", "USD", "EUR", "USD"],
            "coupon": ["A1", None, "B2", None],
            "qty": pd.array([1, None, 3, 4], dtype="Int64"),  # int64 with empty values: float64 once pandas reads it
            "paid": [True, False, True, True],
            "created_at": pd.to_datetime([NOW - pd.Timedelta("1d"), NOW, NOW, NOW], utc=True).as_unit("us"),
        }
    )


def _bad_rows() -> pd.DataFrame:
    df = _good_rows()
    df["order_id"] = [1, 1, 0, 4]  # unique, min
    df["discount"] = [0.1, None, 0.9, 0.0]  # max
    df["currency"] = ["EUR", "usd", "EURO", None]  # not null, allowed (usd, EURO), regex (EURO)
    df["coupon"] = [None, None, None, "x"]  # max null fraction
    df["created_at"] = pd.to_datetime([NOW - pd.Timedelta("5h")] * 4, utc=True)  # freshness
    df["note"] = "extra"  # strict
    return df


BAD_FAILS = [
    "order_id: unique",
    "order_id: min 1",
    "discount: max 0.5",
    "currency: not null",
    "currency: allowed",
    "currency: regex",
    "coupon: max null fraction 0.5",
    "created_at: freshness 2h",
    "columns: strict",
]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_file_sources(tmp_path: Path, fmt: str) -> None:
    result, lines, err = _validate(tmp_path, FULL, _good_rows(), fmt)
    assert (result.exit_code, lines[-1].split(" in ")[0], err) == (0, "stackdef-validate: orders: all 31 checks passed on 4 rows", "")
    assert result.rows == 4

    result, lines, err = _validate(tmp_path, FULL, _bad_rows(), fmt)
    assert result.exit_code == 1 and err == ""
    assert [c.name for c in result.failed] == BAD_FAILS
    assert [line.split(": ")[2] for line in lines[:-1]] == [n.split(": ")[0] for n in BAD_FAILS]
    messages = {c.name: c.message for c in result.failed}
    assert messages["currency: regex"] == "1 of 4 rows do not match '(?i)[a-z]{3}' as a whole (first failing values: 'EURO')"
    assert messages["order_id: unique"] == "2 of 4 rows repeat a value (first repeated values: 1)"
    assert messages["coupon: max null fraction 0.5"] == "3 of 4 rows are empty (75.00%), more than 50.00%"
    assert re.fullmatch(r"newest created_at is \S+\+00:00, 5h [0-9]m old \(more than 2h\)", messages["created_at: freshness 2h"])
    assert messages["columns: strict"] == "columns the checks do not name: 'note'"
    assert lines[-1].startswith(f"stackdef-validate: orders: {len(BAD_FAILS)} of 31 checks failed on 4 rows in ")


def test_warehouse_source_through_sqlalchemy(tmp_path: Path) -> None:
    import sqlalchemy as sa  # feast brings it; the runtime extra is installed for the tests
    db = tmp_path / "wh.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        pd.DataFrame({"order_id": [1, 2, 2]}).to_sql("orders", conn, index=False)
    engine.dispose()
    ds = _dataset({"columns": {"order_id": {"dtype": "int64", "unique": True}}}, {"type": "warehouse", "url": f"sqlite:///{db}", "table": "orders"})
    out = io.StringIO()
    result = run(job_document("shop", ds, None), tmp_path, out=out, err=out)
    assert result.exit_code == 1 and [c.name for c in result.failed] == ["order_id: unique"], out.getvalue()


def test_sources_that_cannot_be_read_are_one_line(tmp_path: Path) -> None:
    cases = [({"type": "postgres", "host": "127.0.0.1", "port": 1, "database": "d", "table": "t", "user": "u", "password": {"secret": "pg", "key": "password"}}, "postgres table t on 127.0.0.1:1/d")]
    if importlib.util.find_spec("s3fs") is None:
        cases.append(({"type": "object_store", "uri": "s3://bucket/rows.parquet"}, "s3fs"))
    if importlib.util.find_spec("sqlalchemy_bigquery") is None:
        cases.append(({"type": "warehouse", "url": "bigquery://project/dataset", "table": "t"}, "sqlalchemy-bigquery"))
    (tmp_path / "rows.parquet").write_text("not parquet")
    cases.append(({"type": "file", "path": "rows.parquet"}, "rows.parquet: ArrowInvalid"))
    for source, says in cases:
        out, err = io.StringIO(), io.StringIO()
        result = run(job_document("shop", _dataset({"rows": {"min": 1}}, source), None), tmp_path, out=out, err=err)
        assert result.exit_code == 3 and out.getvalue() == "", source
        assert len(err.getvalue().splitlines()) == 1 and says in err.getvalue(), err.getvalue()
        assert err.getvalue().startswith("stackdef-validate: orders: cannot read the rows: ")


# --------------------------------------------------------------------------- the schema is pandera's own


def _pandera_full() -> pa.DataFrameSchema:
    """FULL written with pandera's API."""
    validate.register_checks()
    C = pa.Check
    return pa.DataFrameSchema(
        {
            "order_id": pa.Column("int64", unique=True, checks=[C.greater_than_or_equal_to(1)]),
            "amount": pa.Column("float64", checks=[C.in_range(0, 10000)]),
            "discount": pa.Column("float64", nullable=True, checks=[C.less_than_or_equal_to(0.5)]),
            "currency": pa.Column("str", checks=[C.isin(["EUR", "USD"]), C.str_matches(r"(?i)(?:[a-z]{3})\Z")]),
            "coupon": pa.Column("str", nullable=True, checks=[C.stackdef_max_null_fraction(max_fraction=0.5, ignore_na=False)]),
            "qty": pa.Column("int64", nullable=True),
            "paid": pa.Column("bool"),
            "created_at": pa.Column("datetime64[ns, UTC]", checks=[C.stackdef_freshness(max_age_seconds=7200)]),
        },
        checks=[C.stackdef_row_count(min_rows=2, max_rows=1000)],
        strict=True,
    )


def _pandera_small() -> pa.DataFrameSchema:
    """Freshness on a column the checks do not name; a lower row bound only; no dtype."""
    validate.register_checks()
    return pa.DataFrameSchema(
        {"id": pa.Column(nullable=True), "seen": pa.Column(nullable=True, checks=[pa.Check.stackdef_freshness(max_age_seconds=90)])},
        checks=[pa.Check.stackdef_row_count(min_rows=5, max_rows=None)],
    )


SMALL = {"columns": {"id": {"nullable": True}}, "rows": {"min": 5}, "freshness": {"column": "seen", "max_age": "90s"}}


@pytest.mark.parametrize("checks, theirs", [(FULL, _pandera_full), (SMALL, _pandera_small)], ids=["full", "small"])
def test_schema_is_what_pandera_writes(checks: dict, theirs: Any) -> None:
    ours = job_document("shop", _dataset(checks), None)["schema_yaml"]
    assert ours == yamlio.dump(pandera_schema(Checks.model_validate(checks)))
    assert pandas_io.to_yaml(theirs()) == ours
    assert pandas_io.serialize_schema(theirs()) == yaml.safe_load(ours)
    assert pandas_io.to_yaml(pandas_io.from_yaml(ours)) == ours  # pandera's round trip
    assert pandas_io.from_yaml(ours) == theirs()


@pytest.mark.filterwarnings("ignore::FutureWarning:pandera.*")
@pytest.mark.parametrize("rows", [_good_rows, _bad_rows], ids=["good", "bad"])
def test_our_schema_finds_what_pandera_finds(rows: Any) -> None:
    ours = validate.build_schema(job_document("shop", _dataset(FULL), None)["schema_yaml"])
    df = rows().assign(qty=lambda d: d["qty"].astype("Int64"), created_at=lambda d: d["created_at"].dt.as_unit("ns"))

    def failures(schema: pa.DataFrameSchema) -> list:
        try:
            schema.validate(df, lazy=True)
            return []
        except pa.errors.SchemaErrors as exc:
            return sorted(map(str, exc.failure_cases.astype(str).itertuples(index=False)))

    assert failures(ours) == failures(_pandera_full())
    assert bool(failures(ours)) == (rows is _bad_rows)


def test_fullmatch_pattern() -> None:
    for regex, value, whole in [("[A-Z]{3}", "EURO", False), ("[A-Z]{3}", "EUR", True), ("a|b", "ab", False), ("(?i)ab", "AB", True), ("x$", "x\n", False)]:
        assert (re.match(fullmatch_pattern(regex), value) is not None) == whole == (re.fullmatch(regex, value) is not None)


def test_job_document_has_no_secrets_and_is_stable() -> None:
    pg = {"type": "postgres", "host": "db.internal", "database": "shop", "table": "public.orders", "user": "reader", "password": {"secret": "pg", "key": "password"}}
    doc = job_document("shop", _dataset(FULL, pg), "http://pushgateway.monitoring:9091")
    assert doc["source"] == {"type": "postgres", "host": "db.internal", "port": 5432, "database": "shop", "table": "public.orders", "user": "reader", "password_env": "PGPASSWORD"}
    assert "password" not in yaml.safe_dump(doc["source"]).replace("password_env", "")
    assert (doc["stack"], doc["dataset"], doc["on_failure"], doc["pushgateway"]) == ("shop", "orders", "block", "http://pushgateway.monitoring:9091")
    assert yamlio.dump(doc) == yamlio.dump(job_document("shop", _dataset(FULL, pg), "http://pushgateway.monitoring:9091"))
    assert validate.parse_job(yaml.safe_load(yamlio.dump(doc))) == doc
    s3 = job_document("shop", _dataset({}, {"type": "object_store", "uri": "s3://bucket/k.csv", "credentials": "aws"}), None)["source"]
    assert s3 == {"type": "object_store", "uri": "s3://bucket/k.csv", "format": "csv"}


# --------------------------------------------------------------------------- the program


def _program(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "stackdef.runtime.validate", *args], capture_output=True, text=True, env=env, timeout=60)


def _job_file(tmp_path: Path, doc: Any) -> Path:
    path = tmp_path / "job.yaml"
    path.write_text(doc if isinstance(doc, str) else yamlio.dump(doc))
    return path


def test_program_exit_codes(tmp_path: Path) -> None:
    good = job_document("shop", _dataset(FULL, _write(_good_rows(), tmp_path, "parquet")), None)
    metrics = tmp_path / "metrics.prom"
    done = _program("--job", str(_job_file(tmp_path, good)), "--data-dir", str(tmp_path), "--metrics-file", str(metrics))
    assert (done.returncode, done.stderr, len(done.stdout.splitlines())) == (0, "", 1)
    assert metrics.is_file()

    bad = job_document("shop", _dataset(FULL, _write(_bad_rows(), tmp_path, "csv")), None)
    done = _program("--job", str(_job_file(tmp_path, bad)), "--data-dir", str(tmp_path))
    assert (done.returncode, done.stderr, len(done.stdout.splitlines())) == (1, "", len(BAD_FAILS) + 1)

    missing = job_document("shop", _dataset(FULL, {"type": "file", "path": "nowhere/rows.parquet"}), None)
    broken = {**good, "source": {"type": "ftp", "path": "x"}}
    for doc, code, says in [
        ("stack: [shop", 2, "bad job file"),
        ("- just\n- a list\n", 2, "bad job document: expected a mapping"),
        (broken, 2, "bad job document: source.type: expected file, object_store, postgres or warehouse, got 'ftp'"),
        ({**good, "schema_yaml": "columns: [x"}, 2, "bad job document: schema_yaml: pandera cannot read it"),
        ({**good, "source": {**good["source"], "path": "../etc/passwd"}}, 2, "bad job document: source.path: '../etc/passwd' is not allowed here"),
        (missing, 3, f"cannot read the rows: {tmp_path / 'nowhere/rows.parquet'}: no such file"),
    ]:
        done = _program("--job", str(_job_file(tmp_path, doc)), "--data-dir", str(tmp_path))
        assert done.returncode == code, (doc, done.stderr)
        assert done.stdout == "" and len(done.stderr.splitlines()) == 1, done.stderr
        assert says in done.stderr and "Traceback" not in done.stderr, done.stderr
    done = _program("--job", str(tmp_path / "absent.yaml"))
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1 and "cannot read it" in done.stderr


# --------------------------------------------------------------------------- metrics


def _samples(text: str, name: str) -> dict[tuple, float]:
    return {
        tuple(sorted((k, v) for k, v in s.labels.items() if k not in ("job", "instance"))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
        if s.name == name
    }


@pytest.fixture
def pushgateway():
    with servers.pushgateway() as url:
        yield url


def test_metrics_pushed_and_last_success_survives_a_failure(tmp_path: Path, pushgateway: str) -> None:
    def scrape() -> str:
        with urllib.request.urlopen(f"{pushgateway}/metrics", timeout=5) as resp:
            return resp.read().decode()

    ids = (("dataset", "orders"), ("stack", "shop"))
    result, _, err = _validate(tmp_path, FULL, _good_rows(), pushgateway=pushgateway)
    assert result.exit_code == 0 and err == ""
    text = scrape()
    assert 'job="stackdef-data-validate"' in text
    passed = _samples(text, "stackdef_data_check_passed")
    assert passed == {tuple(sorted((*ids, ("check", c.name)))): 1.0 for c in result.checks}
    assert _samples(text, "stackdef_data_rows_checked") == {ids: 4.0}
    success = _samples(text, "stackdef_data_last_success_timestamp_seconds")[ids]
    assert abs(success - time.time()) < 60
    assert _samples(text, "stackdef_data_validation_duration_seconds")[ids] > 0

    result, _, err = _validate(tmp_path, FULL, _bad_rows().head(3), pushgateway=pushgateway)
    assert result.exit_code == 1 and err == ""
    text = scrape()
    passed = _samples(text, "stackdef_data_check_passed")
    assert passed[tuple(sorted((*ids, ("check", "order_id: unique"))))] == 0.0
    assert passed[tuple(sorted((*ids, ("check", "amount: min 0, max 10000"))))] == 1.0
    assert sum(v == 0 for v in passed.values()) == len(result.failed)
    assert _samples(text, "stackdef_data_rows_checked") == {ids: 3.0}
    assert _samples(text, "stackdef_data_last_success_timestamp_seconds") == {ids: success}


def test_metrics_file_and_unreachable_pushgateway(tmp_path: Path) -> None:
    metrics = tmp_path / "textfile" / "orders.prom"
    metrics.parent.mkdir()
    result, lines, err = _validate(tmp_path, FULL, _bad_rows(), metrics_file=metrics, pushgateway="http://127.0.0.1:1")
    assert result.exit_code == 1  # a push that fails does not change the verdict
    assert err.startswith("stackdef-validate: orders: could not push metrics to http://127.0.0.1:1: ") and len(err.splitlines()) == 1
    text = metrics.read_text()
    names = {fam.name for fam in text_string_to_metric_families(text)}
    assert names == {"stackdef_data_check_passed", "stackdef_data_rows_checked", "stackdef_data_validation_duration_seconds"}
    ids = (("dataset", "orders"), ("stack", "shop"))
    assert _samples(text, "stackdef_data_check_passed")[tuple(sorted((*ids, ("check", "columns: strict"))))] == 0.0
    assert _samples(text, "stackdef_data_rows_checked") == {ids: 4.0}

    result, _, _ = _validate(tmp_path, FULL, _good_rows(), metrics_file=metrics)
    assert "stackdef_data_last_success_timestamp_seconds" in {fam.name for fam in text_string_to_metric_families(metrics.read_text())}
