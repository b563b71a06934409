"""Deep validation (``stackdef validate --deep``): Ray Serve configs against Ray 2.56.0's own models.

Opt-in because it imports Ray (~2 s; ``pip install 'stackdef[ray]'``); the
test suite runs it on every compiled config.

KubeRay does not validate ``serveConfigV2`` up front (it only ``yaml.Unmarshal``s it
when it submits it to the dashboard), so a bad config shows up as a failing
RayService at runtime. This module runs Ray's own pydantic models on it offline.
It needs ``ray[serve]==2.56.0`` and ``pyarrow`` and no ``vllm``. It makes no
network calls and reads no local files named in the config.

API::

    validate_serve_config(cfg, *, allow_local_working_dir=False, direct_streaming=False) -> list[str]
    validate_rayservice(doc) -> list[str]      # yaml-parses doc["spec"]["serveConfigV2"]

An empty list means the config is valid. Each error string reads
``<where>: <message> [<layer>]``, where ``<where>`` names the application and
deployment or LLM config, e.g.
``applications[1](llms).args.llm_configs[0](qwen2.5-0.5b).deployment_config.autoscaling_config``.
The layers are:

``[ServeDeploySchema]``
    ``ray.serve.schema.ServeDeploySchema.model_validate`` on the whole dict:
    types, the URI-only ``working_dir``/``py_modules``, ``num_replicas`` together
    with ``autoscaling_config``, unique app names and route prefixes, the
    import_path format, and so on.
``[strict]``
    Unknown keys. Ray *ignores* them (ServeDeploySchema, ServeApplicationSchema,
    DeploymentSchema, HTTP/gRPC options, RayActorOptionsSchema and
    AutoscalingConfig all allow extra fields for forward compatibility), so a
    typo such as ``max_replica`` would silently fall back to the default.
``[AutoscalingConfig]``
    ``ray.serve.config.AutoscalingConfig`` on every autoscaling block:
    ``applications[].deployments[].autoscaling_config``, and for LLM apps also
    ``args.llm_configs[].deployment_config.autoscaling_config`` and
    ``args.ingress_deployment_config.autoscaling_config``. ServeDeploySchema types
    that field as ``Union[Dict, AutoscalingConfig]``, so a plain dict passes
    unchecked and ``min_replicas > max_replicas`` is accepted. This layer catches it.
``[runtime_env]``
    ``ray.runtime_env.RuntimeEnv`` type checks (for example ``env_vars`` must be
    ``Dict[str, str]``; YAML ``X: 1`` gives an int and fails at runtime), with the
    checks that touch the local filesystem removed, plus unknown
    ``runtime_env`` keys.
``[LLMConfig]`` / ``[LLMServingArgs]``
    Ray's ``LLMConfig`` (``ray.llm._internal.serve.core.configs.llm_config``) on
    every ``args.llm_configs[]`` entry of a ``ray.serve.llm:build_openai_app`` app.
    The allowed ``args`` keys, unique and non-empty ``model_id``s, and the
    ``serve.deployment()`` option names in ``deployment_config`` are checked by
    hand, because ``LLMServingArgs`` can only be imported with vllm installed.
    With ``direct_streaming=True`` (the RayService sets
    ``RAY_SERVE_LLM_ENABLE_DIRECT_STREAMING=1``), this layer also applies the
    builder's rules: exactly one LLM config, and neither
    ``ingress_deployment_config`` nor ``ingress_cls_config``.

What ``LLMConfig`` validation does and does not do offline (Ray 2.56.0, checked
in source):

* ``accelerator_type`` is checked offline against ``ray.util.accelerators``
  (``"L4"`` is fine and ``"A10"`` is rewritten to ``"A10G"``). A TPU/GPU/CPU
  mismatch with ``placement_group_config`` bundles is rejected.
* ``deployment_config`` is checked with Ray's internal ``DeploymentConfig``, so an
  autoscaling min > max is caught. The message is opaque ("Invalid deployment
  config: {...}"), so this module unwraps the cause. Unknown keys are not caught
  there, but ``serve.deployment(**deployment_config)`` raises on them at build
  time, so the ``[strict]`` layer does.
* ``engine_kwargs`` is *not* checked. vLLM parses it only when the engine starts,
  which needs vllm. ``disable_log_stats: true`` together with
  ``log_engine_metrics`` is rejected.
* Nothing is downloaded. The HF config is fetched only in
  ``apply_checkpoint_info`` at replica start, and without torch or transformers
  the import just logs "Could not import torch/transformers" (silenced here).
* To avoid: a *string* ``server_cls`` or ``ingress_cls`` is imported by the
  validator (``load_class``), which would import vllm or user code. This
  module checks only the ``module:Class`` / ``module.Class`` form and does not
  give the string to Ray. String (YAML-file path) entries in ``llm_configs`` are
  reported, because they cannot be checked offline.
* The public ``ray.serve.llm`` package (``ray.serve.llm.LLMConfig``,
  ``LLMServingArgs``) raises ImportError without vllm or sglang, so the
  internal module path is used.
"""

