"""The feature store's Feast repository as text: ``feature_store.yaml`` and one definitions module.

Pure: no Feast import and no I/O. Compile puts the files in the repo ConfigMap; the apply Job
runs :func:`apply_command`, each materialization CronJob :func:`materialize_command`.

Output is byte-stable (the spec's order, nothing from the clock or the environment) and every
name is written as a literal, never spliced in: Python ``repr`` in the definitions, YAML
single-quoted scalars in ``feature_store.yaml``. Made for Feast 0.67 (its CLI, its
``RepoConfig``, its Redis connection-string parser); ``tests/test_feast_store.py`` runs it
against the real ``feast`` and a real ``redis-server``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stackdef.layers.data.spec import Dataset, FeatureStore, FeatureView, duration_seconds
from stackdef.templating import render_template

FEATURE_STORE_YAML = "feature_store.yaml"
#: A module name nothing else on sys.path has: ``feast apply`` imports it by name.
DEFINITIONS = "stackdef_feast_repo.py"
#: Where the repo ConfigMap is mounted in the apply Job and the materialization CronJobs.
REPO_DIR = "/feast/repo"
#: Writable scratch the apply Job copies the repo into (see :func:`apply_command`).
WORK_DIR = "/tmp/feast-repo"
#: Feast 0.67 refuses anything below 3 for writing ("Serialization ... < 3 is removed").
ENTITY_KEY_SERIALIZATION_VERSION = 3
REGISTRY_CACHE_TTL_SECONDS = 60

_FEAST_TYPES = {
    "int64": "Int64",
    "int32": "Int32",
    "float64": "Float64",
    "float32": "Float32",
    "string": "String",
    "bool": "Bool",
}
_KEY_TYPES = {"int64": ("ValueType.INT64", "Int64"), "string": ("ValueType.STRING", "String")}
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Control characters, and what YAML reads as a line break (NEL, LS, PS) or a byte-order mark.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]")


@dataclass(frozen=True)
class _Source:
    dataset: str
    timestamp_field: str
    created_timestamp_field: str | None


def _lit(value: str) -> str:
    """A Python string literal (repr quotes and escapes anything, whatever the name holds)."""
    return repr(str(value))


def _var(prefix: str, index: int, name: str) -> str:
    # Names may hold '-' (DataName); the index keeps the identifiers unique whatever they hold.
    return f"{prefix}_{index}_{re.sub(r'[^A-Za-z0-9_]', '_', name)}"


def _yaml_str(value: str, what: str) -> str:
    """A YAML single-quoted scalar: only ' is special in it (doubled)."""
    if _CONTROL.search(value):
        raise ValueError(f"{what} {value!r} holds a control character")
    if "$" in value:
        # Feast runs os.path.expandvars over the whole file before parsing it.
        raise ValueError(f"{what} {value!r} holds '$', which Feast would expand as an environment variable")
    return "'" + value.replace("'", "''") + "'"


def connection_string(redis_address: str, *, ssl: bool, password_env: str | None) -> str:
    """Feast's Redis ``host:port,key=value`` string, the password as ``${ENV}``.

    Feast splits the string on ',' and json-decodes each value, so the password is written
    in JSON quotes: a password such as ``12e3`` or ``true`` stays that string rather than
    becoming a number or a boolean. (A password holding ``"``, ``\\``, ``'`` or ``,`` still
    cannot pass through this format.)
    """
    host, sep, port = redis_address.rpartition(":")
    if not sep or not host or not port.isdigit() or "," in redis_address or "=" in redis_address:
        raise ValueError(f"redis address {redis_address!r} is not host:port")
    parts = [redis_address]
    if password_env is not None:
        if not _ENV_NAME.fullmatch(password_env):
            raise ValueError(f"password variable {password_env!r} is not an environment variable name")
        parts.append(f'password="${{{password_env}}}"')
    if ssl:
        parts.append("ssl=true")
    return ",".join(parts)


def _source_path(ds: Dataset, data_dir: str) -> str:
    src = ds.source
    if src.type == "file":
        if src.file_format != "parquet":
            raise ValueError(f"dataset {ds.name!r} is CSV; Feast's file offline store reads Parquet only")
        return data_dir.rstrip("/") + "/" + src.path
    if src.type == "object_store":
        if src.file_format != "parquet":
            raise ValueError(f"dataset {ds.name!r} is CSV; Feast's file offline store reads Parquet only")
        return src.uri
    raise ValueError(f"dataset {ds.name!r} is a {src.type} source; Feast's file offline store reads files and objects")


