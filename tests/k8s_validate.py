"""Test-side validator: proves rendered Kubernetes manifests are valid.

Every error reads ``Kind/name: [source] path: message``. ``[schema]``: jsonschema (every error) against the
``K8S_VERSION`` strict schemas of kubernetes-validate for built-in kinds, tightened where the API server checks
in Go (quantity grammar, int32/int64 ranges, ``BUILTIN_ENUMS``), or against the CRD's served ``openAPIV3Schema``
with the API server's structural-schema semantics (``_crd_schema``, ``apply_crd_defaults``). ``[cel]``: the
CRDs' ``x-kubernetes-validations``. ``[apiserver]``: Go-side checks of what stackdef emits (names, label and
annotation syntax, pod specs, selector vs template labels, Service ports, ConfigMap keys, PVC size).
``[kuberay]``: KubeRay v1.7.0 runtime validation of a RayService, which the operator reports only as Warning
events. ``[stackdef]``: null values (the API server silently prunes them, hiding compiler bugs) and duplicates.
"""
from __future__ import annotations

import copy
import functools
import json
import os
import re
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate.utils as kvu
import yaml
from jsonschema import ValidationError
from jsonschema.validators import Draft202012Validator, extend
from referencing import Registry, Resource

K8S_VERSION = "1.37"  # the newest in kubernetes-validate 1.37.0; "1.36" matches kind's node image
CRDS_ENV_VAR = "STACKDEF_CRDS_DIR"
#: The CRD schemas the tests validate against, vendored with their sources (tests/crds/README.md).
VENDORED_CRDS = Path(__file__).resolve().parent / "crds"
_OBJECT_META = "https://kubernetes.io/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_YAML = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~7x faster


class CRDBundleError(RuntimeError):
    """The CRD bundle cannot be found/loaded. Raised (never swallowed) so tests fail."""


# ---- k8s.io/apimachinery/pkg/util/validation and resource.Quantity ------------------------------------------- #
def _syntax(v: Any, pattern: str, what: str, max_len: int) -> list[str]:
    if not isinstance(v, str):
        return ["must be a string"]
    errs = [f"must be no more than {max_len} characters"] if len(v) > max_len else []
    return errs + ([] if re.fullmatch(pattern, v) else [f"must be {what}"])


_LABEL, _PART = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_ALNUM = "alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric"
is_dns1123_label = functools.partial(_syntax, pattern=_LABEL, what=f"an RFC 1123 label ({_LABEL})", max_len=63)
is_dns1123_subdomain = functools.partial(_syntax, pattern=rf"{_LABEL}(\.{_LABEL})*",
                                         what="a lowercase RFC 1123 subdomain", max_len=253)
is_dns1035_label = functools.partial(_syntax, pattern=r"[a-z]([-a-z0-9]*[a-z0-9])?",
                                     what="a DNS-1035 label ([a-z]([-a-z0-9]*[a-z0-9])?)", max_len=63)
is_valid_label_value = functools.partial(_syntax, pattern=f"({_PART})?", what=f"empty or {_ALNUM}", max_len=63)
is_valid_port_name = functools.partial(_syntax, pattern=r"(?=.*[a-z])[a-z0-9]+(-[a-z0-9]+)*", max_len=15,
                                       what="an IANA_SVC_NAME (lowercase alphanumerics, inner single '-', a letter)")


def is_qualified_name(v: Any) -> list[str]:
    """validation.IsQualifiedName: ``[prefix/]name`` (label and annotation keys)."""
    if not isinstance(v, str) or v.count("/") > 1:
        return ["must be a string with at most one '/'"]
    prefix, slash, name = v.rpartition("/")
    errs = [f"prefix part {e}" for e in is_dns1123_subdomain(prefix)] if slash else []
    return errs + [f"name part {e}" for e in _syntax(name, _PART, _ALNUM, 63)]


_NUM = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_QUANTITY = re.compile(rf"([+-]?{_NUM})([KMGTPE]i|[numkMGTPE]|[eE][+-]?{_NUM})?")
_SUFFIX = {"": 1, "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
           **{s: 10 ** (3 * i) for i, s in enumerate("kMGTPE", 1)},
           **{s + "i": 2 ** (10 * i) for i, s in enumerate("KMGTPE", 1)}}


