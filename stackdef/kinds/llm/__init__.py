"""The ``llm`` service kind: an LLM served by vLLM through Ray Serve LLM on a KubeRay RayService
(or, on targets without GPUs, the CPU profile: one vLLM CPU pod)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stackdef.errors import Issue
from stackdef.kinds.base import RuleContext, ServiceKind
from stackdef.kinds.llm import compile as llm_compile
from stackdef.kinds.llm.resolve import resolve_llm
from stackdef.kinds.llm.spec import LLMService
from stackdef.kinds.ray_common import upgrade_overlap_warning
from stackdef.quantity import parse_bytes

# Model ids that Hugging Face gates behind a licence; downloads need a token.
_GATED_PREFIXES = ("meta-llama/", "mistralai/", "google/gemma")


class LLMKind(ServiceKind):
    type = "llm"
    spec = LLMService

    def rules(self, ctx: RuleContext, path: str, svc: LLMService) -> list[Issue]:
        issues = []
        gpu = svc.accelerator.type
        offered = ctx.target.gpu_offered(gpu) if gpu != "auto" else None
        if offered is not None:
            issues.append(Issue(f"{path}.accelerator.type", f"GPU {gpu} is not offered on {ctx.target.name}", f"choose one of {', '.join(offered)}"))
        if not ctx.target.supports("gpus"):
            prof = svc.cpu_profile
            mem_gib = parse_bytes(prof.memory) / 2**30
            # vLLM's CPU backend reserves the KV cache up front; the process
            # itself needs ~2 GiB for a sub-1B model (weights + runtime).
            if prof.kv_cache_gib + 2 > mem_gib:
                issues.append(
                    Issue(
                        f"{path}.cpu_profile.kv_cache_gib",
                        f"a {prof.kv_cache_gib} GiB KV cache plus ~2 GiB for the runtime does not fit in memory {prof.memory}",
                        f"raise cpu_profile.memory to at least {prof.kv_cache_gib + 2}Gi or lower kv_cache_gib",
                    )
                )
        return issues

    def warnings(self, ctx: RuleContext, path: str, svc: LLMService) -> list[Issue]:
        out = []
        if svc.autoscaling.min_replicas == 0 and svc.model_cache is None and ctx.target.supports("scale_to_zero"):
            out.append(
                Issue(
                    f"{path}.model_cache",
                    "min_replicas is 0 and no model cache is set, so every scale-from-zero re-downloads the weights",
                    "add model_cache to keep weights on a PersistentVolumeClaim",
                )
            )
        if svc.source.startswith(_GATED_PREFIXES) and svc.hf_token is None:
            out.append(Issue(f"{path}.hf_token", f"{svc.source} is a gated model and no Hugging Face token is set", "declare a secret and set hf_token"))
        # Engine arguments that change GPU memory or KV capacity in ways the memory model does not follow.
        for key in sorted(set(svc.engine.extra) & UNMODELLED_ENGINE_ARGS):
            out.append(
                Issue(
                    f"{path}.engine.extra.{key}",
                    f"{key} changes GPU memory or the KV cache in ways stackdef's sizing does not model",
                    "check the KV cache size vLLM logs at start-up against `stackdef cost`",
                )
            )
        return out

    def secret_refs(self, svc: LLMService) -> Iterable[tuple[str, Any]]:
        if svc.hf_token is not None:
            yield "hf_token", svc.hf_token

    def resolve(self, ctx: Any, index: int, svc: LLMService) -> Any:
        return resolve_llm(ctx, index, svc)

    def final_warnings(self, rs: Any) -> list[Issue]:
        if rs.mode != "llm-ray" or not rs.gpu_type or rs.max_replicas == 0:
            return []
        return [upgrade_overlap_warning(rs)]

    def components(self, rst: Any, rs: Any) -> Any:
        return llm_compile.components(rst, rs)

    def plan_details(self, rs: Any) -> dict[str, Any]:
        return {
            "served_model_name": rs.detail.served_model_name,
            "model": rs.detail.model,
            "openai_base_url": rs.endpoint + "/v1",
        }

    def plan_summary(self, rs: Any) -> str:
        return rs.detail.model


#: vLLM engine arguments sizing does not model (see stackdef.memory).
UNMODELLED_ENGINE_ARGS = frozenset(
    {"block_size", "kv_cache_memory_bytes", "num_gpu_blocks_override", "cpu_offload_gb", "speculative_config", "compilation_config", "swap_space", "max_num_partial_prefills"}
)

KIND = LLMKind()
