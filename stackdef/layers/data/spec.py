"""The ``data`` layer's spec: datasets with their validation checks, and a Feast feature store.

A dataset names where its rows are (a file on the data volume or beside the spec, an object
store URI, a Postgres table, a warehouse table) and the checks they must pass. Validation runs
on a schedule in the cluster (pandera, in the stackdef-runtime image) and locally with
``stackdef data validate``. The feature store is Feast: entities, feature views over the
datasets, feature services read by the stack's services, a Redis online store, the file
offline store. Each feature view carries a stage — experimental, validated, production — and
the obligations grow with it (see :mod:`stackdef.layers.data.rules`).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from stackdef.spec.base import DNS1123_LABEL, K8sName, Quantity, SecretRef, ServiceName, _Base

#: Dataset, feature view and feature service names become parts of Kubernetes names.
DataName = Annotated[
    str,
    Field(
        pattern=DNS1123_LABEL,
        max_length=40,
        description="Name: lower-case letters, digits and '-', at most 40 characters (it becomes part of Kubernetes names).",
    ),
]
#: Column, feature and join-key names as pandas and Feast take them.
ColumnName = Annotated[
    str,
    Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=128, description="A column name: letters, digits and '_'."),
]
#: "90s", "15m", "2h", "1d".
Duration = Annotated[
    str,
    Field(pattern=r"^[1-9][0-9]{0,6}(s|m|h|d)$", max_length=8, description="A duration: a positive integer and s, m, h or d, e.g. '2h'."),
]
_CRON_FIELD = r"(\*|[0-9]{1,2}(-[0-9]{1,2})?)(/[0-9]{1,2})?(,(\*|[0-9]{1,2}(-[0-9]{1,2})?)(/[0-9]{1,2})?)*"
_CRON = re.compile(rf"^(@(hourly|daily|weekly|monthly|yearly)|{_CRON_FIELD}( {_CRON_FIELD}){{4}})$")
_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def check_cron(value: str) -> str:
    """A Kubernetes CronJob schedule: five fields (minute hour day month weekday) or @hourly etc."""
    if not _CRON.fullmatch(value):
        raise ValueError(f"schedule {value[:60]!r} is not a cron expression (write five fields, e.g. '0 * * * *', or '@hourly')")
    if not value.startswith("@"):
        for field, (lo, hi) in zip(value.split(" "), _CRON_RANGES, strict=False):
            for n in re.findall(r"(?<![/0-9])[0-9]+", field):
                if not lo <= int(n) <= hi:
                    raise ValueError(f"schedule {value!r}: {n} is outside {lo}–{hi} in field {field!r}")
    return value


Schedule = Annotated[str, Field(max_length=100, description="A cron schedule ('*/30 * * * *', '@hourly').")]
DTYPES = ("int64", "float64", "string", "bool", "timestamp")
Dtype = Literal["int64", "float64", "string", "bool", "timestamp"]
FeatureType = Literal["int64", "int32", "float64", "float32", "string", "bool"]


def duration_seconds(value: str) -> int:
    return int(value[:-1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[value[-1]]


# --------------------------------------------------------------------------- sources


class FileSource(_Base):
    """A Parquet or CSV file: on the data volume in the cluster, beside the spec when run locally."""

    type: Literal["file"] = Field(description="Discriminator: a file.")
    path: str = Field(
        pattern=r"^[A-Za-z0-9_][-A-Za-z0-9_./]*$",
        max_length=512,
        description="Path relative to the data volume (mounted at /data in the cluster) or, for "
        "`stackdef data validate`, to --data-dir (default: the spec's folder).",
    )
    format: Literal["parquet", "csv"] | None = Field(None, description="File format; default: from the suffix.")

    @field_validator("path")
    @classmethod
    def check_path(cls, v: str) -> str:
        if ".." in v.split("/"):
            raise ValueError(f"path {v!r} leaves the data folder (write a path inside it)")
        return v

    @model_validator(mode="after")
    def check_format_known(self) -> FileSource:
        if self.format is None and not self.path.endswith((".parquet", ".csv")):
            raise ValueError(f"cannot tell the format of {self.path!r} (name it .parquet or .csv, or set format)")
        return self

    @property
    def file_format(self) -> str:
        return self.format or ("parquet" if self.path.endswith(".parquet") else "csv")


class ObjectStoreSource(_Base):
    """A Parquet or CSV object in S3, GCS or Azure Blob/ADLS."""

    type: Literal["object_store"] = Field(description="Discriminator: an object in a bucket.")
    uri: str = Field(
        pattern=r"^(s3|gs|abfs)://[a-z0-9][-a-z0-9._]{1,62}/[^\s]+$",
        max_length=1024,
        description="Object URI: s3://bucket/key, gs://bucket/key or abfs://container/path.",
    )
    format: Literal["parquet", "csv"] | None = Field(None, description="File format; default: from the suffix.")
    credentials: K8sName | None = Field(
        None,
        description="A declared Secret whose keys become the jobs' environment (e.g. AWS_ACCESS_KEY_ID, "
        "AWS_SECRET_ACCESS_KEY); default: the pod's workload identity.",
    )

    @model_validator(mode="after")
    def check_format_known(self) -> ObjectStoreSource:
        if self.format is None and not self.uri.endswith((".parquet", ".csv")):
            raise ValueError(f"cannot tell the format of {self.uri!r} (name it .parquet or .csv, or set format)")
        return self

    @property
    def file_format(self) -> str:
        return self.format or ("parquet" if self.uri.endswith(".parquet") else "csv")


class PostgresSource(_Base):
    """A Postgres table."""

    type: Literal["postgres"] = Field(description="Discriminator: a Postgres table.")
    host: str = Field(pattern=r"^[A-Za-z0-9][-A-Za-z0-9.]*$", max_length=253, description="Server host name.")
    port: int = Field(5432, ge=1, le=65535, description="Server port.")
    database: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=63, description="Database name.")
    table: str = Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$", max_length=127, description="Table, optionally schema.table."
    )
    user: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=63, description="User name.")
    password: SecretRef = Field(description="Secret key holding the password.")


class WarehouseSource(_Base):
    """A warehouse table, read through SQLAlchemy (the runtime image must carry the warehouse's dialect)."""

    type: Literal["warehouse"] = Field(description="Discriminator: a warehouse table.")
    url: str = Field(
        pattern=r"^[a-z][a-z0-9+]*://[^\s]*$",
        max_length=512,
        description="SQLAlchemy URL without credentials, e.g. 'bigquery://project/dataset' or 'snowflake://account/db/schema'.",
    )
    table: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$", max_length=255, description="Table name.")
    credentials: K8sName | None = Field(None, description="A declared Secret whose keys become the jobs' environment.")

    @field_validator("url")
    @classmethod
    def check_no_password(cls, v: str) -> str:
        if "@" in v.split("://", 1)[1].split("/", 1)[0]:
            raise ValueError("the URL carries credentials (move them into a Secret named in `credentials`)")
        return v


Source = Annotated[
    FileSource | ObjectStoreSource | PostgresSource | WarehouseSource,
    Field(discriminator="type", description="Where the rows are."),
]


# --------------------------------------------------------------------------- checks


class ColumnCheck(_Base):
    """What one column must satisfy (pandera Column checks)."""

    dtype: Dtype | None = Field(None, description="Column type: int64, float64, string, bool or timestamp (UTC).")
    nullable: bool = Field(False, description="Whether empty values are allowed.")
    max_null_fraction: float | None = Field(
        None, ge=0, le=1, description="Largest share of empty values allowed (implies nullable), e.g. 0.01."
    )
    min: float | None = Field(None, description="Smallest value allowed.")
    max: float | None = Field(None, description="Largest value allowed.")
    allowed: list[str | int | float | bool] | None = Field(None, min_length=1, max_length=1000, description="The only values allowed.")
    unique: bool = Field(False, description="Values must not repeat.")
    regex: str | None = Field(None, max_length=512, description="Every value must match this regular expression (strings).")

    @field_validator("regex")
    @classmethod
    def check_regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"regex {v[:60]!r} does not compile: {exc} (fix the expression)") from None
        return v

    @model_validator(mode="after")
    def check_bounds(self) -> ColumnCheck:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min:g} > max {self.max:g} (swap them)")
        if self.regex is not None and self.dtype not in (None, "string"):
            raise ValueError(f"regex applies to strings, not dtype {self.dtype} (remove it or use dtype string)")
        return self


