"""Spec building blocks every part of a stack shares (pydantic v2, no I/O).

Every field has a description (``stackdef schema`` publishes them), every
variant is a discriminated union on ``type``, and every cross-field rule is a
validator named after the rule it enforces. Rule violations raise
``ValueError`` whose text reads ``what is wrong (how to fix)``; the loader turns
them into ``SOURCE: field.path: problem (fix)`` lines.

Service kinds (``stackdef/kinds/<type>/spec.py``), layers
(``stackdef/layers/<name>/``) and targets (``stackdef/providers/<type>.py``)
define their own models on top of these; :mod:`stackdef.spec.stack` assembles
the :class:`Stack` from whatever is registered.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from stackdef.catalog.gpus import GPU_NAMES

# --------------------------------------------------------------------------- #
# Shared constrained types
# --------------------------------------------------------------------------- #

DNS1035 = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
QUANTITY_PATTERN = r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"

def plain_value(value: Any, depth: int = 0) -> bool:
    """A value a YAML/JSON config can carry: finite scalars and small lists or mappings of them."""
    if value is None or isinstance(value, (bool, str)):
        return not isinstance(value, str) or len(value) <= 4096
    if isinstance(value, int):
        return abs(value) < 2**63
    if isinstance(value, float):
        return math.isfinite(value)
    if depth >= 4:
        return False
    if isinstance(value, list):
        return len(value) <= 256 and all(plain_value(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return len(value) <= 256 and all(isinstance(k, str) and plain_value(v, depth + 1) for k, v in value.items())
    return False



#: Kubernetes counts replicas in int32.
INT32_MAX = 2**31 - 1
#: Kubernetes quantities are int64 in their base unit (bytes, millicores).
_QUANTITY_MAX = 2**63 - 1


def _positive_quantity(value: str) -> str:
    from stackdef.quantity import parse_quantity

    amount = parse_quantity(value)
    if not 0 < amount < _QUANTITY_MAX / 1000:
        raise ValueError(f"{value!r} is not a positive quantity Kubernetes can hold (e.g. '500m', '2', '8Gi')")
    return value


def _label_key(key: str) -> str:
    prefix, slash, name = key.rpartition("/")
    if not _LABEL_NAME.fullmatch(name) or (slash and not (len(prefix) <= 253 and re.fullmatch(DNS1123_SUBDOMAIN, prefix))):
        raise ValueError(
            f"label key {key[:80]!r} is not valid (an optional DNS subdomain prefix and '/', then ≤ 63 "
            "letters, digits, '-', '_' or '.', starting and ending with a letter or digit)"
        )
    return key


def _label_value(value: str) -> str:
    if value and not _LABEL_NAME.fullmatch(value):
        raise ValueError(
            f"label value {value[:80]!r} is not valid (≤ 63 letters, digits, '-', '_' or '.', starting and ending "
            "with a letter or digit, or empty)"
        )
    return value


_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")

LabelKey = Annotated[str, Field(max_length=317), AfterValidator(_label_key)]
LabelValue = Annotated[str, Field(max_length=63), AfterValidator(_label_value)]
#: Labels as Kubernetes accepts them (keys and values checked, at most 64 of them).
Labels = Annotated[dict[LabelKey, LabelValue], Field(max_length=64)]

ServiceName = Annotated[
    str,
    Field(
        pattern=DNS1035,
        max_length=40,
        description="Service name: lower-case letters, digits and '-', starting with a letter, "
        "at most 40 characters (it prefixes every Kubernetes name of the service).",
    ),
]
Quantity = Annotated[
    str,
    Field(
        pattern=QUANTITY_PATTERN,
        max_length=32,
        description="A positive Kubernetes quantity, e.g. '500m', '2', '8Gi'.",
    ),
    AfterValidator(_positive_quantity),
]
#: A key of a Secret or ConfigMap (Kubernetes: [-._a-zA-Z0-9]+, at most 253 characters).
SecretKey = Annotated[str, Field(pattern=r"^[-._a-zA-Z0-9]+$", max_length=253, description="A key inside a Secret.")]
K8sName = Annotated[
    str,
    Field(pattern=DNS1123_SUBDOMAIN, max_length=253, description="A Kubernetes object name."),
]
GpuName = Literal[GPU_NAMES]  # type: ignore[valid-type]


_DRAFTING: ContextVar[bool] = ContextVar("stackdef_drafting", default=False)


@dataclass(frozen=True)
class Draft:
    """The keyword arguments a spec model was called with, not yet validated.

    A Python spec builds nested models, and pydantic validates each one on its
    own, so an error inside ``Autoscaling(...)`` knows only ``max_replica``, not
    ``services[0].autoscaling.max_replica``. Re-running the spec under
    :func:`drafting` turns every model call into a Draft; validating the
    assembled data as one :class:`Stack` then reports the full path.
    """

    model: type
    fields: dict[str, Any]

    def to_data(self) -> dict[str, Any]:
        return {k: _data(v) for k, v in self.fields.items()}


def _data(value: Any) -> Any:
    if isinstance(value, Draft):
        return value.to_data()
    if isinstance(value, BaseModel):
        return value.model_dump(by_alias=True, exclude_unset=True)
    if isinstance(value, (list, tuple)):
        return [_data(v) for v in value]
    if isinstance(value, dict):
        return {k: _data(v) for k, v in value.items()}
    return value


@contextmanager
def drafting() -> Iterator[None]:
    """While active, calling a spec model returns a :class:`Draft` instead of validating."""
    token = _DRAFTING.set(True)
    try:
        yield
    finally:
        _DRAFTING.reset(token)


class _Base(BaseModel):
    # No NaN or infinity anywhere (budgets, rates, delays); strings stay small
    # unless a field says otherwise (every Kubernetes name is far shorter).
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False, str_max_length=4096, defer_build=True)

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        # pydantic itself calls __new__ without arguments; only a user's call carries fields.
        if kwargs and _DRAFTING.get():
            return Draft(cls, kwargs)
        return super().__new__(cls)


# The reference grammar of github.com/distribution/reference (domain[:port]/path[:tag][@digest]).
_IMAGE_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?"
_IMAGE = re.compile(
    rf"(?:{_IMAGE_DOMAIN}/)?{_IMAGE_COMPONENT}(?:/{_IMAGE_COMPONENT})*"
    r"(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?"
)


def check_image(image: str) -> str:
    """Images must be valid references and pinned: a tag other than ``latest``, or a digest."""
    if len(image) > 512 or not _IMAGE.fullmatch(image):
        raise ValueError(
            f"image {image[:80]!r} is not an image reference (write registry/repository:tag or "
            "repository@sha256:<digest>, e.g. 'ghcr.io/acme/app:1.2.3')"
        )
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    if "@sha256:" in image:
        return image
    if ":" not in last:
        raise ValueError(
            f"image {image!r} has no tag (pin a version tag or a digest, e.g. '{image}:1.2.3')"
        )
    if last.rsplit(":", 1)[1] == "latest":
        raise ValueError(f"image {image!r} uses the floating tag 'latest' (pin a version tag or a digest)")
    return image


# --------------------------------------------------------------------------- #
# Secrets
# --------------------------------------------------------------------------- #


class SecretDecl(_Base):
    """A Kubernetes Secret the stack reads from; stackdef never sees its value."""

    name: K8sName = Field(description="Name of the Secret in the stack's namespace.")
    keys: list[SecretKey] = Field(
        min_length=1,
        max_length=256,
        description="Keys the Secret must contain. Values are set outside the spec "
        "(`kubectl create secret`, or `pulumi config set --secret`), never in it.",
    )
    description: str = Field("", description="What the secret is for (shown in `plan`).")


class SecretRef(_Base):
    """A reference to one key of a declared Secret."""

    secret: K8sName = Field(description="Name of a Secret declared in `secrets`.")
    key: SecretKey = Field(description="Key inside that Secret.")


@dataclass(frozen=True)
class WholeSecret:
    """A use of every key of a declared Secret as environment variables (``envFrom``).

    Not a spec model: a field holding a Secret's name yields one from ``secret_refs`` so the
    reference is checked (declared, keys usable as variable names) and listed in the plan.
    """

    secret: str


# --------------------------------------------------------------------------- #
# Node placement (targets use these)
# --------------------------------------------------------------------------- #


class Toleration(_Base):
    """A pod toleration, as in the Kubernetes API."""

    key: LabelKey = Field(description="Taint key to tolerate, e.g. 'nvidia.com/gpu'.")
    operator: Literal["Exists", "Equal"] = Field("Exists", description="Exists or Equal.")
    value: LabelValue | None = Field(None, description="Taint value (only with operator Equal).")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        "NoSchedule", description="Taint effect to tolerate; null tolerates every effect."
    )

    @model_validator(mode="after")
    def check_value_only_with_equal(self) -> Toleration:
        if self.operator == "Exists" and self.value is not None:
            raise ValueError("a toleration with operator Exists cannot have a value (drop value, or use operator Equal)")
        if self.operator == "Equal" and self.value is None:
            raise ValueError("a toleration with operator Equal needs a value (set value)")
        return self


class GpuNodes(_Base):
    """How GPU nodes are recognised on a cluster.

    Provisioners label GPU nodes differently (GPU Feature Discovery, Karpenter,
    GKE, AKS), so the label key is configurable and the value is looked up per
    GPU type in stackdef's GPU catalog unless overridden.
    """

    label_key: LabelKey | None = Field(
        "nvidia.com/gpu.product",
        description="Node label whose value names the GPU model (GPU Feature Discovery's "
        "'nvidia.com/gpu.product' by default); null selects GPU nodes by `labels` only.",
    )
    label_values: dict[GpuName, LabelValue] = Field(  # type: ignore[valid-type]
        default_factory=dict,
        description="Per GPU type, the value of `label_key` on this cluster, overriding the "
        "catalog's GPU Feature Discovery name (e.g. {L4: NVIDIA-L4}).",
    )
    labels: Labels = Field(
        default_factory=dict,
        description="Extra node labels every GPU worker must match (e.g. a node-pool label).",
    )
    tolerations: list[Toleration] = Field(
        default_factory=lambda: [Toleration(key="nvidia.com/gpu")],
        description="Tolerations for GPU node taints (default: tolerate 'nvidia.com/gpu').",
    )


# --------------------------------------------------------------------------- #
# Replicas, money, network
# --------------------------------------------------------------------------- #


class Autoscaling(_Base):
    """Ray Serve autoscaling for one deployment (replica bounds and reaction speed)."""

    min_replicas: int = Field(1, ge=0, le=INT32_MAX, description="Fewest replicas; 0 scales to zero when idle.")
    max_replicas: int = Field(1, ge=1, le=INT32_MAX, description="Most replicas.")
    initial_replicas: int | None = Field(
        None, ge=0, le=INT32_MAX, description="Replicas at deploy time; default: min_replicas."
    )
    target_ongoing_requests: float = Field(
        2.0, gt=0, le=1e6, description="Ongoing requests per replica the autoscaler aims for."
    )
    upscale_delay_s: float = Field(30.0, ge=0, le=86400, description="Seconds of sustained load before scaling up.")
    downscale_delay_s: float = Field(
        600.0, ge=0, le=86400 * 7, description="Seconds of low load before scaling down (and to zero)."
    )

    @model_validator(mode="after")
    def check_min_le_max(self) -> Autoscaling:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"min_replicas {self.min_replicas} > max_replicas {self.max_replicas} "
                f"(set max_replicas ≥ {self.min_replicas}, or lower min_replicas)"
            )
        if self.initial_replicas is not None and not (
            self.min_replicas <= self.initial_replicas <= self.max_replicas
        ):
            raise ValueError(
                f"initial_replicas {self.initial_replicas} is outside "
                f"[{self.min_replicas}, {self.max_replicas}] (pick a value between min and max)"
            )
        return self


class Budget(_Base):
    """A monthly spending limit and what to do when the ceiling would exceed it."""

    monthly_usd: float = Field(gt=0, le=1e9, description="Monthly budget in USD (730 hours).")
    policy: Literal["fail", "cap", "warn"] = Field(
        "fail",
        description="fail: the spec is invalid when the ceiling exceeds the budget; cap: max_replicas are "
        "lowered to the largest counts within budget; warn: plan warns. A budget below the baseline "
        "(min replicas) is an error under every policy.",
    )


class Pricing(_Base):
    """Where prices come from."""

    file: str | None = Field(
        None,
        max_length=1024,
        pattern=r"^[^\x00-\x1f]+$",
        description="CSV of extra or overriding instance prices, relative to the spec file. Columns: provider, "
        "instance_type, region, vcpu, ram_gib, usd_per_hour (optional: gpu_model, gpu_count, price_source_url, "
        "price_source_date), as in the built-in catalog stackdef/catalog/data/gpu_prices.csv.",
    )


class Network(_Base):
    """Who may reach the stack's services (NetworkPolicies admit nothing else)."""

    allow_from_namespaces: list[Annotated[str, Field(pattern=DNS1123_LABEL)]] = Field(
        default_factory=list,
        description="Other namespaces whose pods may call the services' HTTP endpoints "
        "(the stack's own namespace always may).",
    )
    operator_namespace: str = Field(
        "kuberay-system",
        pattern=DNS1123_LABEL,
        description="Namespace of the KubeRay operator, which polls each Ray head's dashboard.",
    )
    monitoring_namespace: str | None = Field(
        None, pattern=DNS1123_LABEL, description="Namespace allowed to scrape metrics ports, if any."
    )
