"""The ``model`` service kind: a classic model served by a Ray Serve application from an import path."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stackdef.errors import Issue
from stackdef.kinds.base import RuleContext, ServiceKind
from stackdef.kinds.model import compile as model_compile
from stackdef.kinds.model.resolve import resolve_model
from stackdef.kinds.model.spec import LocalCode, ModelService
from stackdef.kinds.ray_common import upgrade_overlap_warning


class ModelKind(ServiceKind):
    type = "model"
    spec = ModelService

    def rules(self, ctx: RuleContext, path: str, svc: ModelService) -> list[Issue]:
        gpu = svc.resources.accelerator
        offered = ctx.target.gpu_offered(gpu) if gpu is not None else None
        if offered is not None:
            return [Issue(f"{path}.resources.accelerator", f"GPU {gpu} is not offered on {ctx.target.name}", f"choose one of {', '.join(offered)}")]
        return []

    def secret_refs(self, svc: ModelService) -> Iterable[tuple[str, Any]]:
        for var, ref in sorted(svc.secret_env.items()):
            yield f"secret_env.{var}", ref

    def code_dirs(self, svc: ModelService) -> Iterable[tuple[str, str]]:
        if isinstance(svc.code, LocalCode):
            yield "code.path", svc.code.path

    def resolve(self, ctx: Any, index: int, svc: ModelService) -> Any:
        return resolve_model(ctx, index, svc)

    def final_warnings(self, rs: Any) -> list[Issue]:
        if not rs.gpu_type or rs.max_replicas == 0:
            return []
        return [upgrade_overlap_warning(rs)]

    def components(self, rst: Any, rs: Any) -> Any:
        return model_compile.components(rst, rs)

    def plan_details(self, rs: Any) -> dict[str, Any]:
        return {"import_path": rs.spec.import_path}

    def plan_summary(self, rs: Any) -> str:
        return rs.spec.import_path


KIND = ModelKind()
