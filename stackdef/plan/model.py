"""The plan as a typed model: what a stack will create and what it costs, offline.

One :class:`Plan` is built per stack (:func:`stackdef.plan.build_plan`); the
JSON document (``plan -f json``), the table and Markdown views, the deploy
edge's stack outputs and ``diff`` all read this object. :meth:`Plan.to_json`
is its stable JSON form (documented in the README). No secret value is ever
part of a plan — stackdef only knows secret *names* and *keys*.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _M(BaseModel):
    """Plan models: typed and frozen, built from resolved values that are already checked.

    :func:`make` constructs them without validation and :func:`to_data` turns
    them into JSON data by walking their fields, so no validator or serializer
    is built at import or per plan (``defer_build``); ``model_validate`` still
    checks a plan read back from JSON.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, defer_build=True)
    #: Fields left out of the JSON when None.
    _omit_none: ClassVar[tuple[str, ...]] = ()

    def _json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, info in type(self).model_fields.items():
            value = getattr(self, name)
            if value is None and name in self._omit_none:
                continue
            out[info.alias or name] = to_data(value)
        return out


def to_data(value: Any) -> Any:
    if isinstance(value, _M):
        return value._json()
    if isinstance(value, list):
        return [to_data(v) for v in value]
    if isinstance(value, dict):
        return {k: to_data(v) for k, v in value.items()}
    return value


def make(cls: type[_M], **fields: Any) -> Any:
    """An instance from trusted values, defaults filled in, without running validation."""
    return cls.model_construct(**fields)


class TargetInfo(_M):
    type: str
    region: str | None = None
    cluster_name: str | None = None
    context: str | None = None
    cloud: str | None = None

    _omit_none = ("region", "cluster_name", "context", "cloud")


class Replicas(_M):
    min: int
    max: int
    initial: int


class GpuPerReplica(_M):
    type: str
    per_replica: int


class WorkersPlan(_M):
    group: str
    min: int
    max: int
    cpu: str
    memory: str
    gpus: int
    node_selector: dict[str, str]
    instance_types: list[str]


