"""A dataset's checks as a pandera schema, and the document its validation job reads.

Pure: no I/O and no pandera import (the spec side must not need pandera). What it builds is
the structure pandera 0.35's own serializer writes for a pandas ``DataFrameSchema``
(``pandera.io.pandas_io.serialize_schema`` with ``minimal=True``, the default of
``to_yaml``): ``schema_type``/``api`` first, columns in spec order, column keys ``dtype``,
``nullable``, ``unique`` and then one key per check ("flat" checks, a bare value when the
check has one statistic and no options), schema-wide checks as a list with
``options.check_name``, default options left out. The runner reads it back with
``pandera.io.from_yaml``; ``tests/test_data_validation.py`` checks that pandera's
``to_yaml`` of the same schema built with pandera's API is byte-identical.

The mapping from the spec:

- ``dtype`` → ``int64``, ``float64``, ``str`` (string), ``bool``, ``datetime64[ns, UTC]``
  (timestamp); ``nullable`` → the column's ``nullable``; ``unique`` → the column's ``unique``.
- ``min`` / ``max`` → ``greater_than_or_equal_to`` / ``less_than_or_equal_to``, ``in_range``
  (both ends included) when both are set; ``allowed`` → ``isin``.
- ``regex`` → ``str_matches`` with *fullmatch* semantics: the whole value must match.
  pandera's ``str_matches`` anchors only at the start (``re.match``), so the pattern is
  written as ``(?:PATTERN)\\Z`` (leading global flags such as ``(?i)`` stay in front, where
  Python requires them).
- ``max_null_fraction``, row-count bounds and freshness are not built into pandera; they are
  *registered* checks (``pandera.extensions.register_check_method``) that the runner
  (:mod:`stackdef.runtime.validate`) registers before it loads the schema:
  ``stackdef_max_null_fraction(max_fraction)`` and ``stackdef_freshness(max_age_seconds)`` on
  the column, ``stackdef_row_count(min_rows, max_rows)`` on the dataframe. pandera serializes
  a registered check with the ``error`` text its registration generates
  (``name(stat=value, ...)``), so that text is written here too. The null-fraction check
  sets ``ignore_na: false``: pandera drops empty values before a check sees them otherwise.
  ``max_null_fraction`` makes the column nullable (the fraction is the limit instead).
- ``strict`` → the schema's ``strict``. A freshness column the checks do not name is added
  to the schema as a column of its own (it must exist).

Every check also gets a stable name for reports and metrics, ``SUBJECT: CHECK``: the column
(``amount: min 0``, ``amount: min 0, max 100``, ``email: regex``, ``ts: freshness 2h``),
``row count`` or ``columns`` (``columns: strict``). Each declared column also has a
``COLUMN: present`` check (pandera's required column). The job document lists them with the
pandera check each one is (the ``check`` of pandera's failure cases, or the registered name
of a ``Check``), which is how the runner tells which one failed.
"""

from __future__ import annotations

import re
from typing import Any

from stackdef import yamlio
from stackdef.layers.data.spec import (
    Checks,
    ColumnCheck,
    Dataset,
    FileSource,
    ObjectStoreSource,
    PostgresSource,
    WarehouseSource,
    duration_seconds,
)

#: The spec's dtypes as pandera (pandas engine) dtype names.
PANDERA_DTYPES = {
    "int64": "int64",
    "float64": "float64",
    "string": "str",
    "bool": "bool",
    "timestamp": "datetime64[ns, UTC]",
}

#: Registered checks stackdef defines, with their statistics (keyword arguments) in order.
#: :mod:`stackdef.runtime.validate` registers functions of these names and arguments.
CUSTOM_CHECKS: dict[str, tuple[str, ...]] = {
    "stackdef_max_null_fraction": ("max_fraction",),
    "stackdef_freshness": ("max_age_seconds",),
    "stackdef_row_count": ("min_rows", "max_rows"),
}