from __future__ import annotations

import copy
import functools
import logging
import re
from typing import Any

import yaml

from stackdef.locations import format_loc

LLM_BUILDERS = frozenset({"ray.serve.llm:build_openai_app", "ray.serve.llm.build_openai_app"})
LLM_ARGS_KEYS = frozenset({"llm_configs", "ingress_cls_config", "ingress_deployment_config"})
INGRESS_CLS_CONFIG_KEYS = frozenset({"ingress_cls", "ingress_extra_kwargs"})
_CLASS_PATH = re.compile(r"^[A-Za-z_][\w.]*[.:][A-Za-z_]\w*$")
_PLACEHOLDER_URI = "file:///stackdef-local-working-dir.zip"


@functools.lru_cache(maxsize=1)
def _ray() -> dict[str, Any]:
    """Import Ray's models once (~1.5-2 s)."""
    # ray.llm logs "Could not import torch/transformers" at import time; expected here.
    quiet = logging.getLogger("ray.llm._internal.common.utils.import_utils")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        from ray import serve
        from ray.llm._internal.serve.core.configs.llm_config import LLMConfig
        from ray.runtime_env import RuntimeEnv
        from ray.serve.config import AutoscalingConfig
        from ray.serve.schema import (
            DeploymentSchema,
            HTTPOptionsSchema,
            RayActorOptionsSchema,
            ServeApplicationSchema,
            ServeDeploySchema,
            gRPCOptionsSchema,
        )
    finally:
        quiet.setLevel(level)
    import inspect

    deployment_opts = set(inspect.signature(serve.deployment).parameters) - {"_func_or_class"}
    return {
        "ServeDeploySchema": ServeDeploySchema,
        "ServeApplicationSchema": ServeApplicationSchema,
        "DeploymentSchema": DeploymentSchema,
        "HTTPOptionsSchema": HTTPOptionsSchema,
        "gRPCOptionsSchema": gRPCOptionsSchema,
        "RayActorOptionsSchema": RayActorOptionsSchema,
        "AutoscalingConfig": AutoscalingConfig,
        "LLMConfig": LLMConfig,
        "RuntimeEnv": RuntimeEnv,
        "deployment_options": frozenset(deployment_opts),
    }


def _fields(model: Any) -> set[str]:
    names = set()
    for name, f in model.model_fields.items():
        names.add(name)
        if f.alias:
            names.add(f.alias)
    return names


# --------------------------------------------------------------------------- formatting


def _label(item: Any, *, llm: bool = False) -> str:
    if not isinstance(item, dict):
        return ""
    if llm:
        mlc = item.get("model_loading_config")
        mid = mlc.get("model_id") if isinstance(mlc, dict) else None
        return f"({mid})" if mid else ""
    return f"({item['name']})" if isinstance(item.get("name"), str) else ""


