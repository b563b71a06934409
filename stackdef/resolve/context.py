"""What a service kind or layer gets when it resolves: the stack, its target's plan,
prices, and the decisions every kind shares (labels, names, placement, storage,
billing), so no kind re-derives them and none needs to know the target.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from stackdef import ports
from stackdef.catalog.prices import Instance, PriceCatalog
from stackdef.catalog.storage import monthly_usd as storage_monthly
from stackdef.cost import HOURS_PER_MONTH, CpuLoad, GpuPricing, ServiceBill, replicas_per_node
from stackdef.errors import Issue
from stackdef.naming import label_value
from stackdef.quantity import parse_bytes
from stackdef.resolve.model import CacheVolume, Placement, Sizing

INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"


class Collector:
    """Problems, warnings, notes and cluster needs found while resolving (one of each, in order)."""

    def __init__(self) -> None:
        self.issues: list[Issue] = []
        self.warnings: list[Issue] = []
        #: Stack notes (plan shows them).
        self.notes: list[str] = []
        #: What the cluster must provide before deploy.
        self.needs: list[str] = []


@dataclass
class ResolveContext:
    stack: Any
    #: The TargetPlan of the stack's target.
    target: Any
    catalog: PriceCatalog
    #: service name -> ((relative path, text), ...) read by the loader.
    code: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    out: Collector = field(default_factory=Collector)

    def __post_init__(self) -> None:
        self.labels = common_labels(self.stack)
        self.pricing = self.target.pricing_key(self.stack.target)
        self.gpu_instances: tuple[Instance, ...] = self.catalog.gpu_instances(*self.pricing) if self.pricing else ()
        self.cpu_instance: Instance | None = (
            self.catalog.cpu_instance(*self.pricing) if self.pricing and not self.target.local else None
        )

    # -- identity -------------------------------------------------------------

    def identity(self, svc: Any, component: str) -> tuple[int, dict[str, str], dict[str, str]]:
        """(initial replicas, pod selector, labels) of a service."""
        auto = svc.autoscaling
        initial = auto.initial_replicas if auto.initial_replicas is not None else auto.min_replicas
        selector = {"stackdef.dev/stack": label_value(self.stack.name), "stackdef.dev/service": svc.name}
        labels = {**self.labels, "app.kubernetes.io/name": svc.name, "app.kubernetes.io/component": component, **selector}
        return initial, selector, labels

    def endpoint(self, service_name: str) -> str:
        return f"http://{service_name}.{self.stack.resolved_namespace}.svc.cluster.local:{ports.HTTP}"

    # -- money ----------------------------------------------------------------

    def bill(self, sizing: Sizing, cpu_load: CpuLoad, gpu: str | None, volumes: tuple[CacheVolume | None, ...] = ()) -> ServiceBill | None:
        """A bill, or None when a part of it has no price (unknown, never silently $0).

        ``volumes``: the persistent volumes billed with it (an unpriced one is a warning, from
        :meth:`volume`, and left out).
        """
        if self.target.local:
            return ServiceBill(None, None, cpu_load)  # a local cluster costs nothing
        if self.pricing is None or self.cpu_instance is None or (gpu is not None and sizing.instance is None):
            return None
        gpu_pricing = GpuPricing(sizing.instance, sizing.replicas_per_node or 1) if sizing.instance else None
        storage = sum(v.monthly_usd or 0.0 for v in volumes if v is not None) / HOURS_PER_MONTH
        return ServiceBill(gpu_pricing, self.cpu_instance, cpu_load, storage)

    # -- placement ------------------------------------------------------------

    def gpu_placement(self, gpu: str | None, gpus: int, pod: tuple[float, float] | None) -> tuple[Placement, dict[str, str]]:
        """(placement, Ray resources) of GPU workers.

        Where the target places by instance type, the workers may run on any
        instance type of the chosen GPU's family that holds one replica's pod
        (node affinity on the kubelet's ``node.kubernetes.io/instance-type``,
        set on every node whatever created it); the bill assumes the cheapest.
        The group advertises the Ray ``accelerator_type:<GPU>`` resource that
        the Serve replica asks for, so Ray's autoscaler can scale it up from zero.
        """
        if gpu is None:
            return Placement(), {}
        p = self.target.gpu_placement(self.stack.target, gpu)
        family: tuple[str, ...] = ()
        if self.target.place_by_instance_type and pod is not None:
            fits = [i for i in self.gpu_instances if i.gpu == gpu and replicas_per_node(i, gpus, *pod) >= 1]
            family = tuple(i.instance_type for i in sorted(fits, key=lambda i: (i.usd_per_hour, i.instance_type)))
        placement = Placement(dict(sorted(p.node_selector.items())), tuple(p.tolerations), instance_types=family)
        return placement, {f"accelerator_type:{gpu}": "1"}

    def cpu_placement(self) -> Placement:
        """Heads, CPU workers and layer pods stay off GPU nodes (GPU hours are the expensive ones)."""
        cloud = self.pricing[0] if self.pricing else None
        gpu_types = tuple(sorted({i.instance_type for i in self.catalog.instances if i.provider == cloud and i.gpu}))
        c = self.target.cpu_placement(gpu_types)
        return Placement(avoid_instance_types=c.avoid_instance_types, avoid_labels=c.avoid_labels)

    # -- storage --------------------------------------------------------------

    def volume(
        self, path: str, size: str, access_mode: str | None, storage_class: str | None, *, owner: str, noun: str, readers: int
    ) -> CacheVolume:
        """A PVC's access mode and StorageClass on this target, and what the cluster must provide.

        ``path`` is the spec field of the volume, ``owner`` the service or layer
        it belongs to, ``noun`` what it is ("model cache"), ``readers`` how many
        replicas (possibly on different nodes) mount it at once.
        """
        field = path.rsplit(".", 1)[-1]
        storage = self.target.storage
        mode = access_mode or ("ReadWriteMany" if storage.read_write_many is not None else "ReadWriteOnce")
        if mode == "ReadWriteMany" and storage.read_write_many is None:
            self.out.notes.append(f"{owner}: {self.target.name} offers only ReadWriteOnce volumes: the {noun} is ReadWriteOnce there")
            mode = "ReadWriteOnce"
        choice = storage.read_write_many if mode == "ReadWriteMany" else storage.read_write_once
        assert choice is not None
        read = choice.read
        if storage_class is not None:
            self.out.needs.append(f"StorageClass {storage_class} ({mode}) for {path}")
            klass: str | None = storage_class
            read = None if storage_class != choice.name else read
        else:
            klass = choice.name
            if not choice.builtin:
                self.out.needs.append(f"{choice.needs}, for {path}")
                self.out.warnings.append(
                    Issue(path, f"the cluster must provide {choice.needs}", f"install it before deploy, or set {field}.storage_class")
                )
        if mode == "ReadWriteOnce" and readers > 1 and storage.read_write_many is not None:
            self.out.warnings.append(
                Issue(
                    f"{path}.access_mode",
                    f"a ReadWriteOnce {noun.split()[-1]} mounts on one node only, so replicas on other nodes of the {readers} stay Pending",
                    "use ReadWriteMany (the target's default) or max_replicas 1",
                )
            )
        return CacheVolume(size, mode, klass, read, self._volume_price(path, noun, klass, size))  # type: ignore[arg-type]

    def _volume_price(self, path: str, noun: str, klass: str | None, size: str) -> float | None:
        if self.target.local:
            return 0.0
        if self.pricing is None:
            return None  # nothing is priced here; the bill says so
        found = storage_monthly(*self.pricing, klass or "", parse_bytes(size) / 2**30) if klass else None
        if found is None:
            self.out.warnings.append(
                Issue(
                    path,
                    f"the {noun}'s StorageClass {klass or '(the cluster default)'} has no price for {'/'.join(self.pricing)}, "
                    "so costs leave it out",
                    "use the target's default StorageClass, or budget for the volume yourself",
                )
            )
            return None
        return found[0]

    # -- prices ---------------------------------------------------------------

    def region_warning(self) -> Issue | None:
        """No price rows for the target's region: costs are unknown (and the region may be a typo)."""
        if self.pricing is None or self.catalog.for_region(*self.pricing):
            return None
        cloud, region = self.pricing
        known = sorted({r for p, r in self.catalog.regions() if p == cloud})
        close = difflib.get_close_matches(region, known, n=1, cutoff=0.6)
        fix = f"did you mean {close[0]!r}? Otherwise add rows for it with pricing.file or --prices" if close else (
            "add rows for it with pricing.file or --prices" + (f" (priced: {', '.join(known)})" if known else "")
        )
        return Issue("target.region", f"no prices for {cloud} {region} in the catalog, so costs are unknown", fix)


def common_labels(stack: Any) -> dict[str, str]:
    labels = {
        "app.kubernetes.io/part-of": label_value(stack.name),
        "app.kubernetes.io/managed-by": "stackdef",
        "stackdef.dev/stack": label_value(stack.name),
    }
    labels.update(stack.labels)
    return labels