class RowCount(_Base):
    """How many rows the dataset must have."""

    min: int | None = Field(None, ge=0, le=10**15, description="Fewest rows.")
    max: int | None = Field(None, ge=0, le=10**15, description="Most rows.")

    @model_validator(mode="after")
    def check_order(self) -> RowCount:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} > max {self.max} (swap them)")
        return self


class Freshness(_Base):
    """The newest row must be recent."""

    column: ColumnName = Field(description="Timestamp column (UTC).")
    max_age: Duration = Field(description="Oldest the newest row may be, e.g. '2h'.")


class Checks(_Base):
    """Validation checks of a dataset, run with pandera."""

    columns: dict[ColumnName, ColumnCheck] = Field(default_factory=dict, max_length=1000, description="Checks per column.")
    rows: RowCount | None = Field(None, description="Row-count bounds.")
    freshness: Freshness | None = Field(None, description="Maximum age of the newest row.")
    strict: bool = Field(False, description="Fail on columns the checks do not name.")

    @property
    def empty(self) -> bool:
        return not self.columns and self.rows is None and self.freshness is None


class Dataset(_Base):
    """A dataset and how it is validated."""

    name: DataName
    source: Source
    checks: Checks | None = Field(None, description="What the rows must satisfy; without checks nothing is validated.")
    schedule: Schedule | None = Field(None, description="When validation runs in the cluster (a CronJob); default: never on its own.")
    on_failure: Literal["block", "alert"] = Field(
        "block",
        description="A failed validation blocks the materialization of feature views over this dataset (block), "
        "or only reports (alert).",
    )

    @field_validator("schedule")
    @classmethod
    def check_schedule(cls, v: str | None) -> str | None:
        return check_cron(v) if v is not None else v