def _path(base: str, loc: tuple | list, data: Any = None) -> str:
    """``base`` + a pydantic ``loc``; list items are tagged with their name if known."""

    def label(prefix: tuple) -> str:
        node = data
        for part in prefix:
            if isinstance(part, int):
                node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            else:
                node = node.get(part) if isinstance(node, dict) else None
        llm = len(prefix) >= 2 and prefix[-2] == "llm_configs"
        return _label(node, llm=llm)

    return format_loc(loc, base=base, label=label) or "<root>"


def _one_line(msg: str) -> str:
    return " ".join(str(msg).split())


def _pyd_errors(exc: Exception, base: str, layer: str, data: Any = None) -> list[str]:
    """Flatten a pydantic ValidationError, unwrapping wrapped validator causes
    (e.g. LLMConfig's "Invalid deployment config: {...}" hides the real one)."""
    try:
        from pydantic import ValidationError
    except ImportError:  # pragma: no cover
        ValidationError = ()  # type: ignore[assignment]
    if not isinstance(exc, ValidationError):
        return [f"{base or '<root>'}: {type(exc).__name__}: {_one_line(exc)} [{layer}]"]
    out = []
    for err in exc.errors(include_url=False):
        loc = tuple(err.get("loc", ()))
        where = _path(base, loc, data)
        cause = (err.get("ctx") or {}).get("error")
        inner = getattr(cause, "__cause__", None) if cause is not None else None
        if isinstance(inner, ValidationError):
            sub_data = data
            for part in loc:
                sub_data = sub_data.get(part) if isinstance(sub_data, dict) else None
            out.extend(_pyd_errors(inner, where, layer, sub_data))
            continue
        msg = err.get("msg", "")
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if err.get("type") == "extra_forbidden":
            msg = "unknown field"
        out.append(f"{where}: {_one_line(msg)} [{layer}]")
    return out


# --------------------------------------------------------------------------- checks


def _unknown(d: Any, allowed: set[str] | frozenset[str], where: str, what: str) -> list[str]:
    if not isinstance(d, dict):
        return []
    return [
        f"{where}.{k}: unknown field for {what} (Ray ignores it silently) [strict]"
        for k in d
        if k not in allowed
    ]


def _check_autoscaling(asc: Any, where: str) -> list[str]:
    r = _ray()
    if asc is None:
        return []
    if not isinstance(asc, dict):
        return [f"{where}: must be a mapping, got {type(asc).__name__} [AutoscalingConfig]"]
    errors = _unknown(asc, _fields(r["AutoscalingConfig"]), where, "AutoscalingConfig")
    try:
        r["AutoscalingConfig"].model_validate(asc)
    except Exception as e:  # noqa: BLE001 - pydantic ValidationError or validator error
        errors += _pyd_errors(e, where, "AutoscalingConfig", asc)
    return errors


def _check_runtime_env(renv: Any, where: str) -> list[str]:
    """RuntimeEnv type checks minus the local-filesystem ones (paths are container paths)."""
    if renv is None:
        return []
    if not isinstance(renv, dict):
        return [f"{where}: must be a mapping, got {type(renv).__name__} [runtime_env]"]
    r = _ray()
    errors = _unknown(renv, r["RuntimeEnv"].known_fields, where, "runtime_env")
    probe = {k: v for k, v in renv.items() if k in r["RuntimeEnv"].known_fields}
    probe.pop("working_dir", None)  # existence of local paths is not checkable offline
    probe.pop("py_modules", None)
    for key in ("pip", "uv", "conda"):  # a str here is a local file path (or env name)
        if isinstance(probe.get(key), str):
            probe.pop(key)
    try:
        r["RuntimeEnv"](**probe)
    except Exception as e:  # noqa: BLE001
        errors.append(f"{where}: {_one_line(e)} [runtime_env]")
    return errors


