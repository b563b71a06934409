"""Validate one dataset against its checks: ``python -m stackdef.runtime.validate --job FILE``.

The validation CronJob runs this with the job document its ConfigMap holds
(:func:`stackdef.layers.data.checks.job_document`); ``stackdef data validate`` calls
:func:`run` in-process. It

1. reads the job document (YAML) and refuses a malformed one (exit 2);
2. registers stackdef's pandera checks (:func:`register_checks`) and builds the schema with
   ``pandera.io.from_yaml`` from the document's ``schema_yaml`` (exit 2 if pandera refuses it);
3. reads the rows (exit 3, one line, when it cannot): a Parquet or CSV file under
   ``--data-dir``; an object-store object through pandas and fsspec (s3fs, gcsfs or adlfs must
   be installed; credentials from the environment); a Postgres table through SQLAlchemy and
   psycopg (password from ``PGPASSWORD``); a warehouse table through SQLAlchemy and the URL's
   dialect;
4. validates lazily (every check runs) and prints one line per failed check,
   ``stackdef-validate: DATASET: CHECK: what failed``, then one summary line; exit 0 when
   every check passed, 1 when any failed;
5. pushes the results to the job's Pushgateway (``pushadd``, so a failed run keeps the last
   success time; job ``stackdef-data-validate``, grouping key stack and dataset) and/or
   writes them to ``--metrics-file`` (Prometheus text format, for node-exporter's textfile
   collector). A push that fails is reported on one line and does not change the exit code.

Reading normalizes what pandas does to types, not the data: a declared int64 column that
pandas widened to float64 because it holds empty values becomes pandas' nullable Int64
(pandera's int64 accepts it) when every value is whole; a declared timestamp column that is
tz-aware is converted to UTC nanoseconds (pyarrow gives microseconds). A tz-naive timestamp
column stays naive and fails ``dtype timestamp``: stackdef cannot know its zone. CSV carries no
types, so each declared column is read as text and converted to its dtype when every value
converts (timestamps as ISO 8601, naive ones taken as UTC); otherwise the text stays for the
dtype check to report. pandas cannot hold empty values in a numpy bool column, so a bool
column with empty values fails ``dtype bool``.

Expected failures never print a traceback; an unexpected one (a bug) does.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import math
import os
import re
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from stackdef.layers.data.checks import (
    CUSTOM_CHECKS,
    DTYPE,
    JOB_FORMAT,
    METRICS_JOB,
    NOT_NULL,
    PRESENT,
    STRICT,
    UNIQUE,
    spec_pattern,
)

PREFIX = "stackdef-validate"
EXIT_PASSED, EXIT_FAILED, EXIT_BAD_JOB, EXIT_UNREADABLE = 0, 1, 2, 3

#: Failing values quoted in a message, and how much of each.
_SHOWN_VALUES, _VALUE_CHARS = 5, 40
#: fsspec's filesystem package per URI scheme.
_FS_PACKAGES = {"s3": "s3fs", "gs": "gcsfs", "abfs": "adlfs"}
#: pip packages of common SQLAlchemy dialects, for the "add it to the image" message.
_DIALECT_PACKAGES = {
    "bigquery": "sqlalchemy-bigquery",
    "snowflake": "snowflake-sqlalchemy",
    "redshift": "sqlalchemy-redshift",
    "databricks": "databricks-sqlalchemy",
    "trino": "trino",
    "duckdb": "duckdb-engine",
    "clickhouse": "clickhouse-sqlalchemy",
    "awsathena": "pyathena",
}
_FILE_PATH = re.compile(r"^[A-Za-z0-9_][-A-Za-z0-9_./]*$")
_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_NAME = re.compile(r"^[A-Za-z0-9_][-A-Za-z0-9_.]*$")


class JobError(Exception):
    """The job document is malformed (exit 2)."""


class SourceError(Exception):
    """The rows cannot be read (exit 3)."""


@dataclass(frozen=True)
class CheckResult:
    """One check: its report name, whether it passed, what failed, and how many rows failed it."""

    name: str
    passed: bool
    message: str
    #: Failing rows, for checks of single rows (min, allowed, not null, ...); None otherwise.
    rows: int | None = None


@dataclass(frozen=True)
class Result:
    """One validation: every check's result, or the error that stopped it (exit 2 or 3)."""

    stack: str
    dataset: str
    exit_code: int
    checks: tuple[CheckResult, ...] = ()
    #: Rows read (None when they could not be read).
    rows: int | None = None
    duration_seconds: float = 0.0
    error: str | None = None
    on_failure: str = "block"

    @property
    def passed(self) -> bool:
        return self.exit_code == EXIT_PASSED

    @property
    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]


