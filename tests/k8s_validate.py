"""Test-side validator: proves rendered Kubernetes manifests are valid.

Each error string is prefixed with ``Kind/name:`` and tagged with its source:

``[schema]``
    * Built-in kinds: the Kubernetes ``K8S_VERSION`` *strict* JSON schemas shipped
      by the PyPI package ``kubernetes-validate`` (the same files its
      ``kubernetes_validate.validate(doc, K8S_VERSION, strict=True)`` uses, where
      every object has ``additionalProperties: false``), loaded once and cached.
      Deliberate tightenings (the upstream schema is looser than the API server):
      ``resource.Quantity`` values must match the Kubernetes quantity grammar,
      ``format: int32/int64`` ranges are enforced, and ~30 common enum-like
      fields (imagePullPolicy, protocol, Service type, restartPolicy, selector
      operators, accessModes, ...) get their allowed values (``_BUILTIN_ENUMS``).
    * Custom resources: the served version's ``openAPIV3Schema`` of the CRD found
      in the bundle at ``$STACKDEF_CRDS_DIR`` converted to JSON Schema 2020-12 so
      that it behaves like the API server with ``--validate=strict``: objects that
      would be pruned are closed (``additionalProperties: false``),
      ``x-kubernetes-int-or-string`` / ``-preserve-unknown-fields`` /
      ``-embedded-resource`` / ``-list-type`` / ``-list-map-keys`` honoured,
      ``format: int32|int64|date-time`` checked, defaulted fields not treated as
      missing, and root ``metadata`` checked as a strict ``ObjectMeta``.
``[cel]``
    CRD ``x-kubernetes-validations`` rules, evaluated with a CEL interpreter when
    one is installed (see ``CEL_BACKEND``); transition rules (``oldSelf``) are
    skipped because a rendered manifest is always a create.
``[apiserver]``
    Static checks the API server performs in Go code rather than in the schema
    (object names, label/annotation syntax, pod-spec rules, selector/template
    match, Service ports, ...).
``[kuberay]``
    KubeRay v1.7.0 runtime validation of a RayService (``kuberay_runtime_errors``),
    which the operator applies after admission and reports only as Warning events.

Null values anywhere are reported (the API server silently prunes them, which
hides compiler bugs); schema validation then runs on the null-pruned object,
as the API server does.

Public API::

    validate_manifest(doc, k8s_version=K8S_VERSION, *, crds_dir=None) -> list[str]
    validate_manifests(docs, k8s_version=K8S_VERSION, *, crds_dir=None) -> list[str]
    kuberay_runtime_errors(doc) -> list[str]          # unprefixed
    load_crd_index(crds_dir=None) -> CRDIndex          # cached per directory
    reset_caches()
    CRDBundleError                                     # env var unset / dir missing
"""
from __future__ import annotations

import copy
import functools
import importlib.metadata
import json
import os
import re
from decimal import Decimal, InvalidOperation
from importlib.resources import files as _resource_files
from pathlib import Path
from typing import Any, Iterable, Iterator

import jsonschema
import yaml
from jsonschema.validators import Draft202012Validator, extend
from referencing import Registry, Resource

__all__ = [
    "K8S_VERSION",
    "CRDS_ENV_VAR",
    "CRDBundleError",
    "CRDIndex",
    "CEL_BACKEND",
    "validate_manifest",
    "validate_manifests",
    "kuberay_runtime_errors",
    "load_crd_index",
    "reset_caches",
]

# Newest schema set shipped by kubernetes-validate 1.37.0 (it ships 1.25 ... 1.37).
# Pass k8s_version="1.36" to validate_manifest(s) to check against kind's
# default node image (kindest/node v1.36.1) instead.
K8S_VERSION = "1.37"
CRDS_ENV_VAR = "STACKDEF_CRDS_DIR"
_DEFS_URI = "https://kubernetes.io/api/_definitions.json"
_OBJECT_META_REF = _DEFS_URI + "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

_MAX_MSG = 300
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~7x faster


class CRDBundleError(RuntimeError):
    """The CRD bundle cannot be found/loaded. Raised (never swallowed) so tests fail."""


# --------------------------------------------------------------------------- #
# k8s.io/apimachinery/pkg/util/validation equivalents
# --------------------------------------------------------------------------- #
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_QUALIFIED_NAME_PART = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_CONFIGMAP_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_IANA_SVC_NAME = re.compile(r"^[-a-z0-9]+$")
# Same grammar as the pattern controller-gen emits for resource.Quantity.
QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
_QUANTITY = re.compile(QUANTITY_PATTERN)


def is_dns1123_label(v: Any) -> list[str]:
    if not isinstance(v, str):
        return ["must be a string"]
    errs = []
    if len(v) > 63:
        errs.append("must be no more than 63 characters")
    if not _DNS1123_LABEL.fullmatch(v):
        errs.append("must be a lowercase RFC 1123 label ([a-z0-9]([-a-z0-9]*[a-z0-9])?)")
    return errs


def is_dns1123_subdomain(v: Any) -> list[str]:
    if not isinstance(v, str):
        return ["must be a string"]
    errs = []
    if len(v) > 253:
        errs.append("must be no more than 253 characters")
    if not _DNS1123_SUBDOMAIN.fullmatch(v):
        errs.append("must be a lowercase RFC 1123 subdomain")
    return errs


def is_dns1035_label(v: Any) -> list[str]:
    if not isinstance(v, str):
        return ["must be a string"]
    errs = []
    if len(v) > 63:
        errs.append("must be no more than 63 characters")
    if not _DNS1035_LABEL.fullmatch(v):
        errs.append("must be a DNS-1035 label ([a-z]([-a-z0-9]*[a-z0-9])?)")
    return errs


def is_qualified_name(v: Any) -> list[str]:
    """validation.IsQualifiedName: ``[prefix/]name`` (label and annotation keys)."""
    if not isinstance(v, str):
        return ["must be a string"]
    parts = v.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            return ["prefix part must be non-empty"]
        errs = is_dns1123_subdomain(prefix)
        if errs:
            return ["prefix part " + e for e in errs]
    else:
        return ["a qualified name must have at most one '/'"]
    if not name:
        return ["name part must be non-empty"]
    errs = []
    if len(name) > 63:
        errs.append("name part must be no more than 63 characters")
    if not _QUALIFIED_NAME_PART.fullmatch(name):
        errs.append("name part must consist of alphanumerics, '-', '_' or '.', "
                    "starting and ending with an alphanumeric")
    return errs


def is_valid_label_value(v: Any) -> list[str]:
    if not isinstance(v, str):
        return ["must be a string"]
    errs = []
    if len(v) > 63:
        errs.append("must be no more than 63 characters")
    if not _LABEL_VALUE.fullmatch(v):
        errs.append("must be empty or alphanumerics, '-', '_' or '.', "
                    "starting and ending with an alphanumeric")
    return errs


def is_valid_port_name(v: Any) -> list[str]:
    """validation.IsValidPortName (IANA_SVC_NAME)."""
    if not isinstance(v, str):
        return ["must be a string"]
    errs = []
    if not 1 <= len(v) <= 15:
        errs.append("must be no more than 15 characters")
    if not _IANA_SVC_NAME.fullmatch(v):
        errs.append("must contain only lowercase alphanumerics and '-'")
    if "--" in v:
        errs.append("must not contain consecutive hyphens")
    if not re.search("[a-z]", v):
        errs.append("must contain at least one letter")
    if v.startswith("-") or v.endswith("-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def _is_valid_port_num(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 65535


_SUFFIX = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": 1,
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
}


