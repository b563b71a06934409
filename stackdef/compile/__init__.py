"""Compile: resolved stack → plain manifest dicts, grouped by component.

Pure functions (cdk8s-style constructs → dicts): no I/O, no Pulumi, no Ray.
The core here makes the namespace component, then each operator the stack
needs once, then asks each service's kind and each layer for its components;
it never names a kind, a layer or a target. Operators that ship as Helm
charts are described as :class:`HelmChart` (chart, pinned version, values)
for the render stage and the deploy edge.
"""

from __future__ import annotations

from stackdef import registry
from stackdef.compile import network
from stackdef.compile.model import CompiledStack, Component, HelmChart
from stackdef.resolve import ResolvedStack

__all__ = ["CompiledStack", "Component", "HelmChart", "compile_stack"]


def compile_stack(rst: ResolvedStack) -> CompiledStack:
    """Every manifest of the stack, in apply order within each component."""
    comps: list[Component] = [
        Component("namespace", "namespace", (network.namespace(rst), network.default_deny(rst)), role="namespace")
    ]
    comps.extend(op.component(rst) for op in rst.operators)
    comps.extend(registry.KINDS.get(rs.kind).components(rst, rs) for rs in rst.services)
    for rl in rst.layers:
        comps.extend(registry.LAYERS.get(rl.name).components(rst, rl))
    return CompiledStack(rst, tuple(comps))
