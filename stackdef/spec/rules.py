"""Cross-field rules of a whole stack, beyond what each model checks alone.

The core rules (unique names, declared secrets) are here; each service kind
and layer adds its own through its ``rules`` / ``warnings`` methods. Every
rule returns every violation it finds (not just the first) as
:class:`~stackdef.errors.Issue` with the exact field path, so one run of
``validate`` lists every problem.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator
from typing import Any

from stackdef import registry
from stackdef.errors import Issue, some
from stackdef.kinds.base import RuleContext
from stackdef.spec.base import SecretRef, WholeSecret

#: What Kubernetes takes as an environment variable name from a Secret's keys (envFrom skips others).
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def secret_refs(stack: Any) -> Iterator[tuple[str, str, SecretRef | WholeSecret]]:
    """(field path, owner name, reference) of every Secret any service or layer reads."""
    for i, svc in enumerate(stack.services):
        for rel, ref in registry.KINDS.get(svc.type).secret_refs(svc):
            yield f"services[{i}].{rel}", svc.name, ref
    for name, section in stack.layer_sections():
        for rel, ref in registry.LAYERS.get(name).secret_refs(section):
            yield f"{name}.{rel}", name, ref


def check_unique_service_names(stack: Any) -> list[Issue]:
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


def check_unique_secret_names(stack: Any) -> list[Issue]:
    seen: set[str] = set()
    issues = []
    for i, sec in enumerate(stack.secrets):
        if sec.name in seen:
            issues.append(Issue(f"secrets[{i}].name", f"secret {sec.name!r} is declared twice", "declare it once"))
        seen.add(sec.name)
    return issues


def check_secret_references_resolve(stack: Any) -> list[Issue]:
    declared = {s.name: s.keys for s in stack.secrets}
    issues = []
    for path, _, ref in secret_refs(stack):
        if isinstance(ref, WholeSecret):
            issues += _whole_secret_problems(path, ref, declared)
        elif ref.secret not in declared:
            close = difflib.get_close_matches(ref.secret, list(declared), n=3)
            known = ("closest declared: " + ", ".join(close)) if close else (
                "declared: " + some(sorted(declared)) if declared else "none are declared"
            )
            issues.append(
                Issue(
                    f"{path}.secret",
                    f"secret {ref.secret!r} is not declared",
                    f"add it to `secrets` with key {ref.key!r}; {known}",
                )
            )
        elif ref.key not in declared[ref.secret]:
            issues.append(
                Issue(
                    f"{path}.key",
                    f"secret {ref.secret!r} declares no key {ref.key!r}",
                    f"use one of {some(sorted(declared[ref.secret]))} or add the key to the declaration",
                )
            )
    return issues


def _whole_secret_problems(path: str, ref: WholeSecret, declared: dict[str, list[str]]) -> list[Issue]:
    if ref.secret not in declared:
        close = difflib.get_close_matches(ref.secret, list(declared), n=3)
        known = ("closest declared: " + ", ".join(close)) if close else ("declared: " + some(sorted(declared)) if declared else "none are declared")
        return [Issue(path, f"secret {ref.secret!r} is not declared", f"add it to `secrets` with the keys the pods read; {known}")]
    bad = [k for k in declared[ref.secret] if not _ENV_NAME.match(k)]
    if bad:
        return [
            Issue(
                path,
                f"secret {ref.secret!r} becomes environment variables, but its keys {some(bad)} are not variable names (Kubernetes skips them)",
                "name its keys with letters, digits and '_' (e.g. AWS_ACCESS_KEY_ID)",
            )
        ]
    return []


RULES: tuple[Callable[[Any], list[Issue]], ...] = (
    check_unique_service_names,
    check_unique_secret_names,
    check_secret_references_resolve,
)


def _context(stack: Any) -> RuleContext:
    return RuleContext(stack, registry.TARGETS.get(stack.target.type))


def check_stack(stack: Any) -> list[Issue]:
    """Every cross-field problem of the stack, sorted by path."""
    issues: list[Issue] = []
    for rule in RULES:
        issues.extend(rule(stack))
    ctx = _context(stack)
    for i, svc in enumerate(stack.services):
        issues.extend(registry.KINDS.get(svc.type).rules(ctx, f"services[{i}]", svc))
    for name, section in stack.layer_sections():
        issues.extend(registry.LAYERS.get(name).rules(ctx, section))
    return sorted(issues)


def stack_warnings(stack: Any) -> list[Issue]:
    """Things that are legal but probably not what the user wants."""
    ctx = _context(stack)
    warnings: list[Issue] = []
    for i, svc in enumerate(stack.services):
        warnings.extend(registry.KINDS.get(svc.type).warnings(ctx, f"services[{i}]", svc))
    for name, section in stack.layer_sections():
        warnings.extend(registry.LAYERS.get(name).warnings(ctx, section))
    return warnings