class ServicePlan(_M):
    name: str
    type: str
    mode: str
    image: str
    replicas: Replicas
    gpu: GpuPerReplica | None
    endpoint: str
    #: The service kind's own fields (e.g. an LLM's served_model_name, model, openai_base_url).
    details: dict[str, Any] = Field(default_factory=dict)
    workers: WorkersPlan | None = None
    notes: list[str] = Field(default_factory=list)
    #: What the service runs, in a few words, for the table and Markdown views (not in the JSON).
    summary: str = Field("", exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _gather_details(cls, data: Any) -> Any:
        # Read back from JSON, the kind's fields sit beside the common ones: gather them again.
        if isinstance(data, dict) and "details" not in data:
            known = set(cls.model_fields)
            data = {**{k: v for k, v in data.items() if k in known}, "details": {k: v for k, v in data.items() if k not in known}}
        return data

    def _json(self) -> dict[str, Any]:
        # The kind's fields sit beside the common ones; workers only when the service has a worker group.
        out: dict[str, Any] = {k: to_data(getattr(self, k)) for k in ("name", "type", "mode", "image", "replicas", "gpu", "endpoint")}
        out.update(to_data(self.details))
        if self.workers is not None:
            out["workers"] = to_data(self.workers)
        out["notes"] = list(self.notes)
        return out


class ChartResource(_M):
    component: str
    type: str = "helm-chart"
    name: str
    namespace: str
    chart: str
    version: str


class ObjectResource(_M):
    component: str
    kind: str
    api_version: str = Field(alias="apiVersion")
    name: str
    namespace: str | None
    protected: bool


class SecretPlan(_M):
    name: str
    keys: list[str]
    used_by: list[str]
    description: str


class SizingPlan(_M):
    """The memory model of one replica (stackdef.memory), on its tightest GPU."""

    model: str | None
    gpu: str
    gpus: int
    tensor_parallel: int
    pipeline_parallel: int
    max_model_len: int
    max_num_seqs: int
    max_num_batched_tokens: int
    #: Per GPU: what vLLM may use (total × gpu_memory_utilization) and each term it takes.
    usable_gib: float
    weights_gib: float
    activation_gib: float
    non_torch_gib: float
    cuda_graphs_gib: float
    kv_cache_gib: float
    #: KV one max_model_len request needs, and what is left after it.
    one_request_gib: float
    headroom_gib: float
    #: Under 5% of the usable memory to spare.
    tight: bool
    #: Load a replica holds: KV-cache slots and how many max_model_len requests fit at once.
    kv_tokens: int
    max_concurrency: float


class ColdStartTerm(_M):
    name: str
    seconds: float | None
    basis: str


class ColdStartPlan(_M):
    """Zero to a first ready replica (stackdef.coldstart), term by term with its basis."""

    terms: list[ColdStartTerm]
    #: None when a term is unknown; then ``at_least_s`` is a lower bound.
    total_s: float | None
    at_least_s: float
    #: The same while the model cache is still empty (None without a cache).
    first_start_s: float | None


class FixedCost(_M):
    item: str
    monthly_usd: float


class PoolCost(_M):
    item: str
    baseline_monthly_usd: float
    ceiling_monthly_usd: float


class CutPlan(_M):
    from_max_replicas: int
    to_max_replicas: int
    saved_monthly_usd: float
    reason: str


class RunnerUpPlan(_M):
    instance_type: str
    gpu: str
    gpus_per_replica: int
    replicas_per_node: int
    usd_per_node_hour: float
    baseline_monthly_usd: float | None
    ceiling_monthly_usd: float


class ServiceCost(_M):
    name: str
    instance_type: str | None
    gpu: str | None
    gpus_per_replica: int
    min_replicas: int
    max_replicas: int
    replicas_per_node: int | None
    usd_per_node_hour: float | None
    usd_per_replica_hour: float | None
    baseline_monthly_usd: float | None
    ceiling_monthly_usd: float | None
    baseline_is_head_only: bool
    #: Its persistent volumes (a model cache), included in baseline and ceiling.
    volumes_monthly_usd: float = 0.0
    cut: CutPlan | None
    runner_ups: list[RunnerUpPlan]


class CostPlan(_M):
    currency: str = "USD"
    hours_per_month: int
    priced_region: str | None
    baseline_monthly_usd: float | None
    ceiling_monthly_usd: float | None
    fixed_monthly_usd: float
    fixed: list[FixedCost]
    cpu_pool: list[PoolCost]
    budget_monthly_usd: float | None
    services: list[ServiceCost]
    #: Each layer's pods, billed in the CPU pool like the services (item: "<layer> layer").
    layers: list[PoolCost] = Field(default_factory=list)


class Requests(_M):
    cpu: float
    memory_gib: float
    gpus: int


class RequestsPlan(_M):
    baseline: Requests
    ceiling: Requests


class WarningPlan(_M):
    path: str
    problem: str
    fix: str


class Plan(_M):
    api_version: str = Field(alias="apiVersion")
    stack: str
    namespace: str
    target: TargetInfo
    services: list[ServicePlan]
    resources: list[ChartResource | ObjectResource]
    secrets: list[SecretPlan]
    sizing: dict[str, SizingPlan]
    cold_start: dict[str, ColdStartPlan]
    cost: CostPlan
    requests: RequestsPlan
    cluster_needs: list[str]
    #: Images no public registry has: the stack's owner builds and pushes them before deploy.
    images_to_provide: list[str]
    target_unsupported: list[str]
    target_notes: list[str]
    warnings: list[WarningPlan]
    #: Each layer's section, by layer name (absent when the stack uses no layer).
    layers: dict[str, Any] = Field(default_factory=dict)

    def _json(self) -> dict[str, Any]:
        d = super()._json()
        if not d["layers"]:
            del d["layers"]
        return d

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form (``plan --format json``)."""
        return self._json()

    def to_view(self) -> dict[str, Any]:
        """The JSON form plus what only the table and Markdown views show (each service's summary)."""
        doc = self.to_json()
        for entry, s in zip(doc["services"], self.services, strict=True):
            entry["summary"] = s.summary
        return doc

    def service(self, name: str) -> ServicePlan:
        return next(s for s in self.services if s.name == name)