#: What a Postgres source's password is read from in the job's environment.
POSTGRES_PASSWORD_ENV = "PGPASSWORD"
#: The Pushgateway job label validation results are pushed under.
METRICS_JOB = "stackdef-data-validate"
#: Version of the job document (the runner refuses others).
JOB_FORMAT = 1

# pandera's names for the checks that are column options, not Check objects
# (the ``check`` column of its failure cases).
PRESENT, DTYPE, NOT_NULL, UNIQUE, STRICT = (
    "column_in_dataframe",
    "dtype",
    "not_nullable",
    "field_uniqueness",
    "column_in_schema",
)
#: Subjects of dataset-wide checks; a column name cannot contain a space, and no column check is called "strict".
ROW_COUNT_SUBJECT, COLUMNS_SUBJECT = "row count", "columns"

_GLOBAL_FLAGS = re.compile(r"^\(\?[aiLmsux]+\)")


def fullmatch_pattern(regex: str) -> str:
    """``regex`` for pandera's ``str_matches`` (``re.match``) so that it matches whole values."""
    m = _GLOBAL_FLAGS.match(regex)
    flags, rest = (m.group(0), regex[m.end() :]) if m else ("", regex)
    return f"{flags}(?:{rest})\\Z"


def spec_pattern(pattern: str) -> str:
    """The spec's regex back from :func:`fullmatch_pattern` (for messages)."""
    m = _GLOBAL_FLAGS.match(pattern)
    flags, rest = (m.group(0), pattern[m.end() :]) if m else ("", pattern)
    if rest.startswith("(?:") and rest.endswith(")\\Z"):
        return flags + rest[3:-3]
    return pattern


def _number(value: float | int) -> float | int:
    # A whole bound is written as an integer ("min: 0" → 0, not 0.0); past 2**53 a float stays a float.
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _text(value: Any) -> str:
    return str(_number(value)) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def _custom(name: str, **stats: Any) -> dict[str, Any]:
    # Statistics, then the error text register_check_method generates: f"{name}({k}={v}, ...)".
    assert tuple(stats) == CUSTOM_CHECKS[name], name
    return {**stats, "error": f"{name}({', '.join(f'{k}={v}' for k, v in stats.items())})"}