# --------------------------------------------------------------------------- feature store


class DataVolume(_Base):
    """A volume: the data volume file datasets live on (mounted at /data), or Feast's registry."""

    size: Quantity = Field("10Gi", description="Size.")
    storage_class: K8sName | None = Field(None, description="StorageClass; default: the target's (ReadWriteMany where it has one).")


class InClusterRedis(_Base):
    """A Redis StatefulSet in the stack's namespace, its data on a protected volume."""

    type: Literal["redis"] = Field(description="Discriminator: Redis run by the stack.")
    password: SecretRef = Field(description="Secret key holding the Redis password.")
    storage: Quantity = Field("5Gi", description="Volume size.")
    storage_class: K8sName | None = Field(None, description="StorageClass; default: the target's ReadWriteOnce class.")
    cpu: Quantity = Field("500m", description="CPU request and limit.")
    memory: Quantity = Field("1Gi", description="Memory request and limit (Redis keeps the online store in memory).")


class ExternalRedis(_Base):
    """A Redis server run elsewhere (a managed service)."""

    type: Literal["external_redis"] = Field(description="Discriminator: an existing Redis.")
    address: str = Field(pattern=r"^[A-Za-z0-9][-A-Za-z0-9.]*:[0-9]{1,5}$", max_length=260, description="host:port.")
    password: SecretRef | None = Field(None, description="Secret key holding the password, if it has one.")
    ssl: bool = Field(True, description="Connect with TLS.")


OnlineStore = Annotated[InClusterRedis | ExternalRedis, Field(discriminator="type", description="Feast's online store.")]


class FileOfflineStore(_Base):
    """Feast's file offline store: point-in-time joins over the datasets' Parquet files."""

    type: Literal["file"] = Field("file", description="Discriminator: the file offline store.")


class Entity(_Base):
    """A Feast entity: what features are keyed by."""

    name: ColumnName
    join_keys: list[ColumnName] = Field(min_length=1, max_length=1, description="Key column (Feast 0.67 takes exactly one per entity).")
    value_type: Literal["int64", "string"] = Field("int64", description="Type of the key.")
    description: str = Field("", max_length=1000, description="What it is.")


class FeatureSource(_Base):
    """Where a feature view's rows come from: a dataset, with its event timestamp."""

    dataset: DataName = Field(description="A dataset declared in `data.datasets` (file or object store).")
    timestamp_field: ColumnName = Field(description="Event timestamp column.")
    created_timestamp_field: ColumnName | None = Field(None, description="Row creation timestamp, to break ties.")