def _check_deployment_options(dc: Any, where: str, what: str) -> list[str]:
    """A dict that ends up as ``serve.deployment(**dc)`` (LLM deployment/ingress configs)."""
    if dc is None:
        return []
    if not isinstance(dc, dict):
        return [f"{where}: must be a mapping, got {type(dc).__name__} [strict]"]
    r = _ray()
    errors = [
        f"{where}.{k}: not an option of serve.deployment() (fails when the app is built) [strict]"
        for k in dc
        if k not in r["deployment_options"]
    ]
    errors += _check_autoscaling(dc.get("autoscaling_config"), f"{where}.autoscaling_config")
    # DeploymentSchema catches num_replicas+autoscaling_config, bad types, ...
    known = _fields(r["DeploymentSchema"])
    probe = {k: v for k, v in dc.items() if k in known and k != "name"}
    if isinstance(probe.get("autoscaling_config"), dict):
        probe["autoscaling_config"] = dict(probe["autoscaling_config"])
    try:
        r["DeploymentSchema"].model_validate({"name": "probe", **probe})
    except Exception as e:  # noqa: BLE001
        errors += [m for m in _pyd_errors(e, where, what, dc) if "autoscaling_config" not in m.split(":")[0]]
    return errors


def _check_class_path(value: Any, where: str, layer: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, str) or not _CLASS_PATH.match(value):
        return [f"{where}: must be a 'module:Class' or 'module.Class' string, got {value!r} [{layer}]"]
    return []


def _check_llm_config(llm: Any, where: str) -> list[str]:
    r = _ray()
    if isinstance(llm, str):
        return [f"{where}: a file-path llm_config ({llm!r}) cannot be validated offline; inline it [LLMServingArgs]"]
    if not isinstance(llm, dict):
        return [f"{where}: must be a mapping, got {type(llm).__name__} [LLMServingArgs]"]
    errors: list[str] = []
    probe = copy.deepcopy(llm)
    # load_class() would import the module (vllm / user code): check the form only.
    if isinstance(probe.get("server_cls"), str):
        errors += _check_class_path(probe.pop("server_cls"), f"{where}.server_cls", "LLMConfig")
    cb = probe.get("callback_config")
    if isinstance(cb, dict) and isinstance(cb.get("callback_class"), str):
        errors += _check_class_path(cb["callback_class"], f"{where}.callback_config.callback_class", "LLMConfig")
    try:
        r["LLMConfig"].model_validate(probe)
    except Exception as e:  # noqa: BLE001
        errors += [
            m
            for m in _pyd_errors(e, where, "LLMConfig", probe)
            # reported with better detail by the checks below
            if not m.startswith(f"{where}.deployment_config.autoscaling_config")
        ]
    seen = {e.rsplit(" [", 1)[0] for e in errors}
    errors += [
        e
        for e in _check_deployment_options(llm.get("deployment_config"), f"{where}.deployment_config", "DeploymentSchema")
        if e.rsplit(" [", 1)[0] not in seen  # same finding as LLMConfig's DeploymentConfig check
    ]
    errors += _check_runtime_env(llm.get("runtime_env"), f"{where}.runtime_env")
    return list(dict.fromkeys(errors))