# --------------------------------------------------------------------------- registered checks
# Their names and keyword arguments are stackdef.layers.data.checks.CUSTOM_CHECKS.


def stackdef_max_null_fraction(series: Any, *, max_fraction: float) -> bool:
    """At most ``max_fraction`` of the values are empty (needs ignore_na=False to see them)."""
    return len(series) == 0 or float(series.isna().mean()) <= max_fraction


def _timestamps(series: Any) -> Any:
    import pandas as pd

    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(series.dtype):
        return series.dt.tz_localize("UTC")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pd.to_datetime(series, utc=True, errors="coerce", format="ISO8601")


def _newest(series: Any) -> Any:
    ts = _timestamps(series).dropna()
    return None if ts.empty else ts.max()


def stackdef_freshness(series: Any, *, max_age_seconds: int) -> bool:
    """The newest timestamp is at most ``max_age_seconds`` old (naive values are taken as UTC)."""
    newest = _newest(series)
    return newest is not None and time.time() - newest.timestamp() <= max_age_seconds


def stackdef_row_count(df: Any, *, min_rows: int | None = None, max_rows: int | None = None) -> bool:
    """The dataframe has between ``min_rows`` and ``max_rows`` rows (either bound optional)."""
    return (min_rows is None or len(df) >= min_rows) and (max_rows is None or len(df) <= max_rows)


def register_checks() -> None:
    """Register stackdef's checks with pandera (once; before ``from_yaml`` reads a schema using them)."""
    import pandas as pd
    from pandera import extensions
    from pandera.api.checks import Check

    for fn, kind in (
        (stackdef_max_null_fraction, pd.Series),
        (stackdef_freshness, pd.Series),
        (stackdef_row_count, pd.DataFrame),
    ):
        if fn.__name__ not in Check.REGISTERED_CUSTOM_CHECKS:
            extensions.register_check_method(fn, statistics=list(CUSTOM_CHECKS[fn.__name__]), supported_types=kind)


# --------------------------------------------------------------------------- the job document


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "no detail"
    text = text if len(text) <= 300 else text[:297] + "..."
    return f"{type(exc).__name__}: {text}"


def _field(doc: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str = "", optional: bool = False) -> Any:
    value = doc.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        want = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise JobError(f"{where}{key}: expected a {want}, got {type(value).__name__ if key in doc else 'nothing'}")
    return value


def _pattern(doc: dict[str, Any], key: str, pattern: re.Pattern[str], where: str) -> str:
    value = _field(doc, key, str, where)
    if not pattern.fullmatch(value):
        raise JobError(f"{where}{key}: {value[:80]!r} is not allowed here")
    return value