class Materialization(_Base):
    """Loading the latest feature values into the online store on a schedule."""

    schedule: Schedule = Field(description="When `feast materialize-incremental` runs (a CronJob).")
    validate_first: bool = Field(
        True, description="Validate the source dataset first and skip materializing when it fails (its on_failure: block)."
    )

    @field_validator("schedule")
    @classmethod
    def check_schedule(cls, v: str) -> str:
        return check_cron(v)


class FeatureView(_Base):
    """A Feast feature view and its stage: experimental → validated → production."""

    name: DataName
    entities: list[ColumnName] = Field(min_length=1, max_length=8, description="Entities it is keyed by.")
    source: FeatureSource = Field(description="The dataset its rows come from, and the event timestamp column.")
    features: dict[ColumnName, FeatureType] = Field(min_length=1, max_length=500, description="Feature columns and their types.")
    ttl: Duration = Field(
        "1d",
        description="How far back a point-in-time join looks for a value, and how old the rows the first materialization "
        "loads may be. Feast's online store does not expire values by it (feast-dev/feast#1802): what serving "
        "returns is the last materialized value, however old; the freshness SLA is what watches that.",
    )
    stage: Literal["experimental", "validated", "production"] = Field(
        "experimental",
        description="experimental: anything goes; validated: its source has validation checks; production: also a "
        "freshness SLA, an owner and a materialization schedule.",
    )
    owner: str | None = Field(None, max_length=200, pattern=r"^[^\s].*$", description="Who answers for it (a team or an e-mail).")
    freshness_sla: Duration | None = Field(None, description="How stale the served values may be.")
    materialize: Materialization | None = Field(None, description="Loading into the online store.")
    description: str = Field("", max_length=1000, description="What it means.")


class FeatureService(_Base):
    """A named set of feature views a service reads."""

    name: DataName
    feature_views: list[DataName] = Field(min_length=1, max_length=100, description="Feature views it serves.")
    consumers: list[ServiceName] = Field(default_factory=list, max_length=100, description="Services of the stack that read it.")
    production: bool = Field(False, description="Serves production traffic: every feature view it reads must be in stage production.")


class FeatureServer(_Base):
    """Feast's feature server Deployment."""

    replicas: int = Field(1, ge=1, le=100, description="Replicas.")
    cpu: Quantity = Field("1", description="CPU request and limit.")
    memory: Quantity = Field("1Gi", description="Memory request and limit.")


class FeatureStore(_Base):
    """A Feast feature store (plain manifests: repo ConfigMap, `feast apply` Job, feature server, CronJobs)."""

    project: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=60, description="Feast project name.")
    online_store: OnlineStore
    offline_store: FileOfflineStore = Field(default_factory=FileOfflineStore, description="Feast's offline store.")
    registry: DataVolume = Field(
        default_factory=lambda: DataVolume(size="1Gi"), description="Volume holding Feast's registry (ReadWriteMany where the target has it)."
    )
    entities: list[Entity] = Field(min_length=1, max_length=100, description="Entities.")
    feature_views: list[FeatureView] = Field(min_length=1, max_length=500, description="Feature views.")
    feature_services: list[FeatureService] = Field(default_factory=list, max_length=100, description="Feature services.")
    server: FeatureServer = Field(default_factory=FeatureServer, description="The feature server.")


class RuntimeImage(_Base):
    """The stackdef-runtime image the validation, apply and materialization jobs and the feature server run."""

    registry: str = Field(
        "ghcr.io/stackdef",
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9][-a-z0-9._]*)*$",
        max_length=255,
        description="Registry and namespace to pull it from (push your own build there, e.g. '123.dkr.ecr.us-east-1.amazonaws.com/ml').",
    )
    tag: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", description="Image tag; default: the stackdef version."
    )


class DataSection(_Base):
    """Validated data and a feature store beside the services."""

    image: RuntimeImage = Field(default_factory=RuntimeImage, description="The stackdef-runtime image.")
    volume: DataVolume | None = Field(None, description="The data volume file datasets live on in the cluster.")
    pushgateway: str | None = Field(
        None,
        pattern=r"^https?://[A-Za-z0-9][-A-Za-z0-9.]*(:[0-9]{1,5})?(/[^\s]*)?$",
        max_length=512,
        description="Prometheus Pushgateway URL the validation jobs push their results to; default: logs only.",
    )
    datasets: list[Dataset] = Field(default_factory=list, max_length=200, description="Datasets and their checks.")
    feature_store: FeatureStore | None = Field(None, description="A Feast feature store.")