def _source_key(v: FeatureView) -> _Source:
    return _Source(v.source.dataset, v.source.timestamp_field, v.source.created_timestamp_field)


def _source_names(fs: FeatureStore) -> dict[_Source, str]:
    """One FileSource per dataset and timestamp columns, in first-use order, named after the dataset."""
    keys: list[_Source] = []
    for v in fs.feature_views:
        if _source_key(v) not in keys:
            keys.append(_source_key(v))
    out: dict[_Source, str] = {}
    for k in keys:
        if sum(1 for o in keys if o.dataset == k.dataset) == 1:
            name = k.dataset
        else:
            # Two views read one dataset by different timestamps: Feast needs a name per source.
            name = "__".join([k.dataset, k.timestamp_field] + ([k.created_timestamp_field] if k.created_timestamp_field else []))
        if name in out.values():
            raise ValueError(f"two Feast sources over dataset {k.dataset!r} would both be named {name!r}")
        out[k] = name
    return out


def _tags(pairs: list[tuple[str, str | None]]) -> list[tuple[str, str]]:
    return [(_lit(k), _lit(v)) for k, v in pairs if v is not None]


def definitions(fs: FeatureStore, datasets: dict[str, Dataset], *, data_dir: str) -> str:
    """The Python module ``feast apply`` reads: entities, sources, feature views, feature services."""
    entities = {e.name: e for e in fs.entities}
    entity_vars = {e.name: _var("entity", i, e.name) for i, e in enumerate(fs.entities)}
    entity_ctx = []
    for e in fs.entities:
        if len(e.join_keys) != 1:
            raise ValueError(f"entity {e.name!r} has {len(e.join_keys)} join keys; Feast 0.67 takes exactly one")
        entity_ctx.append(
            dict(var=entity_vars[e.name], name=_lit(e.name), join_key=_lit(e.join_keys[0]),
                 value_type=_KEY_TYPES[e.value_type][0], description=_lit(e.description))
        )

    names = _source_names(fs)
    source_vars = {k: _var("source", i, n) for i, (k, n) in enumerate(names.items())}
    source_ctx = []
    for k, name in names.items():
        ds = datasets.get(k.dataset)
        if ds is None:
            raise ValueError(f"dataset {k.dataset!r} is not declared")
        source_ctx.append(
            dict(var=source_vars[k], name=_lit(name), path=_lit(_source_path(ds, data_dir)),
                 timestamp_field=_lit(k.timestamp_field),
                 created_timestamp_field=None if k.created_timestamp_field is None else _lit(k.created_timestamp_field))
        )

    view_vars = {v.name: _var("view", i, v.name) for i, v in enumerate(fs.feature_views)}
    view_ctx = []
    for v in fs.feature_views:
        fields = []
        keys: list[str] = []
        for name in v.entities:
            key = entities.get(name)
            if key is None:
                raise ValueError(f"feature view {v.name!r}: entity {name!r} is not declared")
            # Join keys in the schema too, typed, so Feast infers nothing from the data.
            keys.append(key.join_keys[0])
            fields.append(dict(name=_lit(key.join_keys[0]), dtype=_KEY_TYPES[key.value_type][1]))
        for feature, ftype in v.features.items():
            if feature in keys or feature in (v.source.timestamp_field, v.source.created_timestamp_field):
                raise ValueError(f"feature view {v.name!r}: feature {feature!r} is also a key or timestamp column")
            fields.append(dict(name=_lit(feature), dtype=_FEAST_TYPES[ftype]))
        view_ctx.append(
            dict(
                var=view_vars[v.name],
                name=_lit(v.name),
                entities=[entity_vars[n] for n in v.entities],
                ttl_seconds=duration_seconds(v.ttl),
                fields=fields,
                source=source_vars[_source_key(v)],
                description=_lit(v.description),
                owner=_lit(v.owner or ""),
                tags=_tags([
                    ("stackdef.stage", v.stage),
                    ("stackdef.dataset", v.source.dataset),
                    ("stackdef.owner", v.owner),
                    ("stackdef.freshness_sla", v.freshness_sla),
                    ("stackdef.materialize", v.materialize.schedule if v.materialize else None),
                ]),
            )
        )

    service_ctx = []
    for i, s in enumerate(fs.feature_services):
        missing = [n for n in s.feature_views if n not in view_vars]
        if missing:
            raise ValueError(f"feature service {s.name!r}: feature view {missing[0]!r} is not declared")
        service_ctx.append(
            dict(
                var=_var("service", i, s.name),
                name=_lit(s.name),
                views=[view_vars[n] for n in s.feature_views],
                tags=_tags([
                    ("stackdef.production", "true" if s.production else "false"),
                    ("stackdef.consumers", ",".join(s.consumers) or None),
                ]),
            )
        )
    return render_template("feast/definitions.py.j2", entities=entity_ctx, sources=source_ctx, views=view_ctx, services=service_ctx)