def parse_quantity(v: Any) -> Decimal | None:
    """resource.ParseQuantity -> exact Decimal, or None if not a quantity."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return Decimal(str(v))
    if not (m := _QUANTITY.fullmatch(v) if isinstance(v, str) else None):
        return None
    suffix = m[2] or ""
    return Decimal(m[1]) * Decimal(_SUFFIX[suffix] if suffix in _SUFFIX else 10 ** Decimal(suffix[1:]))


_DURATION = r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)"
_DURATION_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def parse_go_duration(s: str) -> float | None:
    """time.ParseDuration -> seconds, or None if invalid."""
    if s in ("0", "+0", "-0"):
        return 0.0
    if not re.fullmatch(rf"[-+]?({_DURATION})+", s):
        return None
    total = sum(float(n) * _DURATION_S[u] for n, u in re.findall(_DURATION, s))
    return -total if s.startswith("-") else total


# ---- small helpers ------------------------------------------------------------------------------------------ #
def _path(parts: Iterable[Any]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts).lstrip(".") or "<root>"


def _short(msg: str, limit: int = 300) -> str:
    msg = " ".join(str(msg).split())
    return msg if len(msg) <= limit else msg[: limit - 3] + "..."


def _d(x: Any) -> dict:
    return x if isinstance(x, dict) else {}


def _l(x: Any) -> list:
    return x if isinstance(x, list) else []


def _get(doc: Any, *path: str) -> Any:
    for p in path:
        doc = _d(doc).get(p)
    return doc


def _strip_nulls(obj: Any, nulls: list, path: tuple = ()) -> Any:
    """``obj`` without its null values, whose paths are appended to ``nulls``."""
    if isinstance(obj, dict):
        nulls += [path + (k,) for k, v in obj.items() if v is None]
        return {k: _strip_nulls(v, nulls, path + (k,)) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        nulls += [path + (i,) for i, v in enumerate(obj) if v is None]
        return [_strip_nulls(v, nulls, path + (i,)) for i, v in enumerate(obj)]
    return obj


# ---- built-in kinds: kubernetes-validate's strict schemas ------------------------------------------------------ #
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
_FORMATS = jsonschema.FormatChecker(formats=())  # just these, which the API server cannot decode otherwise
_FORMATS.checks("int32")(lambda v: not isinstance(v, int) or -(2**31) <= v < 2**31)
_FORMATS.checks("int64")(lambda v: not isinstance(v, int) or -(2**63) <= v < 2**63)
_FORMATS.checks("date-time")(lambda v: not isinstance(v, str) or bool(_RFC3339.fullmatch(v)))
_FORMATS.checks("quantity")(lambda v: not isinstance(v, str) or parse_quantity(v) is not None)

#: Enum-like fields of the built-in kinds stackdef emits that the API server checks in Go ("Unsupported value")
#: and the upstream schemas leave open: definition (after "io.k8s.") -> property ("[]": its items) -> allowed
#: values, "" where the server defaults the field before validating it.
BUILTIN_ENUMS = {
    "api.core.v1.Container": {"imagePullPolicy": "|Always|Never|IfNotPresent"},
    "api.core.v1.ContainerPort": {"protocol": "|TCP|UDP|SCTP"},
    "api.core.v1.ServicePort": {"protocol": "|TCP|UDP|SCTP"},
    "api.core.v1.ServiceSpec": {"type": "|ClusterIP|NodePort|LoadBalancer|ExternalName"},
    "api.core.v1.PodSpec": {"restartPolicy": "|Always|OnFailure|Never"},
    "api.core.v1.Toleration": {"operator": "|Exists|Equal", "effect": "|NoSchedule|PreferNoSchedule|NoExecute"},
    "api.core.v1.SeccompProfile": {"type": "RuntimeDefault|Unconfined|Localhost"},
    "api.core.v1.PersistentVolumeClaimSpec": {"accessModes[]": "ReadWriteOnce|ReadOnlyMany|ReadWriteMany|"
                                                               "ReadWriteOncePod"},
    "api.networking.v1.NetworkPolicyPort": {"protocol": "|TCP|UDP|SCTP"},
    "api.networking.v1.NetworkPolicySpec": {"policyTypes[]": "Ingress|Egress"},
    "api.apps.v1.DeploymentStrategy": {"type": "|Recreate|RollingUpdate"},
    "apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement": {"operator": "In|NotIn|Exists|DoesNotExist"},
}


def _strict_dir(k8s_version: str) -> str:  # kubernetes-validate's loader raises VersionNotSupportedError if absent
    return f"kubernetes-json-schema/v{kvu.major_minor(k8s_version.lstrip('v'))}.0-local-strict/"


@functools.cache
def _builtin_registry(k8s_version: str) -> Registry:
    defs = kvu.schema_contents(f"{_strict_dir(k8s_version)}_definitions.json", k8s_version)
    d = defs["$defs"]  # a fresh parse, ours to tighten: upstream a Quantity is any string or number
    d["io.k8s.apimachinery.pkg.api.resource.Quantity"] = {"type": ["string", "number", "null"], "format": "quantity"}
    for name, fields in BUILTIN_ENUMS.items():
        for prop, values in fields.items():
            target = d["io.k8s." + name]["properties"][prop.removesuffix("[]")]
            (target["items"] if prop.endswith("[]") else target)["enum"] = values.split("|")
    return Resource.from_contents(defs) @ Registry()


@functools.cache
def _builtin_validator(api_version: str, kind: str, k8s_version: str) -> Draft202012Validator | None:
    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)  # as kubernetes_validate.validate() maps it
    try:
        schema = kvu.schema_contents(f"{_strict_dir(k8s_version)}{kind.lower()}-{api}.json", k8s_version)
    except FileNotFoundError:
        return None
    group, _, version = api_version.rpartition("/")
    if {"group": group, "version": version, "kind": kind} not in schema["x-kubernetes-group-version-kind"]:
        return None  # that mapping drops the group's domain: "apps.example.com/v1" is not apps/v1
    registry = Resource.from_contents(schema) @ _builtin_registry(k8s_version)
    return Draft202012Validator(schema, registry=registry, format_checker=_FORMATS)


# ---- custom resources: a structural CRD schema as JSON Schema, with the API server's semantics ---------------- #
def _go_pattern(p: str) -> str:
    """RE2 -> Python ``re``: RE2 allows global flags after the '^', and its '$' never matches before a trailing
    newline (Python's does; ``\\Z`` does not). Escapes and character classes are left alone."""
    p = re.sub(r"^\^\(\?([ims]+)\)", r"(?\1)^", p)
    return re.sub(r"\\.|\[\^?\]?(?:\\.|[^]\\])*\]|\$", lambda m: r"\Z" if m[0] == "$" else m[0], p)


def _crd_schema(node: Any) -> Any:
    """A structural (sub)schema. Below allOf/anyOf/oneOf/not it has no types: nothing is closed there."""
    if not isinstance(node, dict):
        return node
    out = dict(node)
    for k in ("items", "additionalProperties", "not"):
        if isinstance(node.get(k), dict):
            out[k] = _crd_schema(node[k])
    for k in ("allOf", "anyOf", "oneOf"):
        if k in node:
            out[k] = [_crd_schema(s) for s in node[k]]
    if "properties" in node:
        out["properties"] = {p: _crd_schema(s) for p, s in node["properties"].items()}
    if "pattern" in node:
        out["pattern"] = _go_pattern(node["pattern"])
    if node.get("x-kubernetes-int-or-string"):
        out["type"] = ["integer", "string"]
    if node.get("x-kubernetes-list-type") == "set":
        out["uniqueItems"] = True
    if node.get("x-kubernetes-embedded-resource"):
        name = {"type": "string", "minLength": 1}
        out["properties"] = {**out.get("properties", {}), "metadata": {"$ref": _OBJECT_META}, "apiVersion": name,
                             "kind": name}
        out["required"] = sorted({*out.get("required", []), "apiVersion", "kind"})
    if (node.get("type") == "object" and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False  # the API server would prune the field; --validate=strict rejects it
    return out


def apply_crd_defaults(instance: Any, schema: Any) -> Any:
    """Structural defaulting, as the API server does before validation and CEL: missing properties with a
    ``default`` filled in, recursively (also inside defaults). Returns a new object."""
    if isinstance(instance, dict) and isinstance(schema, dict):
        props, addl = _d(schema.get("properties")), schema.get("additionalProperties")
        out = {**{k: copy.deepcopy(s["default"]) for k, s in props.items() if "default" in s}, **instance}
        return {k: apply_crd_defaults(v, props.get(k, addl)) for k, v in out.items()}
    if isinstance(instance, list) and isinstance(schema, dict):
        return [apply_crd_defaults(v, schema.get("items")) for v in instance]
    return instance


def _list_map_keys(validator, keys, instance, schema):
    if schema.get("x-kubernetes-list-type") == "map" and isinstance(instance, list):
        seen: dict[str, int] = {}
        for i, item in enumerate(instance):
            key = json.dumps([_d(item).get(k) for k in keys])  # CRD defaults are applied already
            if key in seen:
                yield ValidationError(f"duplicate entries for list-map keys {keys} = {key} (items {seen[key]}, {i})")
            seen.setdefault(key, i)


# k8s.io/apiserver/pkg/cel/escaping.go: object property names (not map keys) that are CEL reserved words or
# contain '__', '.', '-', '/' are escaped in expressions.
_CEL_RESERVED = set("true false null in as break const continue else for function if import let loop package "
                    "namespace return var void while".split())
_ESCAPES = (("__", "__underscores__"), (".", "__dot__"), ("-", "__dash__"), ("/", "__slash__"))


def _cel_name(name: str) -> str:
    return f"__{name}__" if name in _CEL_RESERVED else functools.reduce(lambda n, e: n.replace(*e), _ESCAPES, name)


def _cel_value(instance: Any, schema: Any) -> Any:
    schema = _d(schema)
    if isinstance(instance, dict) and (props := _d(schema.get("properties"))):
        return {_cel_name(k): _cel_value(v, props.get(k)) for k, v in instance.items()}
    if isinstance(instance, dict):
        return {k: _cel_value(v, schema.get("additionalProperties")) for k, v in instance.items()}
    return [_cel_value(v, schema.get("items")) for v in instance] if isinstance(instance, list) else instance


@functools.cache
def _cel_program(rule: str):
    import cel  # PyPI common-expression-language (cel-rust bindings); lazily, as it also loads a CLI

    return cel.compile(rule)


def _cel_rules(validator, rules, instance, schema):
    value = None
    for r in _l(rules):
        rule, at = r.get("rule", ""), f" (at {r['fieldPath']})" if r.get("fieldPath") else ""
        if re.search(r"\boldSelf\b", rule):
            continue  # a transition rule: evaluated on updates only
        value = _cel_value(instance, schema) if value is None else value
        try:
            ok = _cel_program(rule).execute({"self": value}) is True
        except Exception as e:  # the API server rejects on evaluation errors too
            yield ValidationError(f"[cel] rule could not be evaluated ({type(e).__name__}: {e}): {rule}{at}")
            continue
        if not ok:
            yield ValidationError(f"[cel] {r.get('message') or 'failed rule: ' + rule}{at}")


_CRValidator = extend(Draft202012Validator,
                      {"x-kubernetes-validations": _cel_rules, "x-kubernetes-list-map-keys": _list_map_keys})
_DOC_SEP = re.compile(r"^---[ \t]*$", re.M)


def _yaml(text: str, where: Any) -> Any:
    try:
        return yaml.load(text, Loader=_YAML)
    except yaml.YAMLError as e:
        raise CRDBundleError(f"cannot parse CRD {where}: {e}") from e


class CRDIndex:
    """The CRDs of a bundle by (group, kind). A document is indexed by parsing it up to ``spec.versions``
    (controller-gen writes that last: KubeRay's is 1 MB of YAML) and parsed in full when first needed."""

    def __init__(self, crds_dir: Path):
        self.dir, self._crds, self._validators = crds_dir, {}, {}
        for f in sorted(p for p in crds_dir.rglob("*") if p.suffix in (".yaml", ".yml", ".json") and p.is_file()):
            for text in _DOC_SEP.split(f.read_text()):
                doc = _d(_yaml(text.split("\n  versions:", 1)[0], f))
                if doc.get("kind") == "CustomResourceDefinition" and not _get(doc, "spec", "names", "kind"):
                    doc = text = _d(_yaml(text, f))  # not in controller-gen's order: parse it all now
                if doc.get("kind") != "CustomResourceDefinition":
                    continue
                if doc.get("apiVersion") != "apiextensions.k8s.io/v1":
                    raise CRDBundleError(f"{f}: only apiextensions.k8s.io/v1 CRDs are supported")
                if (gk := (_get(doc, "spec", "group"), _get(doc, "spec", "names", "kind"))) in self._crds:
                    raise CRDBundleError(f"{gk[1]}.{gk[0]} is defined twice in {crds_dir} (again in {f})")
                self._crds[gk] = text  # the document's text, or the document
        if not self._crds:
            raise CRDBundleError(f"no CustomResourceDefinitions found under {crds_dir} (${CRDS_ENV_VAR})")

    def knows_group_kind(self, group: str, kind: str) -> bool:
        return (group, kind) in self._crds

    def versions(self, group: str, kind: str) -> list[dict]:
        if isinstance(crd := self._crds.get((group, kind)), str):
            crd = self._crds[(group, kind)] = _yaml(crd, f"{kind}.{group} in {self.dir}")
        return _l(_get(crd, "spec", "versions"))

    def validator(self, group: str, version: str, kind: str, k8s_version: str = K8S_VERSION):
        """The validator of the served ``version``, or None."""
        if (key := (group, version, kind, k8s_version)) not in self._validators:
            served = [v for v in self.versions(group, kind) if v.get("served")]
            entry = next((v for v in served if v.get("name") == version), None)
            self._validators[key] = entry and _crd_validator(entry, group, kind, k8s_version)
        return self._validators[key]


def _crd_validator(entry: dict, group: str, kind: str, k8s_version: str) -> Draft202012Validator:
    if not (schema := _crd_schema(_get(entry, "schema", "openAPIV3Schema"))):
        raise CRDBundleError(f"CRD {kind}.{group}/{entry['name']} has no openAPIV3Schema")
    schema["properties"] = {**schema.get("properties", {}), "metadata": {"$ref": _OBJECT_META},
                            "apiVersion": {"const": f"{group}/{entry['name']}"}, "kind": {"const": kind}}
    schema.update(required=sorted({*schema.get("required", []), "apiVersion", "kind"}), additionalProperties=False)
    return _CRValidator(schema, registry=_builtin_registry(k8s_version), format_checker=_FORMATS)


@functools.cache
def _crd_index_for(path: str) -> CRDIndex:
    return CRDIndex(Path(path))


def load_crd_index(crds_dir: str | os.PathLike | None = None) -> CRDIndex:
    """The index of ``crds_dir``, else of ``$STACKDEF_CRDS_DIR``, else of the vendored ``tests/crds``."""
    raw = crds_dir if crds_dir is not None else (os.environ.get(CRDS_ENV_VAR) or str(VENDORED_CRDS))
    if not (p := Path(raw).expanduser().resolve()).is_dir():
        raise CRDBundleError(f"${CRDS_ENV_VAR}={raw!r} does not exist or is not a directory (resolved to {p}); "
                             "custom resources cannot be validated.")
    return _crd_index_for(str(p))


def reset_caches() -> None:
    for cached in (_crd_index_for, _builtin_validator, _builtin_registry, _cel_program):
        cached.cache_clear()


def _schema_errors(validator, doc: dict) -> list[str]:
    out = []
    for e in sorted(validator.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path]):
        msg = e.message
        if e.validator in ("anyOf", "oneOf") and e.context:
            best = jsonschema.exceptions.best_match(e.context)
            msg = best.message + (f" (at {_path(best.relative_path)})" if best.relative_path else "")
        elif e.validator == "format" and e.validator_value == "quantity":
            msg = f"{e.instance!r} is not a valid Kubernetes quantity"
        tag = "[cel]" if msg.startswith("[cel] ") else "[schema]"
        out.append(f"{tag} {_path(e.absolute_path)}: {_short(msg.removeprefix('[cel] '))}")
    return out


# ---- [apiserver] Go-side checks (k8s.io/kubernetes/pkg/apis/core/validation) of what stackdef emits ----------- #
def _named(v: Any, where: str, check, seen: set) -> list[str]:
    errs = [f"[apiserver] {where}: {v!r} {p}" for p in check(v)]
    if isinstance(v, str) and v in seen:
        errs.append(f"[apiserver] {where}: Duplicate value {v!r}")
    seen.add(v if isinstance(v, str) else None)
    return errs


def _label_errors(labels: Any, where: str) -> list[str]:
    errs = []
    for k, v in _d(labels).items():
        errs += [f"[apiserver] {where}: key {k!r} {p}" for p in is_qualified_name(k)]
        errs += [f"[apiserver] {where}[{k!r}]: value {v!r} {p}" for p in is_valid_label_value(v)]
    return errs


def _meta_errors(md: dict, where: str) -> list[str]:
    errs = _label_errors(md.get("labels"), f"{where}.labels")
    return errs + [f"[apiserver] {where}.annotations: key {k!r} {p}"
                   for k in _d(md.get("annotations")) for p in is_qualified_name(str(k).lower())]


def _metadata_errors(doc: dict, group: str) -> list[str]:
    md = _d(doc.get("metadata"))
    name, ns = md.get("name"), md.get("namespace")
    check = {"Service": is_dns1035_label, "Namespace": is_dns1123_label}.get(doc["kind"]) if not group else None
    if name:
        errs = [f"[apiserver] metadata.name: {name!r} {p}" for p in (check or is_dns1123_subdomain)(name)]
    else:
        errs = [] if md.get("generateName") else ["[apiserver] metadata.name: Required value"]
    errs += [f"[apiserver] metadata.namespace: {ns!r} {p}" for p in is_dns1123_label(ns)] if ns is not None else []
    return errs + _meta_errors(md, "metadata")


def _resources_errors(res: dict, where: str) -> list[str]:
    limits, requests = _d(res.get("limits")), _d(res.get("requests"))
    errs = [f"[apiserver] {where}.{section}[{r!r}]: must be >= 0" for section, m in
            (("limits", limits), ("requests", requests)) for r, q in m.items() if (parse_quantity(q) or 0) < 0]
    for r, q in requests.items():
        rq, lq = parse_quantity(q), parse_quantity(limits.get(r))
        if ("/" in r and not r.startswith("kubernetes.io/")) or r.startswith("hugepages-"):  # not overcommitable
            if r not in limits:
                errs.append(f"[apiserver] {where}.limits[{r!r}]: Required value: limit must be set for "
                            "non overcommitable resources")
            elif None not in (rq, lq) and rq != lq:
                errs.append(f"[apiserver] {where}.requests[{r!r}]: must be equal to {r} limit {limits[r]!r}")
        elif None not in (rq, lq) and rq > lq:
            errs.append(f"[apiserver] {where}.requests[{r!r}]: {q!r} must be less than or equal to {r} limit "
                        f"{limits[r]!r}")
    return errs


def _port_num(v: Any, where: str) -> list[str]:
    ok = isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 65535
    return [] if ok else [f"[apiserver] {where}: {v!r} must be between 1 and 65535"]


def pod_spec_errors(spec: dict, where: str, extra_volumes: Iterable[str] = ()) -> list[str]:
    """Static subset of ValidatePodSpec; ``extra_volumes``: a StatefulSet's volumeClaimTemplates."""
    errs, volumes, names = [], set(), set()
    for i, vol in enumerate(map(_d, _l(spec.get("volumes")))):
        errs += _named(vol.get("name"), f"{where}.volumes[{i}].name", is_dns1123_label, volumes)
        if len(sources := [k for k in vol if k != "name"]) != 1:
            errs.append(f"[apiserver] {where}.volumes[{i}]: must specify exactly 1 volume type (got {sources})")
    volumes.update(extra_volumes)
    for field in ("initContainers", "containers"):
        for i, c in enumerate(map(_d, _l(spec.get(field)))):
            cw, ports = f"{where}.{field}[{i}]", set()
            errs += _named(c.get("name"), f"{cw}.name", is_dns1123_label, names)
            errs += [] if c.get("image") else [f"[apiserver] {cw}.image: Required value"]
            for j, p in enumerate(map(_d, _l(c.get("ports")))):
                errs += _port_num(p.get("containerPort"), f"{cw}.ports[{j}].containerPort")
                errs += _named(p["name"], f"{cw}.ports[{j}].name", is_valid_port_name, ports) if "name" in p else []
            for j, m in enumerate(map(_d, _l(c.get("volumeMounts")))):
                if str(m.get("name")) not in volumes:
                    errs.append(f"[apiserver] {cw}.volumeMounts[{j}].name: Not found: {m.get('name')!r} "
                                "(no such volume in the pod spec)")
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                handlers = [h for h in ("exec", "httpGet", "tcpSocket", "grpc") if h in _d(c.get(probe))]
                if probe in c and len(handlers) != 1:
                    errs.append(f"[apiserver] {cw}.{probe}: must specify exactly 1 handler type (got {handlers})")
            errs += _resources_errors(_d(c.get("resources")), f"{cw}.resources")
    return errs


def _controller_errors(doc: dict) -> list[str]:
    """Deployment / ReplicaSet / StatefulSet / DaemonSet: the pod template and the selector."""
    spec, tmpl = _d(doc.get("spec")), _d(_get(doc, "spec", "template"))
    claims = [_get(t, "metadata", "name") for t in _l(spec.get("volumeClaimTemplates"))]
    errs = _meta_errors(_d(tmpl.get("metadata")), "spec.template.metadata")
    errs += pod_spec_errors(_d(tmpl.get("spec")), "spec.template.spec", claims)
    sel = _d(spec.get("selector"))
    if not sel.get("matchLabels") and not sel.get("matchExpressions"):
        errs.append(f"[apiserver] spec.selector: Invalid value: empty selector is invalid for {doc['kind']}")
    elif any(_get(tmpl, "metadata", "labels", k) != v for k, v in _d(sel.get("matchLabels")).items()):
        errs.append("[apiserver] spec.template.metadata.labels: Invalid value: `selector` does not match template "
                    "`labels`")
    return errs


def _core_errors(doc: dict) -> list[str]:
    """Service ports and selector labels, ConfigMap/Secret keys and size, PVC size."""
    kind, spec, errs = doc["kind"], _d(doc.get("spec")), []
    if kind == "Service":
        ports, names = _l(spec.get("ports")), set()
        if not ports and spec.get("type") != "ExternalName":
            errs.append("[apiserver] spec.ports: Required value")
        for i, p in enumerate(map(_d, ports)):
            if p.get("name"):
                errs += _named(p["name"], f"spec.ports[{i}].name", is_dns1123_label, names)
            elif len(ports) > 1:
                errs.append(f"[apiserver] spec.ports[{i}].name: Required value (multi-port Service)")
            errs += _port_num(p.get("port"), f"spec.ports[{i}].port")
            if isinstance(tp := p.get("targetPort"), str):
                errs += [f"[apiserver] spec.ports[{i}].targetPort: {tp!r} {e}" for e in is_valid_port_name(tp)]
            elif tp is not None:
                errs += _port_num(tp, f"spec.ports[{i}].targetPort")
        errs += _label_errors(spec.get("selector"), "spec.selector")
    elif kind in ("ConfigMap", "Secret"):
        keys = [(s, k) for s in ("data", "binaryData", "stringData") for k in _d(doc.get(s))]
        errs += [f"[apiserver] {s}[{k!r}]: a valid config key must consist of alphanumerics, '-', '_' or '.'"
                 for s, k in keys if not re.fullmatch(r"[-._a-zA-Z0-9]{1,253}", k) or k in (".", "..")]
        if (size := sum(len(str(doc[s][k])) for s, k in keys)) > 1 << 20:
            errs.append(f"[apiserver] data: Too long: {size} bytes > 1 MiB")
    elif kind == "PersistentVolumeClaim":
        storage = _get(spec, "resources", "requests", "storage")
        if storage is None and not spec.get("dataSource") and not spec.get("dataSourceRef"):
            errs.append("[apiserver] spec.resources.requests[storage]: Required value")
        elif (q := parse_quantity(storage)) is not None and q <= 0:
            errs.append("[apiserver] spec.resources.requests[storage]: must be greater than zero")
    return errs


# ---- [kuberay] KubeRay v1.7.0 runtime validation (ray-operator/controllers/ray/utils/validation.go, called from
# rayservice_controller.go; failures become Warning events InvalidRayServiceMetadata / InvalidRayServiceSpec) ---- #
MAX_RAYSERVICE_NAME_LENGTH = 47  # KR@v1.7.0 utils/constant.go: 53 - 6
_UPGRADE_TYPES = ("NewClusterWithIncrementalUpgrade", "NewCluster", "None")


def _env_value(container: dict, name: str) -> tuple[bool, Any]:
    values = [e.get("value", "") for e in map(_d, _l(container.get("env"))) if e.get("name") == name]
    return bool(values), values[0] if values else None


def _version_tuple(s: str) -> tuple[int, ...] | None:
    m = re.match(r"^v?(\d+)\.(\d+)(?:\.(\d+))?", str(s))
    return tuple(int(x or 0) for x in m.groups()) if m else None


def ray_cluster_spec_errors(spec: dict, annotations: dict, where: str) -> list[str]:
    """ValidateRayClusterSpec (KR@v1.7.0) on a (Ray{Service,Job}-embedded) RayClusterSpec: (condition, message)."""
    head, workers = _d(spec.get("headGroupSpec")), [_d(w) for w in _l(spec.get("workerGroupSpecs"))]
    head_cs = _l(_get(head, "template", "spec", "containers"))
    head_env = functools.partial(_env_value, _d(head_cs[0]) if head_cs else {})
    head_rsp, ft = _d(head.get("rayStartParams")), str(annotations.get("ray.io/ft-enabled", ""))
    gcs_ft, with_gcs_ft = spec.get("gcsFaultToleranceOptions") is not None, "when gcsFaultToleranceOptions is set"
    autoscaling, version = spec.get("enableInTreeAutoscaling") is True, _get(spec, "autoscalerOptions", "version")
    has_v2_env, v2_env = head_env("RAY_enable_autoscaler_v2")
    v2 = autoscaling and (version == "v2" or v2_env in ("1", "true"))
    rules = [
        (not head_cs, f"{where}.headGroupSpec: should have at least one container"),
        (ft and gcs_ft, f"{where}: ray.io/ft-enabled annotation and gcsFaultToleranceOptions are both set; use only "
                        "gcsFaultToleranceOptions"),
        (ft.lower() != "true" and not gcs_ft and head_env("RAY_REDIS_ADDRESS")[0],
         f"{where}: RAY_REDIS_ADDRESS is set which implicitly enables GCS fault tolerance, but "
         "gcsFaultToleranceOptions is not set"),
        (gcs_ft and head_rsp.get("redis-password"),
         f"{where}: cannot set redis-password in rayStartParams {with_gcs_ft}"),
        *[(gcs_ft and head_env(e)[0], f"{where}: cannot set {e} env var in head Pod {with_gcs_ft}")
          for e in ("REDIS_PASSWORD", "RAY_REDIS_ADDRESS")],
        (gcs_ft and annotations.get("ray.io/external-storage-namespace"),
         f"{where}: cannot set ray.io/external-storage-namespace annotation {with_gcs_ft}"),
        (head_rsp.get("redis-username") or head_env("REDIS_USERNAME")[0],
         f"{where}: cannot set redis username in rayStartParams or env; use gcsFaultToleranceOptions.redisUsername"),
        (not autoscaling and v2_env in ("1", "true"),
         f"{where}: env RAY_enable_autoscaler_v2={v2_env!r} requires enableInTreeAutoscaling: true"),
        (autoscaling and version is not None and has_v2_env,
         f"{where}: both autoscalerOptions.version and head env RAY_enable_autoscaler_v2 are set; use only the "
         "former"),
    ]
    groups = [(head, "Head", f"{where}.headGroupSpec")]
    for g, gname, gw in groups + [(w, str(w.get("groupName")), f"{where}.workerGroupSpecs[{i}]")
                                  for i, w in enumerate(workers)]:
        rsp, labels = _d(g.get("rayStartParams")), _d(g.get("labels"))
        rules += [
            (any(rsp.get(k) for k in ("num-cpus", "num-gpus", "memory", "resources")) and _d(g.get("resources")),
             f"{gw}: resource fields should not be set in both rayStartParams and resources for {gname} group; "
             "please use only one"),
            ("labels" in rsp, f"{gw}.rayStartParams['labels'] is not supported for {gname} group; use the top-level "
                              "labels field instead"),
            *[(True, f"{gw}.labels: invalid label key {k!r}: {p}") for k in labels for p in is_qualified_name(k)],
            *[(True, f"{gw}.labels[{k!r}]: invalid label value {v!r}: {p}")
              for k, v in labels.items() for p in is_valid_label_value(v)],
            (v2 and _get(g, "template", "spec", "restartPolicy") not in (None, "", "Never"),
             f"{gw}.template.spec.restartPolicy: should be Never or unset with autoscaler v2"),
        ]
        if g is head:
            continue
        mn, mx = g.get("minReplicas", 0), g.get("maxReplicas", 2**31 - 1)
        missing = " and ".join(k for k in ("minReplicas", "maxReplicas") if k not in g)
        rules += [
            (not _l(_get(g, "template", "spec", "containers")),
             f"{gw}: workerGroupSpec should have at least one container"),
            (missing and not autoscaling,
             f"{gw}: {missing} must be set when autoscaling is disabled (KubeRay v1.7.0)"),
            (autoscaling and g.get("suspend") is True,
             f"{gw}: worker group cannot be suspended with autoscaler enabled"),
            *[(isinstance(g.get(k), int) and g[k] < 0, f"{gw}.{k}: must be >= 0, got {g.get(k)}")
              for k in ("replicas", "minReplicas", "maxReplicas")],
            (isinstance(mn, int) and isinstance(mx, int) and mn > mx,
             f"{gw}: minReplicas ({mn}) must be <= maxReplicas ({mx})"),
            *[(not v2 and (g.get(k) not in (None, 0) or (k == "idleTimeoutSeconds" and k in g)),
               f"{gw}.{k}: requires autoscaler v2 (enableInTreeAutoscaling: true and autoscalerOptions.version: v2)")
              for k in ("idleTimeoutSeconds", "priority")],
        ]
    if _get(spec, "authOptions", "mode") == "token":
        rv = spec.get("rayVersion")
        vt = _version_tuple(rv) if rv else None
        rules += [(not rv, f"{where}.rayVersion: required (>= 2.52.0) when authOptions.mode is token"),
                  (rv and vt is None, f"{where}.rayVersion: invalid version {rv!r}"),
                  (vt is not None and vt < (2, 52, 0),
                   f"{where}.rayVersion: authOptions.mode token needs Ray >= 2.52.0, got {rv!r}")]
    return [msg for cond, msg in rules if cond]


def kuberay_runtime_errors(doc: dict) -> list[str]:
    """KubeRay v1.7.0 RayService runtime validation that can be checked statically, as unprefixed ``[kuberay]``
    messages. Runs on the manifest as written, not CRD-defaulted: "autoscaling off => minReplicas and maxReplicas
    set" holds although the API server would default them (0 / 2147483647), and min <= max uses those defaults.
    The incremental-upgrade checks (feature gate RayServiceIncrementalUpgrade) apply whenever that type is set."""
    md, spec = _d(doc.get("metadata")), _d(doc.get("spec"))
    name, ann, rc = md.get("name"), _d(md.get("annotations")), _d(spec.get("rayClusterConfig"))
    us, delay = _d(spec.get("upgradeStrategy")), spec.get("rayClusterDeletionDelaySeconds")
    rules = [
        (isinstance(name, str) and len(name) > MAX_RAYSERVICE_NAME_LENGTH,
         f"metadata.name: RayService name should be no more than {MAX_RAYSERVICE_NAME_LENGTH} characters "
         f"(got {len(str(name))})"),
        *[(True, f"metadata.name: RayService name should be a valid DNS1035 label: {p}")
          for p in (is_dns1035_label(name) if isinstance(name, str) else [])],
        (_get(rc, "headGroupSpec", "headService", "metadata", "name"),
         "spec.rayClusterConfig.headGroupSpec.headService.metadata.name should not be set"),
        (_get(rc, "authOptions", "enableK8sTokenAuth") is True,
         "spec.rayClusterConfig.authOptions.enableK8sTokenAuth: K8s token auth is not supported for RayService"),
        (us.get("type") not in (None, *_UPGRADE_TYPES),
         f"spec.upgradeStrategy.type: {us.get('type')!r} is invalid, valid options are {', '.join(_UPGRADE_TYPES)}"),
        (isinstance(delay, int) and delay < 0,
         f"spec.rayClusterDeletionDelaySeconds: should be non-negative, got {delay}"),
    ]
    if (t := ann.get("ray.io/initializing-timeout")) not in (None, ""):
        secs = float(t) if re.fullmatch(r"[+-]?\d+", str(t)) else parse_go_duration(str(t))
        at = "metadata.annotations['ray.io/initializing-timeout']"
        rules += [(secs is None, f"{at}: invalid format {t!r}; expected a Go duration ('5m', '1h') or positive "
                                 "integer seconds"),
                  (secs is not None and secs <= 0, f"{at}: must be positive, got {t!r}")]
    if us.get("type") == "NewClusterWithIncrementalUpgrade":
        gate, at = " (RayServiceIncrementalUpgrade)", "spec.upgradeStrategy.clusterUpgradeOptions"
        opts = us.get("clusterUpgradeOptions")
        surge, step, iv = (_d(opts).get(k) for k in ("maxSurgePercent", "stepSizePercent", "intervalSeconds"))
        surge = 100 if surge is None else surge
        percent = {k: isinstance(v, int) and 0 <= v <= 100 for k, v in (("maxSurge", surge), ("stepSize", step))}
        rules += [(rc.get("enableInTreeAutoscaling") is not True,
                   f"spec.upgradeStrategy: Ray Autoscaler is required for NewClusterWithIncrementalUpgrade{gate}"),
                  (not isinstance(opts, dict), f"{at}: required for NewClusterWithIncrementalUpgrade{gate}")]
        rules += [] if not isinstance(opts, dict) else [
            *[(not ok, f"{at}.{k}Percent: must be between 0 and 100{gate}") for k, ok in percent.items()],
            (percent["stepSize"] and isinstance(surge, int) and step > surge,
             f"{at}: stepSizePercent must be <= maxSurgePercent{gate}"),
            (not isinstance(iv, int) or iv <= 0, f"{at}.intervalSeconds: must be greater than 0{gate}"),
            (not opts.get("gatewayClassName"), f"{at}.gatewayClassName: required{gate}"),
        ]
    errs = [msg for cond, msg in rules if cond] + ray_cluster_spec_errors(rc, ann, "spec.rayClusterConfig")
    # serveConfigV2 is only yaml.Unmarshal'ed when the controller submits it; check it here.
    if (scv2 := spec.get("serveConfigV2")) is not None:
        try:
            parsed = yaml.load(scv2, Loader=_YAML) if isinstance(scv2, str) else None
        except yaml.YAMLError as e:
            errs.append(f"spec.serveConfigV2: not valid YAML: {_short(str(e))}")
        else:
            if not isinstance(parsed, dict):
                errs.append("spec.serveConfigV2: must be a YAML mapping (Serve config with 'applications')")
            elif not isinstance(parsed.get("applications"), list) or not parsed["applications"]:
                errs.append("spec.serveConfigV2.applications: must be a non-empty list")
    return [f"[kuberay] {e}" for e in errs]


# ---- public entry points -------------------------------------------------------------------------------------- #
def validate_manifest(doc: dict, k8s_version: str = K8S_VERSION, *,
                      crds_dir: str | os.PathLike | None = None) -> list[str]:
    """All problems with one manifest as ``Kind/name: [source] path: message`` strings; custom resources are
    looked up with ``load_crd_index(crds_dir)``, which raises CRDBundleError if the bundle is missing or empty."""
    if not isinstance(doc, dict):
        return [f"<invalid>/<invalid>: manifest must be a mapping, got {type(doc).__name__}"]
    kind, api_version, md = doc.get("kind"), doc.get("apiVersion"), _d(doc.get("metadata"))
    prefix = f"{kind or '<no kind>'}/{md.get('name') or md.get('generateName') or '<no name>'}"
    if not isinstance(api_version, str) or not api_version or not isinstance(kind, str) or not kind:
        return [f"{prefix}: [schema] apiVersion and kind are required strings"]
    group, _, version = api_version.rpartition("/")
    pruned = _strip_nulls(doc, nulls := [])
    errs = [f"[stackdef] {_path(p)}: null value (the API server silently prunes it; omit the field)" for p in nulls]
    if (validator := _builtin_validator(api_version, kind, k8s_version)) is not None:
        errs += _schema_errors(validator, pruned) + _metadata_errors(pruned, group)
        if group == "apps" and kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"):
            errs += _controller_errors(pruned)
        errs += _core_errors(pruned) if not group else []
        return [f"{prefix}: {e}" for e in errs]

    index = load_crd_index(crds_dir)
    known = index.knows_group_kind(group, kind)
    if (validator := index.validator(group, version, kind, k8s_version) if known else None) is not None:
        errs += _schema_errors(validator, apply_crd_defaults(pruned, validator.schema))
    elif known:
        errs.append(f"[schema] apiVersion: {api_version!r} is not a served version of {kind}.{group} "
                    f"(served: {[v['name'] for v in index.versions(group, kind) if v.get('served')]})")
    else:
        errs.append(f"[schema] no schema for {api_version} {kind}: neither a Kubernetes {k8s_version} built-in "
                    f"nor in the CRD bundle {index.dir}")
    errs += _metadata_errors(pruned, group)
    if group == "ray.io" and kind == "RayService":  # also the pods KubeRay creates from its templates
        rc = _get(pruned, "spec", "rayClusterConfig")
        groups = [("headGroupSpec", _get(rc, "headGroupSpec"))]
        for gp, g in groups + [(f"workerGroupSpecs[{i}]", w) for i, w in enumerate(_l(_get(rc, "workerGroupSpecs")))]:
            at = f"spec.rayClusterConfig.{gp}.template"
            errs += _meta_errors(_d(_get(g, "template", "metadata")), f"{at}.metadata")
            if isinstance(pod := _get(g, "template", "spec"), dict):
                errs += pod_spec_errors(pod, f"{at}.spec")
        errs += kuberay_runtime_errors(pruned)
    return [f"{prefix}: {e}" for e in errs]


def validate_manifests(docs: Iterable[dict], k8s_version: str = K8S_VERSION, *,
                       crds_dir: str | os.PathLike | None = None) -> list[str]:
    """Validate many manifests; also flags duplicate (group, kind, namespace, name)."""
    out: list[str] = []
    seen: dict[tuple, int] = {}
    for i, doc in enumerate(docs):
        out += validate_manifest(doc, k8s_version, crds_dir=crds_dir)
        md = _d(_d(doc).get("metadata"))
        key = (str(_d(doc).get("apiVersion", "")).rpartition("/")[0], _d(doc).get("kind"), md.get("namespace"),
               md.get("name"))
        if key[3] and key in seen:
            out.append(f"{key[1]}/{key[3]}: [stackdef] duplicate object (same group/kind/namespace/name as "
                       f"manifest #{seen[key]})")
        seen.setdefault(key, i)
    return out