def parse_quantity(v: Any) -> Decimal | None:
    """resource.ParseQuantity -> exact Decimal, or None if not a quantity."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return Decimal(str(v))
    if not isinstance(v, str) or not _QUANTITY.fullmatch(v):
        return None
    m = re.match(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(.*)$", v)
    assert m
    num, suffix = m.groups()
    try:
        if suffix[:1] in ("e", "E"):
            return Decimal(num) * (Decimal(10) ** Decimal(suffix[1:]))
        return Decimal(num) * Decimal(_SUFFIX[suffix])
    except (InvalidOperation, KeyError):
        return None


_GO_DURATION = re.compile(r"^[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+$")
_GO_DURATION_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3,
                     "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_go_duration(s: str) -> float | None:
    """time.ParseDuration -> seconds, or None if invalid."""
    if s in ("0", "+0", "-0"):
        return 0.0
    if not _GO_DURATION.fullmatch(s):
        return None
    sign = -1.0 if s.startswith("-") else 1.0
    total = sum(float(n) * _GO_DURATION_UNIT[u]
                for n, _, u in re.findall(r"(\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)", s))
    return sign * total


# --------------------------------------------------------------------------- #
# Small helpers
# --------------------------------------------------------------------------- #
def _path(parts: Iterable[Any]) -> str:
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif re.fullmatch(r"[A-Za-z_$][A-Za-z0-9_$-]*", str(p)):
            out += ("." if out else "") + str(p)
        else:
            out += f"[{json.dumps(str(p))}]"
    return out or "<root>"


def _short(msg: str) -> str:
    msg = " ".join(str(msg).split())
    return msg if len(msg) <= _MAX_MSG else msg[: _MAX_MSG - 3] + "..."


def _d(x: Any) -> dict:
    return x if isinstance(x, dict) else {}


def _l(x: Any) -> list:
    return x if isinstance(x, list) else []


def _null_paths(obj: Any, path: tuple = ()) -> Iterator[tuple]:
    if obj is None:
        yield path
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _null_paths(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _null_paths(v, path + (i,))


def _strip_nulls(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _strip_nulls(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_strip_nulls(v) for v in obj]
    return obj


def _group_version(api_version: str) -> tuple[str, str]:
    if "/" in api_version:
        g, v = api_version.split("/", 1)
        return g, v
    return "", api_version


# --------------------------------------------------------------------------- #
# Built-in kinds: kubernetes-validate strict schemas (cached)
# --------------------------------------------------------------------------- #
def _schema_dir(k8s_version: str):
    mm = ".".join(k8s_version.lstrip("v").split(".")[:2])
    d = (_resource_files("kubernetes_validate")
         .joinpath("kubernetes-json-schema").joinpath(f"v{mm}.0-local-strict"))
    if not d.is_dir():
        import kubernetes_validate

        raise RuntimeError(
            f"kubernetes-validate {kubernetes_validate.__version__} ships no strict "
            f"schemas for Kubernetes {mm}")
    return d


# The upstream schemas carry no enums for built-in fields whose values the API
# server checks in Go ("Unsupported value"). (definition, property, values,
# applies-to-array-items). "" is accepted where the server defaults the field
# before validating it.
_CORE, _META = "io.k8s.api.core.v1.", "io.k8s.apimachinery.pkg.apis.meta.v1."
_PROTOCOLS = ["", "TCP", "UDP", "SCTP"]
_BUILTIN_ENUMS: list[tuple[str, str, list[str], bool]] = [
    (_CORE + "Container", "imagePullPolicy", ["", "Always", "Never", "IfNotPresent"], False),
    (_CORE + "Container", "terminationMessagePolicy", ["", "File", "FallbackToLogsOnError"], False),
    (_CORE + "ContainerPort", "protocol", _PROTOCOLS, False),
    (_CORE + "ServicePort", "protocol", _PROTOCOLS, False),
    (_CORE + "ServiceSpec", "type", ["", "ClusterIP", "NodePort", "LoadBalancer", "ExternalName"],
     False),
    (_CORE + "ServiceSpec", "sessionAffinity", ["", "None", "ClientIP"], False),
    (_CORE + "ServiceSpec", "externalTrafficPolicy", ["", "Cluster", "Local"], False),
    (_CORE + "ServiceSpec", "internalTrafficPolicy", ["", "Cluster", "Local"], False),
    (_CORE + "ServiceSpec", "ipFamilyPolicy", ["", "SingleStack", "PreferDualStack",
                                               "RequireDualStack"], False),
    (_CORE + "PodSpec", "restartPolicy", ["", "Always", "OnFailure", "Never"], False),
    (_CORE + "PodSpec", "dnsPolicy", ["", "ClusterFirstWithHostNet", "ClusterFirst", "Default",
                                      "None"], False),
    (_CORE + "PodSpec", "preemptionPolicy", ["", "PreemptLowerPriority", "Never"], False),
    (_CORE + "Toleration", "operator", ["", "Exists", "Equal"], False),
    (_CORE + "Toleration", "effect", ["", "NoSchedule", "PreferNoSchedule", "NoExecute"], False),
    (_CORE + "NodeSelectorRequirement", "operator", ["In", "NotIn", "Exists", "DoesNotExist",
                                                     "Gt", "Lt"], False),
    (_META + "LabelSelectorRequirement", "operator", ["In", "NotIn", "Exists", "DoesNotExist"],
     False),
    (_CORE + "PersistentVolumeClaimSpec", "accessModes", ["ReadWriteOnce", "ReadOnlyMany",
                                                          "ReadWriteMany", "ReadWriteOncePod"],
     True),
    (_CORE + "PersistentVolumeClaimSpec", "volumeMode", ["", "Filesystem", "Block"], False),
    (_CORE + "TopologySpreadConstraint", "whenUnsatisfiable", ["DoNotSchedule", "ScheduleAnyway"],
     False),
    (_CORE + "HTTPGetAction", "scheme", ["", "HTTP", "HTTPS"], False),
    (_CORE + "SeccompProfile", "type", ["RuntimeDefault", "Unconfined", "Localhost"], False),
    ("io.k8s.api.networking.v1.NetworkPolicySpec", "policyTypes", ["Ingress", "Egress"], True),
    ("io.k8s.api.networking.v1.NetworkPolicyPort", "protocol", _PROTOCOLS, False),
    ("io.k8s.api.apps.v1.DeploymentStrategy", "type", ["", "Recreate", "RollingUpdate"], False),
    ("io.k8s.api.apps.v1.StatefulSetSpec", "podManagementPolicy", ["", "OrderedReady", "Parallel"],
     False),
    ("io.k8s.api.apps.v1.StatefulSetUpdateStrategy", "type", ["", "RollingUpdate", "OnDelete"],
     False),
    ("io.k8s.api.apps.v1.DaemonSetUpdateStrategy", "type", ["", "RollingUpdate", "OnDelete"],
     False),
    ("io.k8s.api.batch.v1.CronJobSpec", "concurrencyPolicy", ["", "Allow", "Forbid", "Replace"],
     False),
    ("io.k8s.api.batch.v1.JobSpec", "completionMode", ["", "NonIndexed", "Indexed"], False),
    ("io.k8s.api.autoscaling.v2.MetricSpec", "type", ["ContainerResource", "External", "Object",
                                                      "Pods", "Resource"], False),
    ("io.k8s.api.autoscaling.v2.MetricTarget", "type", ["Utilization", "Value", "AverageValue"],
     False),
]


@functools.lru_cache(maxsize=None)
def _k8s_registry(k8s_version: str) -> Registry:
    defs = json.loads(_schema_dir(k8s_version).joinpath("_definitions.json").read_text())
    # Tighten resource.Quantity (upstream: any string or number).
    defs["$defs"]["io.k8s.apimachinery.pkg.api.resource.Quantity"] = {
        "x-stackdef-quantity": True,
        "anyOf": [
            {"type": "number"},
            {"type": "null"},
            {"type": "string", "pattern": _go_pattern(QUANTITY_PATTERN)},
        ],
    }
    for defname, prop, values, items in _BUILTIN_ENUMS:
        target = _d(_d(defs["$defs"].get(defname)).get("properties")).get(prop)
        if isinstance(target, dict):
            if items:
                target = target.setdefault("items", {})
            target["enum"] = values
    return Resource.from_contents(defs) @ Registry()


@functools.lru_cache(maxsize=None)
def _builtin_validator(api_version: str, kind: str, k8s_version: str):
    # Same file-name mapping as kubernetes_validate.utils.validate:
    # rbac.authorization.k8s.io/v1 -> rbac-v1 ; v1 -> v1
    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    f = _schema_dir(k8s_version).joinpath(f"{kind.lower()}-{api}.json")
    if not f.is_file():
        return None
    schema = json.loads(f.read_text())
    # The filename mapping drops the group suffix; make sure this really is the
    # group the document names (e.g. reject "apps.example.com/v1 Deployment").
    gvks = schema.get("x-kubernetes-group-version-kind") or []
    group, version = _group_version(api_version)
    if gvks and not any(g.get("group", "") == group and g.get("version") == version
                        and g.get("kind") == kind for g in gvks):
        return None
    registry = Resource.from_contents(schema) @ _k8s_registry(k8s_version)
    # format_checker: int32/int64 ranges (the API server cannot decode overflow).
    return Draft202012Validator(schema, registry=registry, format_checker=_FORMAT_CHECKER)


# --------------------------------------------------------------------------- #
# CRDs: structural schema -> JSON Schema that mimics the API server (strict)
# --------------------------------------------------------------------------- #
_FORMAT_CHECKER = jsonschema.FormatChecker(formats=())
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _int_in(lo: int, hi: int):
    def check(v: Any) -> bool:
        if isinstance(v, bool) or not isinstance(v, int):
            return True  # type errors are reported by "type"
        return lo <= v <= hi
    return check


_FORMAT_CHECKER.checks("int32")(_int_in(-(2**31), 2**31 - 1))
_FORMAT_CHECKER.checks("int64")(_int_in(-(2**63), 2**63 - 1))


@_FORMAT_CHECKER.checks("date-time")
def _check_date_time(v: Any) -> bool:
    return not isinstance(v, str) or bool(_RFC3339.fullmatch(v))


def _go_pattern(p: str) -> str:
    """Translate an RE2 (Go) pattern to Python ``re`` with the same meaning.

    * RE2 allows global inline flags mid-pattern ('^(?i)...'); Python wants them first.
    * RE2 ``$`` (no multi-line flag) matches only at the very end; Python's also
      before a trailing newline, so unescaped ``$`` outside classes becomes ``\\Z``.
    """
    m = re.match(r"^\^\(\?([ims]+)\)(.*)$", p, re.S)
    if m:
        p = f"(?{m.group(1)})^{m.group(2)}"
    out, i, in_class = [], 0, False
    while i < len(p):
        c = p[i]
        if c == "\\":
            out.append(p[i:i + 2])
            i += 2
            continue
        if in_class:
            if c == "]" and not (out and out[-1] in ("[", "[^")):
                in_class = False
        elif c == "[":
            in_class = True
            if p[i + 1:i + 2] == "^":
                out.append("[^")
                i += 2
                continue
        elif c == "$":
            c = r"\Z"
        out.append(c)
        i += 1
    fixed = "".join(out)
    re.compile(fixed)
    return fixed


_DROP = {
    "description", "example", "externalDocs", "nullable",
    "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource",
    "x-kubernetes-int-or-string", "x-kubernetes-map-type", "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
}


def crd_schema_to_jsonschema(node: Any, *, structural: bool = True) -> Any:
    """Convert one (sub)schema of a structural CRD schema.

    ``structural=False`` is used below allOf/anyOf/oneOf/not, which in a
    structural schema carry value validations only (no closing of objects there).
    """
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for k, v in node.items():
        if k in _DROP:
            continue
        if k == "properties":
            out[k] = {p: crd_schema_to_jsonschema(s, structural=structural) for p, s in v.items()}
        elif k == "items":
            out[k] = (crd_schema_to_jsonschema(v, structural=structural) if isinstance(v, dict)
                      else [crd_schema_to_jsonschema(x, structural=structural) for x in v])
        elif k == "additionalProperties":
            out[k] = v if isinstance(v, bool) else crd_schema_to_jsonschema(v, structural=structural)
        elif k in ("allOf", "anyOf", "oneOf"):
            out[k] = [crd_schema_to_jsonschema(x, structural=False) for x in v]
        elif k == "not":
            out[k] = crd_schema_to_jsonschema(v, structural=False)
        elif k == "required" and structural:
            # The API server defaults before it validates: a required field that
            # has a default is never missing.
            props = node.get("properties") or {}
            req = [r for r in v if not (isinstance(props.get(r), dict) and "default" in props[r])]
            if req:
                out[k] = req
        elif k == "pattern":
            out[k] = _go_pattern(v)
        else:
            out[k] = v
    if not structural:
        return out

    if node.get("x-kubernetes-int-or-string"):
        out["type"] = ["integer", "string"]
    lt = node.get("x-kubernetes-list-type")
    if lt == "set":
        out["uniqueItems"] = True
    elif lt == "map":
        item_props = _d(_d(node.get("items")).get("properties"))
        keys = node.get("x-kubernetes-list-map-keys") or []
        out["x-stackdef-list-map"] = {
            "keys": keys,
            "defaults": {k: item_props[k]["default"] for k in keys
                         if "default" in _d(item_props.get(k))},
        }
    if node.get("x-kubernetes-embedded-resource"):
        props = out.setdefault("properties", {})
        props.setdefault("apiVersion", {"type": "string", "minLength": 1})
        props.setdefault("kind", {"type": "string", "minLength": 1})
        props["metadata"] = {"$ref": _OBJECT_META_REF}
        out["required"] = sorted(set(out.get("required", [])) | {"apiVersion", "kind"})
    if (not node.get("x-kubernetes-preserve-unknown-fields")
            and node.get("type") == "object"
            and "additionalProperties" not in node):
        # Fields not in the schema would be pruned; --validate=strict rejects them.
        out["additionalProperties"] = False
    return out


def apply_crd_defaults(instance: Any, schema: Any) -> Any:
    """Structural-schema defaulting as the API server does it before validating
    (and before CEL): missing properties with a ``default`` are filled in,
    recursively, also inside defaulted values. Returns a new object."""
    if not isinstance(schema, dict):
        return instance
    if isinstance(instance, dict):
        props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        addl = schema.get("additionalProperties")
        out = dict(instance)
        for k, ps in props.items():
            if k not in out and isinstance(ps, dict) and "default" in ps:
                out[k] = copy.deepcopy(ps["default"])
        for k, v in out.items():
            sub = props.get(k, addl if isinstance(addl, dict) else None)
            if sub is not None:
                out[k] = apply_crd_defaults(v, sub)
        return out
    if isinstance(instance, list) and isinstance(schema.get("items"), dict):
        return [apply_crd_defaults(v, schema["items"]) for v in instance]
    return instance


def _list_map_keyword(validator, spec, instance, schema):
    if not validator.is_type(instance, "array"):
        return
    keys, defaults = spec.get("keys") or [], spec.get("defaults") or {}
    seen: dict[str, int] = {}
    for i, item in enumerate(instance):
        if not isinstance(item, dict):
            continue
        key = json.dumps([item.get(k, defaults.get(k)) for k in keys], sort_keys=True)
        if key in seen:
            yield jsonschema.ValidationError(
                f"duplicate entries for list-map keys {keys} = {key} (items {seen[key]} and {i})")
        else:
            seen[key] = i


# ---- CEL (x-kubernetes-validations) ----------------------------------------- #
# Evaluated with PyPI "common-expression-language" (Python bindings of cel-rust),
# import name ``cel``. Without it CEL rules are NOT checked; CEL_BACKEND is None
# and the self-test fails, so the gap cannot go unnoticed.
# Imported lazily (its package __init__ also loads a CLI: ~0.9 s).
def _cel_backend() -> str | None:
    try:
        return f"common-expression-language {importlib.metadata.version('common-expression-language')}"
    except importlib.metadata.PackageNotFoundError:
        return None


CEL_BACKEND: str | None = _cel_backend()


@functools.lru_cache(maxsize=1)
def _cel_module():
    import cel  # type: ignore

    return cel


# k8s.io/apiserver/pkg/cel/escaping.go: object property names that are CEL
# reserved words or contain '_' runs, '.', '-', '/' are escaped in expressions.
_CEL_RESERVED = {
    "true", "false", "null", "in", "as", "break", "const", "continue", "else", "for",
    "function", "if", "import", "let", "loop", "package", "namespace", "return", "var",
    "void", "while",
}


def _cel_escape(name: str) -> str:
    if name in _CEL_RESERVED:
        return f"__{name}__"
    return (name.replace("__", "__underscores__").replace(".", "__dot__")
            .replace("-", "__dash__").replace("/", "__slash__"))


def _cel_value(instance: Any, schema: Any) -> Any:
    """Instance as CEL sees it: object *properties* escaped, map keys verbatim."""
    schema = schema if isinstance(schema, dict) else {}
    if isinstance(instance, dict):
        props = schema.get("properties")
        addl = schema.get("additionalProperties")
        if isinstance(props, dict) and props:
            return {_cel_escape(k): _cel_value(v, props.get(k)) for k, v in instance.items()}
        return {k: _cel_value(v, addl) for k, v in instance.items()}
    if isinstance(instance, list):
        return [_cel_value(v, schema.get("items")) for v in instance]
    return instance


@functools.lru_cache(maxsize=None)
def _cel_program(rule: str):
    return _cel_module().compile(rule)


def _cel_keyword(validator, rules, instance, schema):
    if CEL_BACKEND is None or not isinstance(rules, list):
        return
    value = None
    for r in rules:
        rule = _d(r).get("rule", "")
        if re.search(r"\boldSelf\b", rule):
            continue  # transition rule: evaluated only on update, never on create
        if value is None:
            value = _cel_value(instance, schema)
        where = f" (at {r['fieldPath']})" if r.get("fieldPath") else ""
        try:
            result = _cel_program(rule).execute({"self": value})
        except Exception as e:  # the API server also rejects on evaluation errors
            yield jsonschema.ValidationError(
                f"[cel] rule could not be evaluated ({type(e).__name__}: {e}): {rule}{where}")
            continue
        if result is not True:
            msg = r.get("message") or f"failed rule: {rule}"
            yield jsonschema.ValidationError(f"[cel] {msg}{where}")


_CRValidator = extend(
    Draft202012Validator,
    {"x-stackdef-list-map": _list_map_keyword, "x-kubernetes-validations": _cel_keyword},
)


_CRD_DOC_SEP = re.compile(r"^---[ \t]*$", re.M)
_CRD_GROUP = re.compile(r"^  group:[ \t]*[\"']?([^\"'\s]+)", re.M)
_CRD_KIND = re.compile(r"^  names:[ \t]*\n(?:    .*\n)*?    kind:[ \t]*[\"']?([^\"'\s]+)", re.M)


def _prescan_crd(text: str) -> tuple[str, str] | None:
    """(group, kind) of a single-CRD controller-gen style file without parsing it."""
    if len(_CRD_DOC_SEP.findall(text)) > 1 or "kind: CustomResourceDefinition" not in text:
        return None
    g, k = _CRD_GROUP.search(text), _CRD_KIND.search(text)
    return (g.group(1), k.group(1)) if g and k else None


class CRDIndex:
    """CRDs of a bundle indexed by (group, version, kind).

    Files are pre-scanned for (group, kind) and parsed only when a manifest of
    that kind is validated (the KubeRay CRDs alone are ~3 MB of YAML); the parse
    is checked against the pre-scan.
    """

    def __init__(self, crds_dir: Path):
        self.dir = crds_dir
        self.crds: dict[tuple[str, str, str], dict] = {}  # gvk -> version entry
        self.scope: dict[tuple[str, str], str] = {}        # (group, kind) -> scope
        self.files: dict[tuple[str, str], Path] = {}
        self._pending: dict[tuple[str, str], Path] = {}
        self._validators: dict[tuple[str, str, str, str], Any] = {}
        files = sorted(p for p in crds_dir.rglob("*")
                       if p.is_file() and p.suffix in (".yaml", ".yml", ".json"))
        for f in files:
            text = f.read_text()
            gk = _prescan_crd(text)
            if gk is not None:
                if gk in self.files:
                    raise CRDBundleError(f"{gk[1]}.{gk[0]} defined twice: {self.files[gk]} and {f}")
                self.files[gk] = f
                self._pending[gk] = f
            else:
                self._parse(f, text)
        if not self.files:
            raise CRDBundleError(f"no CustomResourceDefinitions found under {crds_dir} "
                                 f"(${CRDS_ENV_VAR})")

    def _parse(self, f: Path, text: str, expect: tuple[str, str] | None = None) -> None:
        try:
            docs = list(yaml.load_all(text, Loader=_YAML_LOADER))
        except yaml.YAMLError as e:
            raise CRDBundleError(f"cannot parse CRD file {f}: {e}") from e
        found = []
        for d in docs:
            if not isinstance(d, dict) or d.get("kind") != "CustomResourceDefinition":
                continue
            if d.get("apiVersion") != "apiextensions.k8s.io/v1":
                raise CRDBundleError(f"{f}: only apiextensions.k8s.io/v1 CRDs are supported")
            spec = d["spec"]
            gk = (spec["group"], spec["names"]["kind"])
            found.append(gk)
            self.scope[gk] = spec.get("scope", "Namespaced")
            self.files[gk] = f
            for v in spec.get("versions", []):
                self.crds[(gk[0], v["name"], gk[1])] = v
        if expect is not None and found != [expect]:
            raise CRDBundleError(f"{f}: pre-scan said {expect}, parse found {found}")

    def _ensure(self, group: str, kind: str) -> None:
        f = self._pending.pop((group, kind), None)
        if f is not None:
            self._parse(f, f.read_text(), expect=(group, kind))

    def knows_group_kind(self, group: str, kind: str) -> bool:
        return (group, kind) in self.files

    def served_versions(self, group: str, kind: str) -> list[str]:
        self._ensure(group, kind)
        return [v for (g, v, k), e in self.crds.items()
                if g == group and k == kind and e.get("served")]

    def validator(self, group: str, version: str, kind: str, k8s_version: str = K8S_VERSION):
        key = (group, version, kind, k8s_version)
        if key not in self._validators:
            self._ensure(group, kind)
            entry = self.crds.get((group, version, kind))
            if entry is None or not entry.get("served"):
                self._validators[key] = None
            else:
                raw = _d(entry.get("schema")).get("openAPIV3Schema")
                if not raw:
                    raise CRDBundleError(f"CRD {kind}.{group}/{version} has no openAPIV3Schema")
                schema = crd_schema_to_jsonschema(raw)
                props = schema.setdefault("properties", {})
                props["apiVersion"] = {"const": f"{group}/{version}"}
                props["kind"] = {"const": kind}
                props["metadata"] = {"$ref": _OBJECT_META_REF}
                schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind"})
                schema["additionalProperties"] = False
                schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
                self._validators[key] = _CRValidator(
                    schema, registry=_k8s_registry(k8s_version), format_checker=_FORMAT_CHECKER)
        return self._validators[key]


@functools.lru_cache(maxsize=None)
def _crd_index_for(path: str) -> CRDIndex:
    return CRDIndex(Path(path))


#: The CRD schemas the tests validate against, vendored with their sources (tests/crds/README.md).
VENDORED_CRDS = Path(__file__).resolve().parent / "crds"


def load_crd_index(crds_dir: str | os.PathLike | None = None) -> CRDIndex:
    """CRD index for ``crds_dir``, else ``$STACKDEF_CRDS_DIR``, else the vendored ``tests/crds``; loud error if absent."""
    raw = crds_dir if crds_dir is not None else (os.environ.get(CRDS_ENV_VAR) or str(VENDORED_CRDS))
    p = Path(raw).expanduser().resolve()
    if not p.is_dir():
        raise CRDBundleError(
            f"${CRDS_ENV_VAR}={raw!r} does not exist or is not a directory "
            f"(resolved to {p}); custom resources cannot be validated.")
    return _crd_index_for(str(p))


def reset_caches() -> None:
    _crd_index_for.cache_clear()
    _builtin_validator.cache_clear()
    _k8s_registry.cache_clear()
    _cel_program.cache_clear()


# --------------------------------------------------------------------------- #
# jsonschema error formatting
# --------------------------------------------------------------------------- #
def _schema_errors(validator, doc: dict) -> list[str]:
    out = []
    for e in sorted(validator.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path]):
        tag = "[cel]" if str(e.message).startswith("[cel] ") else "[schema]"
        out.append(f"{tag} {_path(e.absolute_path)}: {_explain(e)}")
    return out


def _explain(e: jsonschema.ValidationError) -> str:
    schema = e.schema if isinstance(e.schema, dict) else {}
    if schema.get("x-stackdef-quantity"):
        return f"{e.instance!r} is not a valid Kubernetes quantity"
    if str(e.message).startswith("[cel] "):
        return _short(e.message[6:])
    if e.validator in ("anyOf", "oneOf") and e.context:
        best = jsonschema.exceptions.best_match(e.context)
        if best is not None:
            sub = _path(list(best.relative_path))
            where = "" if sub == "<root>" else f" (at {sub})"
            return _short(f"{best.message}{where}")
    return _short(e.message)


# --------------------------------------------------------------------------- #
# [apiserver] static checks the schema does not express
# --------------------------------------------------------------------------- #
_RBAC_KINDS = {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}
_WORKLOAD_POD_PATHS = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


def _metadata_errors(doc: dict, group: str) -> list[str]:
    errs: list[str] = []
    kind = doc.get("kind")
    md = _d(doc.get("metadata"))
    name = md.get("name")
    if not name:
        if not md.get("generateName"):
            errs.append("[apiserver] metadata.name: Required value")
    else:
        if kind == "Service" and group == "":
            problems = is_dns1035_label(name)
        elif kind == "Namespace" and group == "":
            problems = is_dns1123_label(name)
        elif kind in _RBAC_KINDS and group == "rbac.authorization.k8s.io":
            problems = ([] if isinstance(name, str) and name not in (".", "..")
                        and not re.search(r"[/%]", name) else ["must be a valid path segment name"])
        else:
            problems = is_dns1123_subdomain(name)
            if kind == "CronJob" and group == "batch" and isinstance(name, str) and len(name) > 52:
                problems.append("must be no more than 52 characters")
            if kind == "Job" and group == "batch" and isinstance(name, str) and len(name) > 63:
                problems.append("must be no more than 63 characters (it becomes a label value)")
        errs += [f"[apiserver] metadata.name: {name!r} {p}" for p in problems]
    ns = md.get("namespace")
    if ns is not None:
        errs += [f"[apiserver] metadata.namespace: {ns!r} {p}" for p in is_dns1123_label(ns)]
    errs += _labels_annotations_errors(md, "metadata")
    return errs


def _labels_annotations_errors(md: dict, where: str) -> list[str]:
    errs = []
    for k, v in _d(md.get("labels")).items():
        errs += [f"[apiserver] {where}.labels: key {k!r} {p}" for p in is_qualified_name(k)]
        errs += [f"[apiserver] {where}.labels[{k!r}]: value {v!r} {p}"
                 for p in is_valid_label_value(v)]
    ann = _d(md.get("annotations"))
    total = 0
    for k, v in ann.items():
        errs += [f"[apiserver] {where}.annotations: key {k!r} {p}"
                 for p in is_qualified_name(str(k).lower())]
        total += len(str(k)) + len(str(v))
    if total > 256 * 1024:
        errs.append(f"[apiserver] {where}.annotations: total size {total} exceeds 262144 bytes")
    return errs


def _label_selector_matches(sel: dict, labels: dict) -> bool:
    for k, v in _d(sel.get("matchLabels")).items():
        if labels.get(k) != v:
            return False
    for expr in _l(sel.get("matchExpressions")):
        k, op, vals = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(k) not in vals:
            return False
        if op == "NotIn" and k in labels and labels[k] in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


_NATIVE_RESOURCES = {"cpu", "memory", "ephemeral-storage"}


def _resources_errors(res: dict, where: str) -> list[str]:
    errs = []
    limits, requests = _d(res.get("limits")), _d(res.get("requests"))
    for section, m in (("limits", limits), ("requests", requests)):
        for rname, q in m.items():
            if not (rname in _NATIVE_RESOURCES or rname.startswith("hugepages-")
                    or ("/" in rname and not is_qualified_name(rname))):
                errs.append(f"[apiserver] {where}.{section}[{rname!r}]: must be a standard "
                            "resource type or fully qualified (e.g. nvidia.com/gpu)")
            val = parse_quantity(q)
            if val is not None and val < 0:
                errs.append(f"[apiserver] {where}.{section}[{rname!r}]: must be >= 0")
    for rname, q in requests.items():
        rq = parse_quantity(q)
        extended = "/" in rname and not rname.startswith("kubernetes.io/")
        if extended or rname.startswith("hugepages-"):
            if rname not in limits:
                errs.append(f"[apiserver] {where}.limits[{rname!r}]: Required value: limit must "
                            "be set for non overcommitable resources")
                continue
            lq = parse_quantity(limits[rname])
            if rq is not None and lq is not None and rq != lq:
                errs.append(f"[apiserver] {where}.requests[{rname!r}]: must be equal to "
                            f"{rname} limit {limits[rname]!r}")
        elif rname in limits:
            lq = parse_quantity(limits[rname])
            if rq is not None and lq is not None and rq > lq:
                errs.append(f"[apiserver] {where}.requests[{rname!r}]: {q!r} must be less than "
                            f"or equal to {rname} limit {limits[rname]!r}")
    for rname, q in {**limits, **requests}.items():
        if "/" in rname and not rname.startswith("kubernetes.io/"):
            val = parse_quantity(q)
            if val is not None and val != val.to_integral_value():
                errs.append(f"[apiserver] {where}[{rname!r}]: must be a whole number")
    return errs


_PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")


def pod_spec_errors(spec: dict, where: str, *, restart_policies: tuple[str, ...] | None = None,
                    require_restart_policy: bool = False,
                    extra_volume_names: Iterable[str] = ()) -> list[str]:
    """Static subset of ValidatePodSpec (k8s.io/kubernetes/pkg/apis/core/validation).

    ``extra_volume_names``: volumes supplied outside the pod spec (StatefulSet
    volumeClaimTemplates)."""
    errs: list[str] = []
    volumes = _l(spec.get("volumes"))
    vol_names: set[str] = set()
    for i, vol in enumerate(volumes):
        vol = _d(vol)
        vw = f"{where}.volumes[{i}]"
        vname = vol.get("name")
        errs += [f"[apiserver] {vw}.name: {vname!r} {p}" for p in is_dns1123_label(vname)]
        if vname in vol_names:
            errs.append(f"[apiserver] {vw}.name: Duplicate value {vname!r}")
        vol_names.add(vname)
        sources = [k for k in vol if k != "name"]
        if len(sources) == 0:
            errs.append(f"[apiserver] {vw}: Required value: must specify a volume type")
        elif len(sources) > 1:
            errs.append(f"[apiserver] {vw}: Forbidden: may not specify more than 1 volume "
                        f"type (got {sources})")

    containers = _l(spec.get("containers"))
    if not containers:
        errs.append(f"[apiserver] {where}.containers: Required value")
    all_names: set[str] = set()
    for field in ("initContainers", "containers"):
        for i, c in enumerate(_l(spec.get(field))):
            c = _d(c)
            cw = f"{where}.{field}[{i}]"
            cname = c.get("name")
            errs += [f"[apiserver] {cw}.name: {cname!r} {p}" for p in is_dns1123_label(cname)]
            if cname in all_names:
                errs.append(f"[apiserver] {cw}.name: Duplicate value {cname!r}")
            all_names.add(cname)
            if not c.get("image"):
                errs.append(f"[apiserver] {cw}.image: Required value")
            port_names: set[str] = set()
            for j, port in enumerate(_l(c.get("ports"))):
                port = _d(port)
                pw = f"{cw}.ports[{j}]"
                if not _is_valid_port_num(port.get("containerPort")):
                    errs.append(f"[apiserver] {pw}.containerPort: {port.get('containerPort')!r} "
                                "must be between 1 and 65535")
                hp = port.get("hostPort")
                if hp not in (None, 0) and not _is_valid_port_num(hp):
                    errs.append(f"[apiserver] {pw}.hostPort: {hp!r} must be between 1 and 65535")
                pn = port.get("name")
                if pn is not None:
                    errs += [f"[apiserver] {pw}.name: {pn!r} {p}" for p in is_valid_port_name(pn)]
                    if pn in port_names:
                        errs.append(f"[apiserver] {pw}.name: Duplicate value {pn!r}")
                    port_names.add(pn)
            mount_paths: set[str] = set()
            for j, m in enumerate(_l(c.get("volumeMounts"))):
                m = _d(m)
                mw = f"{cw}.volumeMounts[{j}]"
                if m.get("name") not in vol_names and m.get("name") not in extra_volume_names:
                    errs.append(f"[apiserver] {mw}.name: Not found: {m.get('name')!r} "
                                "(no such volume in the pod spec)")
                mp = m.get("mountPath")
                if not mp:
                    errs.append(f"[apiserver] {mw}.mountPath: Required value")
                elif mp in mount_paths:
                    errs.append(f"[apiserver] {mw}.mountPath: Invalid value {mp!r}: must be unique")
                mount_paths.add(mp)
            for j, env in enumerate(_l(c.get("env"))):
                env = _d(env)
                ename = env.get("name")
                if not ename or "=" in str(ename):
                    errs.append(f"[apiserver] {cw}.env[{j}].name: {ename!r} must be non-empty "
                                "and must not contain '='")
                if env.get("value") and "valueFrom" in env:
                    errs.append(f"[apiserver] {cw}.env[{j}].valueFrom: Invalid value: may not be "
                                "specified when `value` is not empty")
            errs += _resources_errors(_d(c.get("resources")), f"{cw}.resources")
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                if probe in c:
                    handlers = [h for h in _PROBE_HANDLERS if h in _d(c[probe])]
                    if len(handlers) != 1:
                        errs.append(f"[apiserver] {cw}.{probe}: must specify exactly one handler "
                                    f"type of {list(_PROBE_HANDLERS)} (got {handlers})")
    rp = spec.get("restartPolicy")
    if restart_policies is not None:
        if rp is None and require_restart_policy:
            errs.append(f"[apiserver] {where}.restartPolicy: Required value: must be one of "
                        f"{list(restart_policies)} (default Always is not allowed)")
        elif rp is not None and rp not in restart_policies:
            errs.append(f"[apiserver] {where}.restartPolicy: Unsupported value {rp!r}: "
                        f"supported values: {list(restart_policies)}")
    return errs


def _get(doc: Any, path: tuple) -> Any:
    for p in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(p)
    return doc


def _builtin_semantic_errors(doc: dict, group: str) -> list[str]:
    kind = doc.get("kind")
    spec = _d(doc.get("spec"))
    errs: list[str] = []
    if kind in _WORKLOAD_POD_PATHS and group in ("", "apps", "batch"):
        pod_path = _WORKLOAD_POD_PATHS[kind]
        pod = _get(doc, pod_path)
        where = ".".join(pod_path)
        rp: tuple[str, ...] | None = None
        required = False
        if kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"):
            rp = ("Always",)
        elif kind in ("Job", "CronJob"):
            rp, required = ("OnFailure", "Never"), True
        claim_templates = {_d(_d(t).get("metadata")).get("name")
                           for t in _l(spec.get("volumeClaimTemplates"))} if kind == "StatefulSet" else set()
        if isinstance(pod, dict):
            errs += pod_spec_errors(pod, where, restart_policies=rp, require_restart_policy=required,
                                    extra_volume_names=claim_templates)
        tmpl_meta_path = pod_path[:-1] + ("metadata",)
        if kind != "Pod":
            errs += _labels_annotations_errors(_d(_get(doc, tmpl_meta_path)),
                                               ".".join(tmpl_meta_path))
        if kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"):
            sel = _d(spec.get("selector"))
            labels = _d(_get(doc, ("spec", "template", "metadata", "labels")))
            if not sel.get("matchLabels") and not sel.get("matchExpressions"):
                errs.append("[apiserver] spec.selector: Invalid value: empty selector is "
                            f"invalid for {kind}")
            elif not _label_selector_matches(sel, labels):
                errs.append("[apiserver] spec.template.metadata.labels: Invalid value: "
                            "`selector` does not match template `labels`")
    elif kind == "Service" and group == "":
        ports = _l(spec.get("ports"))
        names: set[str] = set()
        for i, p in enumerate(ports):
            p = _d(p)
            pw = f"spec.ports[{i}]"
            pn = p.get("name")
            if len(ports) > 1 and not pn:
                errs.append(f"[apiserver] {pw}.name: Required value (multi-port Service)")
            if pn:
                errs += [f"[apiserver] {pw}.name: {pn!r} {e}" for e in is_dns1123_label(pn)]
                if pn in names:
                    errs.append(f"[apiserver] {pw}.name: Duplicate value {pn!r}")
                names.add(pn)
            if not _is_valid_port_num(p.get("port")):
                errs.append(f"[apiserver] {pw}.port: {p.get('port')!r} must be between 1 and 65535")
            tp = p.get("targetPort")
            if isinstance(tp, str):
                errs += [f"[apiserver] {pw}.targetPort: {tp!r} {e}" for e in is_valid_port_name(tp)]
            elif tp is not None and not _is_valid_port_num(tp):
                errs.append(f"[apiserver] {pw}.targetPort: {tp!r} must be between 1 and 65535")
            if "nodePort" in p and spec.get("type") not in ("NodePort", "LoadBalancer"):
                errs.append(f"[apiserver] {pw}.nodePort: Forbidden: may not be used when "
                            "`type` is not NodePort or LoadBalancer")
        if spec.get("type") == "ExternalName":
            if not spec.get("externalName"):
                errs.append("[apiserver] spec.externalName: Required value")
        elif not ports:
            errs.append("[apiserver] spec.ports: Required value")
        for k, v in _d(spec.get("selector")).items():
            errs += [f"[apiserver] spec.selector: key {k!r} {e}" for e in is_qualified_name(k)]
            errs += [f"[apiserver] spec.selector[{k!r}]: value {v!r} {e}"
                     for e in is_valid_label_value(v)]
    elif kind in ("ConfigMap", "Secret") and group == "":
        seen: set[str] = set()
        size = 0
        for section in ("data", "binaryData", "stringData"):
            for k, v in _d(doc.get(section)).items():
                if not _CONFIGMAP_KEY.fullmatch(str(k)) or len(str(k)) > 253 or k in (".", ".."):
                    errs.append(f"[apiserver] {section}[{k!r}]: a valid config key must consist "
                                "of alphanumerics, '-', '_' or '.'")
                if k in seen and not (kind == "Secret" and section == "stringData"):
                    errs.append(f"[apiserver] {section}[{k!r}]: Duplicate value (key in several "
                                "sections)")
                seen.add(k)
                size += len(str(v))
        if size > 1024 * 1024:
            errs.append(f"[apiserver] data: Too long: {size} bytes > 1 MiB")
    elif kind == "PersistentVolumeClaim" and group == "":
        if not _l(spec.get("accessModes")):
            errs.append("[apiserver] spec.accessModes: Required value")
        storage = _d(_d(spec.get("resources")).get("requests")).get("storage")
        if storage is None and not spec.get("dataSourceRef") and not spec.get("dataSource"):
            errs.append("[apiserver] spec.resources[storage]: Required value")
        elif storage is not None:
            q = parse_quantity(storage)
            if q is not None and q <= 0:
                errs.append("[apiserver] spec.resources.requests[storage]: must be greater than zero")
    return errs


# --------------------------------------------------------------------------- #
# [kuberay] KubeRay v1.7.0 runtime validation (ray-operator/controllers/ray/utils/
# validation.go, called from rayservice_controller.go; failures become Warning
# events InvalidRayServiceMetadata / InvalidRayServiceSpec). See
# KubeRay v1.7.0 ray-operator/controllers/ray/utils/validation.go ("Runtime validation").
# --------------------------------------------------------------------------- #
MAX_RAYSERVICE_NAME_LENGTH = 47  # KR@v1.7.0 utils/constant.go: 53 - 6
_UPGRADE_TYPES = ("NewClusterWithIncrementalUpgrade", "NewCluster", "None")


def _env_value(container: dict, name: str) -> tuple[bool, Any]:
    for e in _l(container.get("env")):
        if _d(e).get("name") == name:
            return True, _d(e).get("value", "")
    return False, None


def _version_tuple(s: str) -> tuple[int, ...] | None:
    m = re.match(r"^v?(\d+)\.(\d+)(?:\.(\d+))?", str(s))
    return tuple(int(x or 0) for x in m.groups()) if m else None


def ray_cluster_spec_errors(spec: dict, annotations: dict, where: str) -> list[str]:
    """ValidateRayClusterSpec (KR@v1.7.0) on a (Ray{Service,Job}-embedded) RayClusterSpec."""
    errs: list[str] = []
    head = _d(spec.get("headGroupSpec"))
    workers = [_d(w) for w in _l(spec.get("workerGroupSpecs"))]
    head_containers = _l(_d(_d(head.get("template")).get("spec")).get("containers"))
    if not head_containers:
        errs.append(f"{where}.headGroupSpec: should have at least one container")
    head_c = _d(head_containers[0]) if head_containers else {}

    def group_checks(g: dict, gname: str, gw: str) -> None:
        rsp = _d(g.get("rayStartParams"))
        if any(rsp.get(k) for k in ("num-cpus", "num-gpus", "memory", "resources")) \
                and _d(g.get("resources")):
            errs.append(f"{gw}: resource fields should not be set in both rayStartParams and "
                        f"resources for {gname} group; please use only one")
        if "labels" in rsp:
            errs.append(f"{gw}.rayStartParams['labels'] is not supported for {gname} group; "
                        "use the top-level labels field instead")
        for k, v in _d(g.get("labels")).items():
            errs.extend(f"{gw}.labels: invalid label key {k!r}: {p}" for p in is_qualified_name(k))
            errs.extend(f"{gw}.labels[{k!r}]: invalid label value {v!r}: {p}"
                        for p in is_valid_label_value(v))

    group_checks(head, "Head", f"{where}.headGroupSpec")
    for i, w in enumerate(workers):
        gw = f"{where}.workerGroupSpecs[{i}]"
        if not _l(_d(_d(w.get("template")).get("spec")).get("containers")):
            errs.append(f"{gw}: workerGroupSpec should have at least one container")
        group_checks(w, str(w.get("groupName")), gw)

    ft_annotation = str(annotations.get("ray.io/ft-enabled", ""))
    gcs_ft = spec.get("gcsFaultToleranceOptions")
    if ft_annotation and gcs_ft is not None:
        errs.append(f"{where}: ray.io/ft-enabled annotation and gcsFaultToleranceOptions are both "
                    "set; use only gcsFaultToleranceOptions")
    ft_enabled = ft_annotation.lower() == "true" or gcs_ft is not None
    if not ft_enabled and _env_value(head_c, "RAY_REDIS_ADDRESS")[0]:
        errs.append(f"{where}: RAY_REDIS_ADDRESS is set which implicitly enables GCS fault "
                    "tolerance, but gcsFaultToleranceOptions is not set")
    if gcs_ft is not None:
        if _d(head.get("rayStartParams")).get("redis-password"):
            errs.append(f"{where}: cannot set redis-password in rayStartParams when "
                        "gcsFaultToleranceOptions is set")
        for env in ("REDIS_PASSWORD", "RAY_REDIS_ADDRESS"):
            if _env_value(head_c, env)[0]:
                errs.append(f"{where}: cannot set {env} env var in head Pod when "
                            "gcsFaultToleranceOptions is set")
        if annotations.get("ray.io/external-storage-namespace"):
            errs.append(f"{where}: cannot set ray.io/external-storage-namespace annotation when "
                        "gcsFaultToleranceOptions is set")
    if _d(head.get("rayStartParams")).get("redis-username") or _env_value(head_c, "REDIS_USERNAME")[0]:
        errs.append(f"{where}: cannot set redis username in rayStartParams or env; use "
                    "gcsFaultToleranceOptions.redisUsername")

    autoscaling = spec.get("enableInTreeAutoscaling") is True
    has_v2_env, v2_env = _env_value(head_c, "RAY_enable_autoscaler_v2")
    autoscaler_version = _d(spec.get("autoscalerOptions")).get("version")
    if not autoscaling:
        if has_v2_env and v2_env in ("1", "true"):
            errs.append(f"{where}: env RAY_enable_autoscaler_v2={v2_env!r} requires "
                        "enableInTreeAutoscaling: true")
        for i, w in enumerate(workers):
            missing = [k for k in ("minReplicas", "maxReplicas") if k not in w]
            if missing:
                errs.append(f"{where}.workerGroupSpecs[{i}]: {' and '.join(missing)} must be set "
                            "when autoscaling is disabled (KubeRay v1.7.0)")
    v2 = autoscaling and (autoscaler_version == "v2" or (has_v2_env and v2_env in ("1", "true")))
    if autoscaling:
        for i, w in enumerate(workers):
            if w.get("suspend") is True:
                errs.append(f"{where}.workerGroupSpecs[{i}]: worker group cannot be suspended with "
                            "autoscaler enabled")
        if autoscaler_version is not None and has_v2_env:
            errs.append(f"{where}: both autoscalerOptions.version and head env "
                        "RAY_enable_autoscaler_v2 are set; use only the former")
        if v2:
            groups = [("headGroupSpec", head)] + [(f"workerGroupSpecs[{i}]", w)
                                                  for i, w in enumerate(workers)]
            for gp, g in groups:
                rp = _d(_d(g.get("template")).get("spec")).get("restartPolicy")
                if rp not in (None, "", "Never"):
                    errs.append(f"{where}.{gp}.template.spec.restartPolicy: should be Never or "
                                "unset with autoscaler v2")
    for i, w in enumerate(workers):
        gw = f"{where}.workerGroupSpecs[{i}]"
        for k in ("replicas", "minReplicas", "maxReplicas"):
            if isinstance(w.get(k), int) and w[k] < 0:
                errs.append(f"{gw}.{k}: must be >= 0, got {w[k]}")
        mn, mx = w.get("minReplicas", 0), w.get("maxReplicas", 2**31 - 1)
        if isinstance(mn, int) and isinstance(mx, int) and mn > mx:
            errs.append(f"{gw}: minReplicas ({mn}) must be <= maxReplicas ({mx})")
        if not v2:
            for k in ("idleTimeoutSeconds", "priority"):
                if w.get(k) not in (None, 0) or (k == "idleTimeoutSeconds" and k in w):
                    errs.append(f"{gw}.{k}: requires autoscaler v2 (enableInTreeAutoscaling: true "
                                "and autoscalerOptions.version: v2)")

    auth = _d(spec.get("authOptions"))
    if auth.get("mode") == "token":
        rv = spec.get("rayVersion")
        vt = _version_tuple(rv) if rv else None
        if not rv:
            errs.append(f"{where}.rayVersion: required (>= 2.52.0) when authOptions.mode is token")
        elif vt is None:
            errs.append(f"{where}.rayVersion: invalid version {rv!r}")
        elif vt < (2, 52, 0):
            errs.append(f"{where}.rayVersion: authOptions.mode token needs Ray >= 2.52.0, got {rv!r}")
    return errs


def kuberay_runtime_errors(doc: dict) -> list[str]:
    """KubeRay v1.7.0 RayService runtime validation that can be checked statically.

    Runs on the manifest as written (not CRD-defaulted): the presence rule
    "autoscaling off => minReplicas and maxReplicas set" is therefore enforced
    even though the API server would default them (0 / 2147483647); min <= max
    uses those defaults for an unset side; ``priority`` counts only when non-zero
    (its CRD default is 0). The incremental-upgrade checks (enforced by the
    operator only with the RayServiceIncrementalUpgrade feature gate) apply
    whenever upgradeStrategy.type is NewClusterWithIncrementalUpgrade.

    Returns unprefixed messages tagged ``[kuberay]``.
    """
    errs: list[str] = []
    md = _d(doc.get("metadata"))
    name = md.get("name")
    if isinstance(name, str):
        if len(name) > MAX_RAYSERVICE_NAME_LENGTH:
            errs.append(f"metadata.name: RayService name should be no more than "
                        f"{MAX_RAYSERVICE_NAME_LENGTH} characters (got {len(name)})")
        errs += [f"metadata.name: RayService name should be a valid DNS1035 label: {p}"
                 for p in is_dns1035_label(name)]
    ann = _d(md.get("annotations"))
    t = ann.get("ray.io/initializing-timeout")
    if t not in (None, ""):
        secs = parse_go_duration(str(t))
        if secs is None and re.fullmatch(r"[+-]?\d+", str(t)):
            secs = float(int(str(t)))
        if secs is None:
            errs.append(f"metadata.annotations['ray.io/initializing-timeout']: invalid format "
                        f"{t!r}; expected a Go duration ('5m', '1h') or positive integer seconds")
        elif secs <= 0:
            errs.append(f"metadata.annotations['ray.io/initializing-timeout']: must be positive, "
                        f"got {t!r}")

    spec = _d(doc.get("spec"))
    rc = _d(spec.get("rayClusterConfig"))
    errs += ray_cluster_spec_errors(rc, ann, "spec.rayClusterConfig")
    if _d(_d(_d(rc.get("headGroupSpec")).get("headService")).get("metadata")).get("name"):
        errs.append("spec.rayClusterConfig.headGroupSpec.headService.metadata.name should not be set")
    if _d(rc.get("authOptions")).get("enableK8sTokenAuth") is True:
        errs.append("spec.rayClusterConfig.authOptions.enableK8sTokenAuth: K8s token auth is not "
                    "supported for RayService")
    us = _d(spec.get("upgradeStrategy"))
    utype = us.get("type")
    if utype is not None and utype not in _UPGRADE_TYPES:
        errs.append(f"spec.upgradeStrategy.type: {utype!r} is invalid, valid options are "
                    f"{', '.join(_UPGRADE_TYPES)}")
    d = spec.get("rayClusterDeletionDelaySeconds")
    if isinstance(d, int) and d < 0:
        errs.append(f"spec.rayClusterDeletionDelaySeconds: should be non-negative, got {d}")
    if utype == "NewClusterWithIncrementalUpgrade":
        gate = " (RayServiceIncrementalUpgrade)"
        if rc.get("enableInTreeAutoscaling") is not True:
            errs.append("spec.upgradeStrategy: Ray Autoscaler is required for "
                        "NewClusterWithIncrementalUpgrade" + gate)
        opts = us.get("clusterUpgradeOptions")
        if not isinstance(opts, dict):
            errs.append("spec.upgradeStrategy.clusterUpgradeOptions: required for "
                        "NewClusterWithIncrementalUpgrade" + gate)
        else:
            surge, step = opts.get("maxSurgePercent", 100), opts.get("stepSizePercent")
            if not isinstance(surge, int) or not 0 <= surge <= 100:
                errs.append("spec.upgradeStrategy.clusterUpgradeOptions.maxSurgePercent: must be "
                            "between 0 and 100" + gate)
            if not isinstance(step, int) or not 0 <= step <= 100:
                errs.append("spec.upgradeStrategy.clusterUpgradeOptions.stepSizePercent: must be "
                            "between 0 and 100" + gate)
            elif isinstance(surge, int) and step > surge:
                errs.append("spec.upgradeStrategy.clusterUpgradeOptions: stepSizePercent must be "
                            "<= maxSurgePercent" + gate)
            iv = opts.get("intervalSeconds")
            if not isinstance(iv, int) or iv <= 0:
                errs.append("spec.upgradeStrategy.clusterUpgradeOptions.intervalSeconds: must be "
                            "greater than 0" + gate)
            if not opts.get("gatewayClassName"):
                errs.append("spec.upgradeStrategy.clusterUpgradeOptions.gatewayClassName: required"
                            + gate)
    # serveConfigV2 is only yaml.Unmarshal'ed when the controller submits it; check it here.
    scv2 = spec.get("serveConfigV2")
    if scv2 is not None:
        try:
            parsed = yaml.safe_load(scv2) if isinstance(scv2, str) else None
        except yaml.YAMLError as e:
            errs.append(f"spec.serveConfigV2: not valid YAML: {_short(str(e))}")
        else:
            if not isinstance(parsed, dict):
                errs.append("spec.serveConfigV2: must be a YAML mapping (Serve config with "
                            "'applications')")
            elif not isinstance(parsed.get("applications"), list) or not parsed["applications"]:
                errs.append("spec.serveConfigV2.applications: must be a non-empty list")
    return [f"[kuberay] {e}" for e in errs]


def _ray_pod_template_errors(doc: dict) -> list[str]:
    """Pods KubeRay creates from the templates would be rejected by the API server."""
    errs: list[str] = []
    kind = doc.get("kind")
    rc_key = {"RayService": "rayClusterConfig", "RayJob": "rayClusterSpec"}.get(kind)
    rc = _d(_d(doc.get("spec")).get(rc_key)) if rc_key else _d(doc.get("spec"))
    base = f"spec.{rc_key}" if rc_key else "spec"
    groups = [("headGroupSpec", _d(rc.get("headGroupSpec")))]
    groups += [(f"workerGroupSpecs[{i}]", _d(w)) for i, w in enumerate(_l(rc.get("workerGroupSpecs")))]
    for gp, g in groups:
        tmpl = _d(g.get("template"))
        where = f"{base}.{gp}.template"
        if isinstance(tmpl.get("spec"), dict):
            errs += pod_spec_errors(tmpl["spec"], f"{where}.spec")
        errs += _labels_annotations_errors(_d(tmpl.get("metadata")), f"{where}.metadata")
    return errs


# --------------------------------------------------------------------------- #
# Public entry points
# --------------------------------------------------------------------------- #
def validate_manifest(doc: dict, k8s_version: str = K8S_VERSION, *,
                      crds_dir: str | os.PathLike | None = None) -> list[str]:
    """All problems with one manifest as ``Kind/name: [source] path: message`` strings.

    Custom resources are looked up in ``crds_dir`` (default: $STACKDEF_CRDS_DIR).
    Raises CRDBundleError when a custom resource needs the CRD bundle and it is
    not configured / not a directory / empty.
    """
    if not isinstance(doc, dict):
        return [f"<invalid>/<invalid>: manifest must be a mapping, got {type(doc).__name__}"]
    kind = doc.get("kind")
    name = _d(doc.get("metadata")).get("name") or _d(doc.get("metadata")).get("generateName")
    prefix = f"{kind or '<no kind>'}/{name or '<no name>'}"
    api_version = doc.get("apiVersion")
    if not isinstance(api_version, str) or not api_version or not isinstance(kind, str) or not kind:
        return [f"{prefix}: [schema] apiVersion and kind are required strings"]
    group, version = _group_version(api_version)

    errs: list[str] = [
        f"[stackdef] {_path(p)}: null value (the API server silently prunes it; omit the field)"
        for p in _null_paths(doc)
    ]
    pruned = _strip_nulls(doc)

    validator = _builtin_validator(api_version, kind, k8s_version)
    is_cr = validator is None
    if is_cr:
        index = load_crd_index(crds_dir)
        validator = index.validator(group, version, kind, k8s_version)
        if validator is None:
            if index.knows_group_kind(group, kind):
                errs.append(f"[schema] apiVersion: {api_version!r} is not a served version of "
                            f"{kind}.{group} (served: {index.served_versions(group, kind)})")
            else:
                errs.append(f"[schema] no schema for {api_version} {kind}: neither a Kubernetes "
                            f"{k8s_version} built-in nor in the CRD bundle {index.dir}")
    if validator is not None:
        errs += _schema_errors(
            validator, apply_crd_defaults(pruned, validator.schema) if is_cr else pruned)

    errs += _metadata_errors(pruned, group)
    if not is_cr:
        errs += _builtin_semantic_errors(pruned, group)
    elif group == "ray.io" and kind in ("RayService", "RayCluster", "RayJob"):
        errs += _ray_pod_template_errors(pruned)
        if kind == "RayService":
            errs += kuberay_runtime_errors(pruned)
    return [f"{prefix}: {e}" for e in errs]


def validate_manifests(docs: Iterable[dict], k8s_version: str = K8S_VERSION, *,
                       crds_dir: str | os.PathLike | None = None) -> list[str]:
    """Validate many manifests; also flags duplicate (group, kind, namespace, name)."""
    out: list[str] = []
    seen: dict[tuple, int] = {}
    for i, doc in enumerate(docs):
        out += validate_manifest(doc, k8s_version, crds_dir=crds_dir)
        if isinstance(doc, dict):
            md = _d(doc.get("metadata"))
            key = (_group_version(str(doc.get("apiVersion", "")))[0], doc.get("kind"),
                   md.get("namespace"), md.get("name"))
            if key[3] and key in seen:
                out.append(f"{doc.get('kind')}/{md.get('name')}: [stackdef] duplicate object "
                           f"(same group/kind/namespace/name as manifest #{seen[key]})")
            seen.setdefault(key, i)
    return out