def feature_store_yaml(
    fs: FeatureStore, *, registry_path: str, redis_address: str, redis_ssl: bool, password_env: str | None = "REDIS_PASSWORD"
) -> str:
    _yaml_str(redis_address, "redis address")  # the checks only: no '$', no control characters
    conn = connection_string(redis_address, ssl=redis_ssl, password_env=password_env)
    if "'" in conn:
        raise ValueError(f"redis address {redis_address!r} holds a quote")
    return render_template(
        "feast/feature_store.yaml.j2",
        project=_yaml_str(fs.project, "project"),
        registry_path=_yaml_str(registry_path, "registry path"),
        registry_cache_ttl_seconds=REGISTRY_CACHE_TTL_SECONDS,
        # Not _yaml_str: this one must carry its ${VAR} through to Feast.
        connection_string="'" + conn + "'",
        entity_key_serialization_version=ENTITY_KEY_SERIALIZATION_VERSION,
    )


def repo_files(
    fs: FeatureStore,
    datasets: dict[str, Dataset],
    *,
    data_dir: str,
    registry_path: str,
    redis_address: str,
    redis_ssl: bool,
    password_env: str | None = "REDIS_PASSWORD",
) -> dict[str, str]:
    """The Feast repository, file name → text.

    ``data_dir`` is where file datasets are (the data volume's mount); object-store datasets
    are read at their URI. ``password_env`` names the variable the pods carry the Redis
    password in (None: a Redis without one).
    """
    return {
        FEATURE_STORE_YAML: feature_store_yaml(
            fs, registry_path=registry_path, redis_address=redis_address, redis_ssl=redis_ssl, password_env=password_env
        ),
        DEFINITIONS: definitions(fs, datasets, data_dir=data_dir),
    }


#: Shell prologue of every Feast pod: a password the connection string cannot carry (see
#: :func:`connection_string`) stops the pod with one line instead of a confusing Redis error.
#: stackdef never sees the value, so this is the first place it can be checked.
PASSWORD_GUARD = (
    'case "${REDIS_PASSWORD-}" in *[,\\\'\\"\\\\]*) '
    'echo "stackdef: the Redis password contains , \' \\" or \\\\, which Feast\'s connection string cannot carry (choose a password without them)" >&2; '
    "exit 2;; esac; "
)


def apply_command(repo_dir: str = REPO_DIR, *, work_dir: str = WORK_DIR) -> list[str]:
    """``feast apply``, run by the apply Job.

    The repo is first copied (dereferenced) out of its ConfigMap mount: there each file is a
    symlink into a ``..<timestamp>`` folder, and ``feast apply`` resolves the symlinks and
    derives the module name from that folder, which does not import.
    """
    script = PASSWORD_GUARD + 'set -eu; rm -rf "$2"; mkdir -p "$2"; cp -L "$1"/*.yaml "$1"/*.py "$2"/; exec feast -c "$2" apply'
    return ["sh", "-c", script, "feast-apply", repo_dir, work_dir]


def materialize_command(view: str, repo_dir: str = REPO_DIR) -> list[str]:
    """``feast materialize-incremental <now, UTC> --views <view>``, run by a view's CronJob.

    The end is taken in the container when the Job runs (``date -u``; Feast reads a naive ISO
    time as UTC). Materialization reads only the registry and feature_store.yaml, so it runs
    in the ConfigMap mount directly. The view's name is an argument, never part of the script.
    """
    script = PASSWORD_GUARD + 'set -eu; exec feast -c "$1" materialize-incremental "$(date -u +%Y-%m-%dT%H:%M:%S)" --views "$2"'
    return ["sh", "-c", script, "feast-materialize", repo_dir, view]


def serve_command(port: int, repo_dir: str = REPO_DIR) -> list[str]:
    """``feast serve`` on all interfaces, run by the feature server Deployment.

    It reads only feature_store.yaml and the registry (no definitions module), so like
    materialization it runs in the ConfigMap mount directly.
    """
    script = PASSWORD_GUARD + 'set -eu; exec feast -c "$1" serve -h 0.0.0.0 -p "$2" --no-access-log'
    return ["sh", "-c", script, "feast-serve", repo_dir, str(port)]