def _check_llm_app(app: dict, where: str, direct_streaming: bool) -> list[str]:
    args = app.get("args")
    aw = f"{where}.args"
    if not isinstance(args, dict):
        return [f"{aw}: build_openai_app needs args with llm_configs [LLMServingArgs]"]
    errors = [
        f"{aw}.{k}: unknown field for LLMServingArgs (build fails: extra fields are forbidden) [LLMServingArgs]"
        for k in args
        if k not in LLM_ARGS_KEYS
    ]
    llms = args.get("llm_configs")
    if not isinstance(llms, list) or not llms:
        errors.append(f"{aw}.llm_configs: must be a non-empty list [LLMServingArgs]")
        llms = []
    ids = []
    for j, llm in enumerate(llms):
        lw = f"{aw}.llm_configs[{j}]{_label(llm, llm=True)}"
        errors += _check_llm_config(llm, lw)
        mlc = llm.get("model_loading_config") if isinstance(llm, dict) else None
        if isinstance(mlc, dict) and mlc.get("model_id"):
            ids.append(mlc["model_id"])
    dups = sorted({m for m in ids if ids.count(m) > 1})
    if dups:
        errors.append(f"{aw}.llm_configs: duplicate model_id(s) {dups} [LLMServingArgs]")
    icc = args.get("ingress_cls_config")
    if icc is not None:
        if not isinstance(icc, dict):
            errors.append(f"{aw}.ingress_cls_config: must be a mapping [LLMServingArgs]")
        else:
            errors += [
                f"{aw}.ingress_cls_config.{k}: unknown field for IngressClsConfig [LLMServingArgs]"
                for k in icc
                if k not in INGRESS_CLS_CONFIG_KEYS
            ]
            errors += _check_class_path(icc.get("ingress_cls"), f"{aw}.ingress_cls_config.ingress_cls", "LLMServingArgs")
    errors += _check_deployment_options(
        args.get("ingress_deployment_config"), f"{aw}.ingress_deployment_config", "DeploymentSchema"
    )
    if direct_streaming:
        if len(llms) != 1:
            errors.append(
                f"{aw}.llm_configs: RAY_SERVE_LLM_ENABLE_DIRECT_STREAMING=1 supports exactly one "
                f"LLM config, got {len(llms)} [LLMServingArgs]"
            )
        for key in ("ingress_deployment_config", "ingress_cls_config"):
            if args.get(key):
                errors.append(f"{aw}.{key}: not supported with RAY_SERVE_LLM_ENABLE_DIRECT_STREAMING=1 [LLMServingArgs]")
    return errors


def _is_local_path(uri: Any) -> bool:
    return isinstance(uri, str) and "://" not in uri


def validate_serve_config(
    cfg: dict, *, allow_local_working_dir: bool = False, direct_streaming: bool = False
) -> list[str]:
    """Validate a ServeDeploySchema-shaped dict; return error strings (empty = valid).

    Args:
        cfg: the parsed ``serveConfigV2`` (``{"applications": [...], ...}``).
        allow_local_working_dir: accept local ``runtime_env.working_dir`` paths
            (Ray rejects them in Serve configs; the local test harness zips them).
        direct_streaming: apply ``RAY_SERVE_LLM_ENABLE_DIRECT_STREAMING=1`` rules.
    """
    if not isinstance(cfg, dict):
        return [f"<root>: serve config must be a mapping, got {type(cfg).__name__} [ServeDeploySchema]"]
    r = _ray()
    errors: list[str] = []

    # 1. Ray's own schema on the whole document.
    probe = copy.deepcopy(cfg)
    if allow_local_working_dir:
        for app in probe.get("applications") or []:
            renv = app.get("runtime_env") if isinstance(app, dict) else None
            if isinstance(renv, dict) and _is_local_path(renv.get("working_dir")):
                renv["working_dir"] = _PLACEHOLDER_URI
    try:
        r["ServeDeploySchema"].model_validate(probe)
    except Exception as e:  # noqa: BLE001
        errors += _pyd_errors(e, "", "ServeDeploySchema", cfg)

    # 2.-5. per-part checks Ray skips.
    errors += _unknown(cfg, _fields(r["ServeDeploySchema"]), "<root>", "ServeDeploySchema")
    errors += _unknown(cfg.get("http_options"), _fields(r["HTTPOptionsSchema"]), "http_options", "HTTPOptionsSchema")
    errors += _unknown(cfg.get("grpc_options"), _fields(r["gRPCOptionsSchema"]), "grpc_options", "gRPCOptionsSchema")
    apps = cfg.get("applications")
    for i, app in enumerate(apps if isinstance(apps, list) else []):
        if not isinstance(app, dict):
            continue
        aw = f"applications[{i}]{_label(app)}"
        errors += _unknown(app, _fields(r["ServeApplicationSchema"]), aw, "ServeApplicationSchema")
        errors += _check_runtime_env(app.get("runtime_env"), f"{aw}.runtime_env")
        deps = app.get("deployments")
        for j, dep in enumerate(deps if isinstance(deps, list) else []):
            if not isinstance(dep, dict):
                continue
            dw = f"{aw}.deployments[{j}]{_label(dep)}"
            errors += _unknown(dep, _fields(r["DeploymentSchema"]), dw, "DeploymentSchema")
            errors += _unknown(
                dep.get("ray_actor_options"),
                _fields(r["RayActorOptionsSchema"]),
                f"{dw}.ray_actor_options",
                "RayActorOptionsSchema",
            )
            rao = dep.get("ray_actor_options")
            if isinstance(rao, dict):
                errors += _check_runtime_env(rao.get("runtime_env"), f"{dw}.ray_actor_options.runtime_env")
            errors += _check_autoscaling(dep.get("autoscaling_config"), f"{dw}.autoscaling_config")
        if app.get("import_path") in LLM_BUILDERS:
            errors += _check_llm_app(app, aw, direct_streaming)
    return list(dict.fromkeys(errors))