def _column(name: str, col: ColumnCheck, max_age: str | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(pandera column dict, report entries) of one column."""
    out: dict[str, Any] = {}
    entries = [(f"{name}: present", PRESENT)]
    if col.dtype is not None:
        out["dtype"] = PANDERA_DTYPES[col.dtype]
        entries.append((f"{name}: dtype {col.dtype}", DTYPE))
    nullable = col.nullable or col.max_null_fraction is not None
    if nullable:
        out["nullable"] = True
    else:
        entries.append((f"{name}: not null", NOT_NULL))
    if col.unique:
        out["unique"] = True
        entries.append((f"{name}: unique", UNIQUE))
    if col.max_null_fraction is not None:
        stats = _custom("stackdef_max_null_fraction", max_fraction=_number(col.max_null_fraction))
        # pandera writes a check's options in the order ignore_na, error.
        out["stackdef_max_null_fraction"] = {"max_fraction": stats["max_fraction"], "ignore_na": False, "error": stats["error"]}
        entries.append((f"{name}: max null fraction {_text(col.max_null_fraction)}", "stackdef_max_null_fraction"))
    if col.min is not None and col.max is not None:
        out["in_range"] = {"min_value": _number(col.min), "max_value": _number(col.max), "include_min": True, "include_max": True}
        entries.append((f"{name}: min {_text(col.min)}, max {_text(col.max)}", "in_range"))
    elif col.min is not None:
        out["greater_than_or_equal_to"] = _number(col.min)
        entries.append((f"{name}: min {_text(col.min)}", "greater_than_or_equal_to"))
    elif col.max is not None:
        out["less_than_or_equal_to"] = _number(col.max)
        entries.append((f"{name}: max {_text(col.max)}", "less_than_or_equal_to"))
    if col.allowed is not None:
        out["isin"] = list(col.allowed)
        entries.append((f"{name}: allowed", "isin"))
    if col.regex is not None:
        out["str_matches"] = fullmatch_pattern(col.regex)
        entries.append((f"{name}: regex", "str_matches"))
    if max_age is not None:
        out["stackdef_freshness"] = _custom("stackdef_freshness", max_age_seconds=duration_seconds(max_age))
        entries.append((f"{name}: freshness {max_age}", "stackdef_freshness"))
    return out, [{"name": n, "column": name, "check": c} for n, c in entries]


def _build(checks: Checks) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    fresh = checks.freshness
    columns: dict[str, Any] = {}
    entries: list[dict[str, Any]] = []
    named = dict(checks.columns)
    if fresh is not None and fresh.column not in named:
        named[fresh.column] = ColumnCheck.model_validate({"nullable": True})  # only "it exists and is fresh"
    for name, col in named.items():
        out, ents = _column(name, col, fresh.max_age if fresh is not None and fresh.column == name else None)
        columns[name] = out
        entries += ents
    schema: dict[str, Any] = {"schema_type": "dataframe", "api": "pandas", "columns": columns}
    if checks.rows is not None:
        lo, hi = checks.rows.min, checks.rows.max
        stats = _custom("stackdef_row_count", min_rows=lo, max_rows=hi)
        error = stats.pop("error")
        schema["checks"] = [{**stats, "options": {"check_name": "stackdef_row_count", "error": error}}]
        bounds = ", ".join(f"{k} {v}" for k, v in (("min", lo), ("max", hi)) if v is not None)
        entries.append({"name": f"{ROW_COUNT_SUBJECT}: {bounds or 'any'}", "column": None, "check": "stackdef_row_count"})
    if checks.strict:
        schema["strict"] = True
        entries.append({"name": f"{COLUMNS_SUBJECT}: strict", "column": None, "check": STRICT})
    return schema, entries


def pandera_schema(checks: Checks) -> dict[str, Any]:
    """The pandera ``DataFrameSchema`` serialization (pandera 0.35, minimal) of ``checks``."""
    return _build(checks)[0]


def check_names(checks: Checks) -> list[dict[str, Any]]:
    """Every check's report name with its column (or None) and the pandera check it is."""
    return _build(checks)[1]


def _source(src: Any) -> dict[str, Any]:
    # Everything the job needs to read the rows except secrets, which reach it as environment
    # variables (PGPASSWORD; the object store's or warehouse's own variables from `credentials`).
    if isinstance(src, FileSource):
        return {"type": "file", "path": src.path, "format": src.file_format}
    if isinstance(src, ObjectStoreSource):
        return {"type": "object_store", "uri": src.uri, "format": src.file_format}
    if isinstance(src, PostgresSource):
        return {
            "type": "postgres",
            "host": src.host,
            "port": src.port,
            "database": src.database,
            "table": src.table,
            "user": src.user,
            "password_env": POSTGRES_PASSWORD_ENV,
        }
    if isinstance(src, WarehouseSource):
        return {"type": "warehouse", "url": src.url, "table": src.table}
    raise TypeError(f"unknown source {type(src).__name__}")


def job_document(stack: str, dataset: Dataset, pushgateway: str | None) -> dict[str, Any]:
    """What a dataset's validation job reads from its ConfigMap (``stackdef.runtime.validate --job``)."""
    checks = dataset.checks or Checks.model_validate({})
    schema, entries = _build(checks)
    return {
        "format": JOB_FORMAT,
        "stack": stack,
        "dataset": dataset.name,
        "source": _source(dataset.source),
        "on_failure": dataset.on_failure,
        "pushgateway": pushgateway,
        "checks": entries,
        "schema_yaml": yamlio.dump(schema),
    }
