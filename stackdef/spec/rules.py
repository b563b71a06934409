"""Cross-field rules of a whole stack, beyond what each model checks alone.

Each rule is a function named after the rule; each returns every violation it
finds (not just the first) as :class:`~stackdef.errors.Issue` with the exact
field path, so one run of ``validate`` lists every problem.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from stackdef.catalog.gpus import GPU_TYPES
from stackdef.errors import Issue
from stackdef.spec.models import LLMService, ModelService, SecretRef, Stack

# Model ids that Hugging Face gates behind a licence; downloads need a token.
_GATED_PREFIXES = ("meta-llama/", "mistralai/", "google/gemma")


def _secret_refs(stack: Stack) -> Iterator[tuple[str, SecretRef]]:
    for i, svc in enumerate(stack.services):
        if isinstance(svc, LLMService) and svc.hf_token is not None:
            yield f"services[{i}].hf_token", svc.hf_token
        if isinstance(svc, ModelService):
            for var, ref in sorted(svc.secret_env.items()):
                yield f"services[{i}].secret_env.{var}", ref


def check_unique_service_names(stack: Stack) -> list[Issue]:
    seen: dict[str, int] = {}
    issues = []
    for i, svc in enumerate(stack.services):
        if svc.name in seen:
            issues.append(
                Issue(
                    f"services[{i}].name",
                    f"name {svc.name!r} is already used by services[{seen[svc.name]}]",
                    "give each service its own name",
                )
            )
        seen.setdefault(svc.name, i)
    return issues


def check_unique_secret_names(stack: Stack) -> list[Issue]:
    seen: set[str] = set()
    issues = []
    for i, sec in enumerate(stack.secrets):
        if sec.name in seen:
            issues.append(Issue(f"secrets[{i}].name", f"secret {sec.name!r} is declared twice", "declare it once"))
        seen.add(sec.name)
    return issues


def check_secret_references_resolve(stack: Stack) -> list[Issue]:
    declared = {s.name: s.keys for s in stack.secrets}
    issues = []
    for path, ref in _secret_refs(stack):
        if ref.secret not in declared:
            known = ", ".join(sorted(declared)) or "none are declared"
            issues.append(
                Issue(
                    f"{path}.secret",
                    f"secret {ref.secret!r} is not declared",
                    f"add it to `secrets` with key {ref.key!r}; declared: {known}",
                )
            )
        elif ref.key not in declared[ref.secret]:
            issues.append(
                Issue(
                    f"{path}.key",
                    f"secret {ref.secret!r} declares no key {ref.key!r}",
                    f"use one of {sorted(declared[ref.secret])} or add the key to the declaration",
                )
            )
    return issues


def check_gpu_offered_on_target(stack: Stack) -> list[Issue]:
    cloud = stack.target.type
    if cloud not in ("eks", "gke"):
        return []
    issues = []
    for i, svc in enumerate(stack.services):
        if isinstance(svc, LLMService):
            gpu, path = svc.accelerator.type, f"services[{i}].accelerator.type"
        else:
            gpu, path = svc.resources.accelerator, f"services[{i}].resources.accelerator"
        if gpu is not None and gpu != "auto" and getattr(GPU_TYPES[gpu], cloud) is None:
            offered = ", ".join(g.name for g in GPU_TYPES.values() if getattr(g, cloud))
            issues.append(Issue(path, f"GPU {gpu} is not offered on {cloud}", f"choose one of {offered}"))
    return issues


def check_cpu_profile_fits_memory(stack: Stack) -> list[Issue]:
    from stackdef.quantity import parse_bytes

    if stack.target.type != "kind":
        return []
    issues = []
    for i, svc in enumerate(stack.services):
        if isinstance(svc, LLMService):
            prof = svc.cpu_profile
            mem_gib = parse_bytes(prof.memory) / 2**30
            # vLLM's CPU backend reserves the KV cache up front; the process
            # itself needs ~2 GiB for a sub-1B model (weights + runtime).
            if prof.kv_cache_gib + 2 > mem_gib:
                issues.append(
                    Issue(
                        f"services[{i}].cpu_profile.kv_cache_gib",
                        f"a {prof.kv_cache_gib} GiB KV cache plus ~2 GiB for the runtime does not fit "
                        f"in memory {prof.memory}",
                        f"raise cpu_profile.memory to at least {prof.kv_cache_gib + 2}Gi or lower kv_cache_gib",
                    )
                )
    return issues


RULES: tuple[Callable[[Stack], list[Issue]], ...] = (
    check_unique_service_names,
    check_unique_secret_names,
    check_secret_references_resolve,
    check_gpu_offered_on_target,
    check_cpu_profile_fits_memory,
)


def check_stack(stack: Stack) -> list[Issue]:
    """Every cross-field problem of the stack, sorted by path."""
    issues: list[Issue] = []
    for rule in RULES:
        issues.extend(rule(stack))
    return sorted(issues)


def stack_warnings(stack: Stack) -> list[Issue]:
    """Things that are legal but probably not what the user wants."""
    warnings = []
    for i, svc in enumerate(stack.services):
        if isinstance(svc, LLMService):
            if svc.autoscaling.min_replicas == 0 and svc.model_cache is None and stack.target.type != "kind":
                warnings.append(
                    Issue(
                        f"services[{i}].model_cache",
                        "min_replicas is 0 and no model cache is set, so every scale-from-zero re-downloads the weights",
                        "add model_cache to keep weights on a PersistentVolumeClaim",
                    )
                )
            if svc.source.startswith(_GATED_PREFIXES) and svc.hf_token is None:
                warnings.append(
                    Issue(
                        f"services[{i}].hf_token",
                        f"{svc.source} is a gated model and no Hugging Face token is set",
                        "declare a secret and set hf_token",
                    )
                )
    return warnings