def _containers(doc: dict) -> list[dict]:
    rcc = (doc.get("spec") or {}).get("rayClusterConfig") or {}
    groups = [rcc.get("headGroupSpec") or {}] + list(rcc.get("workerGroupSpecs") or [])
    out = []
    for g in groups:
        pod = ((g.get("template") or {}).get("spec") or {}) if isinstance(g, dict) else {}
        out += [c for c in pod.get("containers") or [] if isinstance(c, dict)]
    return out


def validate_rayservice(doc: dict) -> list[str]:
    """Validate the ``spec.serveConfigV2`` YAML string of a RayService manifest.

    Direct-streaming rules apply when any Ray container sets
    ``RAY_SERVE_LLM_ENABLE_DIRECT_STREAMING=1``. Errors are prefixed with
    ``RayService/<name> serveConfigV2:``.
    """
    name = ((doc or {}).get("metadata") or {}).get("name", "?") if isinstance(doc, dict) else "?"
    prefix = f"RayService/{name} serveConfigV2:"
    spec = doc.get("spec") if isinstance(doc, dict) else None
    raw = spec.get("serveConfigV2") if isinstance(spec, dict) else None
    if raw is None:
        return [f"{prefix} missing spec.serveConfigV2 [ServeDeploySchema]"]
    if not isinstance(raw, str):
        return [f"{prefix} must be a YAML string (KubeRay's field is a string), got {type(raw).__name__} [ServeDeploySchema]"]
    try:
        cfg = yaml.safe_load(raw)
    except yaml.YAMLError as e:
        return [f"{prefix} invalid YAML: {_one_line(e)} [yaml]"]
    direct = any(
        env.get("name") == "RAY_SERVE_LLM_ENABLE_DIRECT_STREAMING" and str(env.get("value")) == "1"
        for c in _containers(doc)
        for env in c.get("env") or []
        if isinstance(env, dict)
    )
    return [f"{prefix} {e}" for e in validate_serve_config(cfg, direct_streaming=direct)]


def ray_available() -> bool:
    try:
        import ray.serve  # noqa: F401
    except ImportError:
        return False
    return True


def deep_issues(objects: list[dict[str, Any]], service_index: dict[str, int]) -> list[tuple[str, str]]:
    """(field path, problem) for every RayService whose serveConfigV2 Ray rejects."""
    out = []
    for doc in objects:
        if doc.get("kind") != "RayService":
            continue
        name = doc["metadata"]["name"]
        where = f"services[{service_index[name]}]" if name in service_index else f"RayService/{name}"
        for err in validate_rayservice(doc):
            out.append((where, "Ray rejects the compiled serveConfigV2: " + err.split(": ", 1)[-1]))
    return out