def parse_job(job: Any) -> dict[str, Any]:
    """The job document, checked field by field (:class:`JobError` names the first problem)."""
    if not isinstance(job, dict):
        raise JobError(f"expected a mapping, got {type(job).__name__}")
    if type(job.get("format")) is not int or job["format"] != JOB_FORMAT:
        raise JobError(f"format: expected {JOB_FORMAT}, got {job.get('format')!r} (render it again with this stackdef)")
    _pattern(job, "stack", _NAME, "")
    _pattern(job, "dataset", _NAME, "")
    if job.get("on_failure") not in ("block", "alert"):
        raise JobError(f"on_failure: expected block or alert, got {job.get('on_failure')!r}")
    gateway = _field(job, "pushgateway", str, optional=True)
    if gateway is not None and not re.fullmatch(r"https?://\S+", gateway):
        raise JobError(f"pushgateway: {gateway[:80]!r} is not an http(s) URL")
    _field(job, "schema_yaml", str)
    src = _field(job, "source", dict)
    kind = src.get("type")
    if kind in ("file", "object_store"):
        if kind == "file":
            path = _pattern(src, "path", _FILE_PATH, "source.")
            if ".." in path.split("/"):
                raise JobError(f"source.path: {path!r} leaves the data folder")
        else:
            uri = _field(src, "uri", str, "source.")
            if uri.split("://", 1)[0] not in _FS_PACKAGES:
                raise JobError(f"source.uri: {uri[:80]!r} is not an s3://, gs:// or abfs:// URI")
        if src.get("format") not in ("parquet", "csv"):
            raise JobError(f"source.format: expected parquet or csv, got {src.get('format')!r}")
    elif kind == "postgres":
        _pattern(src, "host", re.compile(r"^[A-Za-z0-9][-A-Za-z0-9.]*$"), "source.")
        port = _field(src, "port", int, "source.")
        if not 1 <= port <= 65535:
            raise JobError(f"source.port: {port} is not a port")
        for key in ("database", "user"):
            _pattern(src, key, re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$"), "source.")
        _pattern(src, "table", _TABLE, "source.")
        _pattern(src, "password_env", re.compile(r"^[A-Z_][A-Z0-9_]*$"), "source.")
    elif kind == "warehouse":
        url = _field(src, "url", str, "source.")
        if not re.fullmatch(r"[a-z][a-z0-9+]*://\S*", url):
            raise JobError(f"source.url: {url[:80]!r} is not a SQLAlchemy URL")
        _pattern(src, "table", _TABLE, "source.")
    else:
        raise JobError(f"source.type: expected file, object_store, postgres or warehouse, got {kind!r}")
    checks = _field(job, "checks", list)
    for i, entry in enumerate(checks):
        if not isinstance(entry, dict):
            raise JobError(f"checks[{i}]: expected a mapping")
        _field(entry, "name", str, f"checks[{i}].")
        _field(entry, "check", str, f"checks[{i}].")
        _field(entry, "column", str, f"checks[{i}].", optional=True)
    return job


def build_schema(schema_yaml: str) -> Any:
    """The pandera DataFrameSchema of ``schema_yaml`` (stackdef's checks registered first)."""
    register_checks()
    from pandera.io import pandas_io

    try:
        from stackdef.readers import load_yaml

        # What pandas_io.from_yaml does, without its guess that the text may be a file's path.
        doc = load_yaml(schema_yaml)
        if not isinstance(doc, dict) or doc.get("schema_type") != "dataframe":
            raise ValueError("not a pandera dataframe schema")
        return pandas_io.deserialize_schema(doc)
    except Exception as exc:  # pandera raises many kinds for a schema it cannot read
        raise JobError(f"schema_yaml: pandera cannot read it: {_describe(exc)}") from None


# --------------------------------------------------------------------------- reading the rows


def _require(module: str, package: str, what: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise SourceError(f"{what}: needs the Python package {package}, which is not installed (add it to the image: pip install '{package}')")


def _declared(schema: Any) -> dict[str, str]:
    return {name: str(col.dtype) for name, col in schema.columns.items() if col.dtype is not None}


def _from_text(s: Any, dtype: str) -> Any:
    """A CSV column read as text, in its declared dtype when every value converts."""
    import pandas as pd

    try:
        if dtype in ("int64", "float64"):
            num = pd.to_numeric(s)
            return num.astype("float64") if dtype == "float64" else num
        if dtype == "bool":
            low = s.str.strip().str.lower()
            if low.dropna().isin(["true", "false"]).all():
                out = low.map({"true": True, "false": False})
                return out.astype(bool) if not out.hasnans else out
            return s
        if dtype.startswith("datetime64"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return pd.to_datetime(s, utc=True, format="ISO8601")
    except (ValueError, TypeError, OverflowError):
        return s
    return s


def _normalize(df: Any, schema: Any) -> Any:
    """Undo what pandas does to declared types (see the module docstring)."""
    import pandas as pd

    for name, dtype in _declared(schema).items():
        if name not in df.columns:
            continue
        s = df[name]
        try:
            if dtype == "int64" and s.dtype == "float64" and s.hasnans:
                whole = s.dropna()
                if bool((whole == whole.round()).all()) and bool(whole.abs().lt(2**63).all()):
                    df[name] = s.astype("Int64")
            elif dtype.startswith("datetime64") and isinstance(s.dtype, pd.DatetimeTZDtype):
                df[name] = s.dt.tz_convert("UTC").dt.as_unit("ns")
        except (ValueError, TypeError, OverflowError):
            pass  # left as read; the dtype check reports it
    return df


def _read_csv(target: Any, schema: Any) -> Any:
    import pandas as pd

    declared = _declared(schema)
    df = pd.read_csv(target, dtype={name: str for name in declared}, low_memory=False)
    for name, dtype in declared.items():
        if name in df.columns and dtype != "str":
            df[name] = _from_text(df[name], dtype)
    return df


def _read_sql(url: Any, table: str, what: str) -> Any:
    import pandas as pd
    import sqlalchemy as sa
    from sqlalchemy.exc import NoSuchModuleError

    try:
        engine = sa.create_engine(url)
    except NoSuchModuleError:
        dialect = str(url).split("://", 1)[0].split("+", 1)[0]
        package = _DIALECT_PACKAGES.get(dialect, f"the SQLAlchemy dialect for {dialect}")
        raise SourceError(f"{what}: SQLAlchemy has no dialect {dialect!r} here (add {package} to the image)") from None
    except ImportError as exc:  # the dialect's DB-API driver
        raise SourceError(f"{what}: the database driver is not installed ({_describe(exc)}; add it to the image)") from None
    try:
        # The table name is checked against [A-Za-z_][A-Za-z0-9_]*(.…)*: safe to write unquoted,
        # and unquoted is how the database's own clients name it (Postgres folds it to lower case).
        with engine.connect() as conn:
            return pd.read_sql(sa.text(f"SELECT * FROM {table}"), conn)
    finally:
        engine.dispose()


def read_rows(source: dict[str, Any], data_dir: Path, schema: Any) -> Any:
    """The dataset's rows as a pandas DataFrame (:class:`SourceError` when they cannot be read)."""
    import pandas as pd

    kind = source["type"]
    if kind == "file":
        root = data_dir.resolve()
        path = (root / source["path"]).resolve()
        if root not in path.parents:
            raise JobError(f"source.path: {source['path']!r} leaves the data folder")
        what = str(path)
        if not path.is_file():
            raise SourceError(f"{what}: no such file")
        target: Any = path
    elif kind == "object_store":
        scheme = source["uri"].split("://", 1)[0]
        what = source["uri"]
        _require("fsspec", "fsspec", what)
        _require(_FS_PACKAGES[scheme], _FS_PACKAGES[scheme], what)
        target = source["uri"]
    elif kind == "postgres":
        what = f"postgres table {source['table']} on {source['host']}:{source['port']}/{source['database']}"
        _require("sqlalchemy", "SQLAlchemy", what)
        _require("psycopg", "psycopg[binary]", what)
        import sqlalchemy as sa

        url = sa.engine.URL.create(
            "postgresql+psycopg",
            username=source["user"],
            password=os.environ.get(source["password_env"]),
            host=source["host"],
            port=source["port"],
            database=source["database"],
            query={"connect_timeout": "15"},
        )
    else:
        what = f"table {source['table']} at {source['url']}"
        _require("sqlalchemy", "SQLAlchemy", what)
        url = source["url"]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if kind in ("postgres", "warehouse"):
                df = _read_sql(url, source["table"], what)
            elif source["format"] == "parquet":
                df = pd.read_parquet(target)
            else:
                df = _read_csv(target, schema)
    except (SourceError, JobError):
        raise
    except Exception as exc:  # drivers, pyarrow and fsspec raise their own kinds
        raise SourceError(f"{what}: {_describe(exc)}") from None
    return _normalize(df, schema)


# --------------------------------------------------------------------------- results


def _value(v: Any) -> str:
    if hasattr(v, "isoformat"):
        text = v.isoformat()
    elif hasattr(v, "item") and not isinstance(v, str):
        text = repr(v.item())
    else:
        text = repr(v)
    return text if len(text) <= _VALUE_CHARS else text[: _VALUE_CHARS - 1] + "…"


def _values(values: Any) -> str:
    seen: list[str] = []
    for v in itertools.islice(values, 10_000):  # the first distinct ones are near the start
        text = _value(v)
        if text not in seen:
            seen.append(text)
        if len(seen) == _SHOWN_VALUES:
            break
    return ", ".join(seen)


def _num(v: Any) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
        v = int(v)
    return f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)


def _age(seconds: float) -> str:
    """"2h" when round, else the largest unit and the next one: "5h 0m", "2d 3h", "1m 30s"."""
    seconds = int(max(seconds, 0))
    units = [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)]
    i = next((i for i, (_, size) in enumerate(units) if seconds >= size), 3)
    (big, size), rest = units[i], seconds % units[i][1]
    if rest == 0 or i == 3:
        return f"{seconds // size}{big}"
    small, small_size = units[i + 1]
    return f"{seconds // size}{big} {rest // small_size}{small}"


def _check_obj(schema: Any, column: str | None, name: str) -> Any:
    checks = schema.checks if column is None else schema.columns[column].checks
    return next((c for c in checks if c.name == name), None)


def _is_error(case: Any) -> bool:
    # A check that raised is reported by pandera as the exception's repr, with no row.
    return isinstance(case, str) and re.match(r"^[A-Za-z_][\w.]*(Error|Exception)\(", case) is not None


def _message(entry: dict[str, Any], cases: Any, df: Any, schema: Any) -> tuple[str, int | None]:
    """What failed, in a few words, and the number of failing rows (None when not per row)."""
    column, check, total = entry.get("column"), entry["check"], len(df)
    values = cases["failure_case"]
    # A check that raised has one failure case and no row; a column check's failure rows all have one.
    errors = [v for v in values[cases["index"].isna()].head(_SHOWN_VALUES) if _is_error(v)]
    if errors:
        return f"the check could not run: {errors[0]}", None
    if check == PRESENT:
        present = ", ".join(map(str, list(df.columns)[:10])) + (", …" if len(df.columns) > 10 else "")
        return f"column {column} is missing (the data has {len(df.columns)} columns: {present or 'none'})", None
    if check == STRICT:
        return f"columns the checks do not name: {_values(values)}", None
    if check == DTYPE:
        got = df[column].dtype if column in df.columns else values.iloc[0]
        return f"expected dtype {schema.columns[column].dtype}, got {got}", None
    failing = cases["index"].dropna()
    n = failing.nunique() if len(failing) else len(values)
    if check == NOT_NULL:
        return f"{n:,} of {total:,} rows are empty (first at rows {_values(failing)}, counting from 0)", n
    if check == UNIQUE:
        return f"{n:,} of {total:,} rows repeat a value (first repeated values: {_values(values)})", n
    stats = getattr(_check_obj(schema, column, check), "statistics", None) or {}
    if check == "stackdef_max_null_fraction":
        empty = int(df[column].isna().sum())
        return f"{empty:,} of {total:,} rows are empty ({empty / max(total, 1):.2%}), more than {stats.get('max_fraction', 0):.2%}", None
    if check == "stackdef_freshness":
        newest, limit = _newest(df[column]), _age(stats.get("max_age_seconds", 0))
        if newest is None:
            return f"no timestamps in {column} (every value is empty or not a time), need one within {limit}", None
        return f"newest {column} is {newest.isoformat()}, {_age(time.time() - newest.timestamp())} old (more than {limit})", None
    if check == "stackdef_row_count":
        lo, hi = stats.get("min_rows"), stats.get("max_rows")
        if lo is not None and total < lo:
            return f"{total:,} rows, fewer than the minimum {lo:,}", None
        return f"{total:,} rows, more than the maximum {hi:,}" if hi is not None else f"{total:,} rows", None
    phrase = _row_phrase(check, stats)
    return f"{n:,} of {total:,} rows {phrase} (first failing values: {_values(values)})", n


def _row_phrase(check: str, stats: dict[str, Any]) -> str:
    """What the failing rows of a per-row check are ("are below 0")."""
    if check == "greater_than_or_equal_to":
        return f"are below {_num(stats.get('min_value'))}"
    if check == "less_than_or_equal_to":
        return f"are above {_num(stats.get('max_value'))}"
    if check == "in_range":
        return f"are outside [{_num(stats.get('min_value'))}, {_num(stats.get('max_value'))}]"
    if check == "isin":
        allowed = list(stats.get("allowed_values") or [])
        more = ", …" if len(allowed) > _SHOWN_VALUES else ""
        return f"are not among the {len(allowed)} allowed values ({_values(allowed)}{more})"
    if check == "str_matches":
        return f"do not match {spec_pattern(str(stats.get('pattern', '')))!r} as a whole"
    return f"fail {check}"


def _case_key(row: Any, schema: Any) -> tuple[str | None, str]:
    """(column or None, pandera check) of one row of pandera's failure cases."""
    ctx, column, check, number = row["schema_context"], row["column"], str(row["check"]), row["check_number"]
    has_number = number is not None and not (isinstance(number, float) and math.isnan(number))
    if ctx == "DataFrameSchema":
        if check == PRESENT:
            return str(row["failure_case"]), PRESENT
        if check == STRICT:
            return None, STRICT
        if has_number:
            return None, schema.checks[int(number)].name
        return None, check
    column = None if column is None else str(column)
    if check.startswith("dtype("):
        return column, DTYPE
    if check in (NOT_NULL, UNIQUE):
        return column, check
    if has_number and column in schema.columns:
        return column, schema.columns[column].checks[int(number)].name
    return column, check


def evaluate(schema: Any, df: Any, entries: list[dict[str, Any]]) -> list[CheckResult]:
    """Validate ``df`` lazily and say, for each named check, whether it passed and what failed."""
    import pandera.errors

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            schema.validate(df, lazy=True)
        cases = None
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    groups: dict[tuple[str | None, str], list[int]] = {}
    if cases is not None:
        cases = cases.reset_index(drop=True)
        # One key per kind of failure, not per failing row (there may be millions); a missing
        # column is told by its failure case, the column's name.
        missing = (cases["check"] == PRESENT).to_numpy()
        for i in missing.nonzero()[0]:
            groups.setdefault(_case_key(cases.iloc[i], schema), []).append(int(i))
        parts = cases.loc[~missing, ["schema_context", "column", "check", "check_number"]]
        for rows in parts.groupby(list(parts.columns), sort=False, dropna=False).indices.values():
            key = _case_key(parts.iloc[rows[0]], schema)
            groups.setdefault(key, []).extend(parts.index[rows].tolist())
    missing = {col for col, chk in groups if chk == PRESENT}
    known = {(e.get("column"), e["check"]) for e in entries}
    # A failure no named check accounts for is still reported (a schema edited by hand, a new pandera).
    extra = [{"name": f"{col or 'dataset'}: {chk}", "column": col, "check": chk} for col, chk in groups if (col, chk) not in known]
    results = []
    for entry in [*entries, *extra]:
        key = (entry.get("column"), entry["check"])
        if key in groups and cases is not None:
            message, rows = _message(entry, cases.loc[groups[key]], df, schema)
            results.append(CheckResult(entry["name"], False, message, rows))
        elif entry.get("column") in missing:
            results.append(CheckResult(entry["name"], False, f"not checked: column {entry['column']} is missing"))
        else:
            results.append(CheckResult(entry["name"], True, "passed", 0 if _per_row(entry["check"]) else None))
    return results


def _per_row(check: str) -> bool:
    return check not in (PRESENT, STRICT, DTYPE, *CUSTOM_CHECKS)


# --------------------------------------------------------------------------- metrics


def metrics_registry(result: Result) -> Any:
    """The run's metrics in a private registry (nothing else of the process leaks into a push)."""
    from prometheus_client import CollectorRegistry, Gauge

    reg = CollectorRegistry()
    labels = ("stack", "dataset")
    ids = (result.stack, result.dataset)
    passed = Gauge("stackdef_data_check_passed", "1 when the check passed in the last validation, 0 when it failed.", (*labels, "check"), registry=reg)
    for check in result.checks:
        passed.labels(*ids, check.name).set(1 if check.passed else 0)
    Gauge("stackdef_data_rows_checked", "Rows the last validation read.", labels, registry=reg).labels(*ids).set(result.rows or 0)
    Gauge("stackdef_data_validation_duration_seconds", "How long the last validation took (reading and checking).", labels, registry=reg).labels(
        *ids
    ).set(result.duration_seconds)
    if result.passed:
        Gauge("stackdef_data_last_success_timestamp_seconds", "When a validation last passed every check (Unix time).", labels, registry=reg).labels(
            *ids
        ).set(time.time())
    return reg


def publish(result: Result, gateway: str | None, metrics_file: Path | None, err: TextIO) -> None:
    """Push to the Pushgateway (pushadd: the last success time survives a failed run) and/or write the text file."""
    from prometheus_client.exposition import pushadd_to_gateway, write_to_textfile

    reg = metrics_registry(result)
    if gateway:
        try:
            pushadd_to_gateway(gateway, job=METRICS_JOB, registry=reg, grouping_key={"stack": result.stack, "dataset": result.dataset}, timeout=15)
        except Exception as exc:  # urllib raises URLError, HTTPError, OSError, ValueError
            print(f"{PREFIX}: {result.dataset}: could not push metrics to {gateway}: {_describe(exc)}", file=err)
    if metrics_file is not None:
        try:
            write_to_textfile(str(metrics_file), reg)
        except OSError as exc:
            print(f"{PREFIX}: {result.dataset}: could not write metrics to {metrics_file}: {_describe(exc)}", file=err)


# --------------------------------------------------------------------------- entry points


def run(
    job: dict[str, Any],
    data_dir: Path,
    out: TextIO | None = None,
    *,
    err: TextIO | None = None,
    metrics_file: Path | None = None,
    push: bool = True,
) -> Result:
    """Validate the job's dataset: lines to ``out`` (default stdout), errors to ``err`` (default stderr).

    ``push=False`` skips the job's Pushgateway (a local run cannot reach the cluster's);
    ``metrics_file`` writes the metrics in Prometheus text format too.
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    stack = str(job.get("stack", "?")) if isinstance(job, dict) else "?"
    dataset = str(job.get("dataset", "?")) if isinstance(job, dict) else "?"
    start = time.monotonic()
    try:
        job = parse_job(job)
        try:
            schema = build_schema(job["schema_yaml"])
        except ImportError as exc:
            raise JobError(f"the runtime needs pandera ({_describe(exc)}; pip install 'stackdef[runtime]')") from None
        df = read_rows(job["source"], Path(data_dir), schema)
    except JobError as exc:
        print(f"{PREFIX}: bad job document: {exc}", file=err)
        return Result(stack, dataset, EXIT_BAD_JOB, error=str(exc))
    except SourceError as exc:
        print(f"{PREFIX}: {dataset}: cannot read the rows: {exc}", file=err)
        return Result(stack, dataset, EXIT_UNREADABLE, error=str(exc), on_failure=job["on_failure"])
    checks = evaluate(schema, df, job["checks"])
    failed = [c for c in checks if not c.passed]
    result = Result(
        stack,
        dataset,
        EXIT_FAILED if failed else EXIT_PASSED,
        tuple(checks),
        len(df),
        time.monotonic() - start,
        on_failure=job["on_failure"],
    )
    for check in failed:
        print(f"{PREFIX}: {dataset}: {check.name}: {check.message}", file=out)
    took = f"{result.duration_seconds:.2f} s"
    if failed:
        print(f"{PREFIX}: {dataset}: {len(failed)} of {len(checks)} checks failed on {len(df):,} rows in {took} (on_failure: {result.on_failure})", file=out)
    else:
        print(f"{PREFIX}: {dataset}: all {len(checks)} checks passed on {len(df):,} rows in {took}", file=out)
    publish(result, job.get("pushgateway") if push else None, metrics_file, err)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stackdef.runtime.validate", description="Validate one dataset against its checks.")
    parser.add_argument("--job", required=True, type=Path, help="The job document (YAML) stackdef rendered.")
    parser.add_argument("--data-dir", type=Path, default=Path("/data"), help="Where file datasets are (default: /data).")
    parser.add_argument("--metrics-file", type=Path, help="Also write the metrics here (Prometheus text format).")
    args = parser.parse_args(argv)
    from stackdef.readers import DataError, load_yaml

    try:
        job = load_yaml(args.job.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{PREFIX}: bad job file {args.job}: cannot read it ({_describe(exc)})", file=sys.stderr)
        return EXIT_BAD_JOB
    except DataError as exc:
        where = f" (line {exc.line})" if exc.line else ""
        print(f"{PREFIX}: bad job file {args.job}{where}: {exc.problem}", file=sys.stderr)
        return EXIT_BAD_JOB
    return run(job, args.data_dir, metrics_file=args.metrics_file).exit_code


if __name__ == "__main__":
    sys.exit(main())
