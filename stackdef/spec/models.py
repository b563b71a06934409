"""The stack spec: pydantic v2 models, no I/O.

Every field has a description (``stackdef schema`` publishes them), every
variant is a discriminated union (``type``), and every cross-field rule is a
validator named after the rule it enforces. Rule violations raise
``ValueError`` whose text reads ``what is wrong (how to fix)``; the loader turns
them into ``SOURCE: field.path: problem (fix)`` lines.

Later layers (budgets, data validation, feature store, monitoring) are added
as new optional fields on :class:`Stack`; ``extra="forbid"`` today means a
typo is caught now and a new field never breaks an old spec.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from stackdef.catalog.gpus import GPU_NAMES
from stackdef.versions import API_VERSION, KIND_NODE_IMAGE

# --------------------------------------------------------------------------- #
# Shared constrained types
# --------------------------------------------------------------------------- #

_DNS1035 = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
_DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
_QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"

ServiceName = Annotated[
    str,
    Field(
        pattern=_DNS1035,
        max_length=40,
        description="Service name: lower-case letters, digits and '-', starting with a letter, "
        "at most 40 characters (it prefixes every Kubernetes name of the service).",
    ),
]
Quantity = Annotated[
    str,
    Field(
        pattern=_QUANTITY,
        description="A Kubernetes quantity, e.g. '500m', '2', '8Gi'.",
    ),
]
K8sName = Annotated[
    str,
    Field(pattern=_DNS1123_SUBDOMAIN, max_length=253, description="A Kubernetes object name."),
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
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        # pydantic itself calls __new__ without arguments; only a user's call carries fields.
        if kwargs and _DRAFTING.get():
            return Draft(cls, kwargs)
        return super().__new__(cls)


def _check_image(image: str) -> str:
    """Images must be pinned: a tag other than ``latest``, or a digest."""
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
    keys: list[str] = Field(
        min_length=1,
        description="Keys the Secret must contain. Values are set outside the spec "
        "(`kubectl create secret`, or `pulumi config set --secret`), never in it.",
    )
    description: str = Field("", description="What the secret is for (shown in `plan`).")


class SecretRef(_Base):
    """A reference to one key of a declared Secret."""

    secret: K8sName = Field(description="Name of a Secret declared in `secrets`.")
    key: str = Field(min_length=1, description="Key inside that Secret.")


# --------------------------------------------------------------------------- #
# Targets
# --------------------------------------------------------------------------- #


class Toleration(_Base):
    """A pod toleration, as in the Kubernetes API."""

    key: str = Field(description="Taint key to tolerate, e.g. 'nvidia.com/gpu'.")
    operator: Literal["Exists", "Equal"] = Field("Exists", description="Exists or Equal.")
    value: str | None = Field(None, description="Taint value (only with operator Equal).")
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

    label_key: str | None = Field(
        "nvidia.com/gpu.product",
        description="Node label whose value names the GPU model (GPU Feature Discovery's "
        "'nvidia.com/gpu.product' by default); null selects GPU nodes by `labels` only.",
    )
    label_values: dict[GpuName, str] = Field(  # type: ignore[valid-type]
        default_factory=dict,
        description="Per GPU type, the value of `label_key` on this cluster, overriding the "
        "catalog's GPU Feature Discovery name (e.g. {L4: NVIDIA-L4}).",
    )
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="Extra node labels every GPU worker must match (e.g. a node-pool label).",
    )
    tolerations: list[Toleration] = Field(
        default_factory=lambda: [Toleration(key="nvidia.com/gpu")],
        description="Tolerations for GPU node taints (default: tolerate 'nvidia.com/gpu').",
    )


class KindTarget(_Base):
    """A local kind cluster: CPU profile, no GPUs, cost 0."""

    type: Literal["kind"] = Field(description="Discriminator: a local kind cluster.")
    cluster_name: str = Field(
        "stackdef", pattern=_DNS1123_LABEL, max_length=40, description="kind cluster name."
    )
    node_image: str = Field(
        KIND_NODE_IMAGE, description="kind node image, pinned by digest (kind v0.32.0 default)."
    )

    @field_validator("node_image")
    @classmethod
    def check_image_pinned(cls, v: str) -> str:
        return _check_image(v)


class ExistingTarget(_Base):
    """Any cluster reachable with a kubeconfig."""

    type: Literal["existing"] = Field(description="Discriminator: an existing cluster.")
    kubeconfig: str | None = Field(
        None, description="Path to the kubeconfig file; default: $KUBECONFIG or ~/.kube/config."
    )
    context: str | None = Field(None, description="kubeconfig context; default: current context.")
    gpu_nodes: GpuNodes = Field(
        default_factory=GpuNodes, description="How GPU nodes are labelled and tainted on this cluster."
    )
    cloud: Literal["aws", "gcp", "azure"] | None = Field(
        None, description="Cloud the cluster runs on, for pricing only."
    )
    region: str | None = Field(None, description="Cloud region, for pricing only.")


class _CloudTarget(_Base):
    region: str = Field(pattern=r"^[a-z]+(-[a-z0-9]+)+$|^[a-z]+[0-9]?$", description="Cloud region.")
    cluster_name: str | None = Field(
        None, pattern=_DNS1123_LABEL, max_length=40, description="Cluster name; default: the stack name."
    )
    gpu_nodes: GpuNodes | None = Field(
        None, description="Override how GPU nodes are labelled and tainted (default: the cloud's own labels)."
    )


class EksTarget(_CloudTarget):
    """Amazon EKS (GPU nodes labelled by Karpenter). Planned and rendered; cluster creation comes later."""

    type: Literal["eks"] = Field(description="Discriminator: Amazon EKS.")


class GkeTarget(_CloudTarget):
    """Google GKE Standard. Planned and rendered; cluster creation comes later."""

    type: Literal["gke"] = Field(description="Discriminator: Google GKE.")


class AksTarget(_CloudTarget):
    """Azure AKS. Planned and rendered; cluster creation comes later."""

    type: Literal["aks"] = Field(description="Discriminator: Azure AKS.")


Target = Annotated[
    Union[KindTarget, ExistingTarget, EksTarget, GkeTarget, AksTarget],
    Field(discriminator="type"),
]

# --------------------------------------------------------------------------- #
# Service building blocks
# --------------------------------------------------------------------------- #


class Autoscaling(_Base):
    """Ray Serve autoscaling for one deployment (replica bounds and reaction speed)."""

    min_replicas: int = Field(1, ge=0, description="Fewest replicas; 0 scales to zero when idle.")
    max_replicas: int = Field(1, ge=1, description="Most replicas.")
    initial_replicas: int | None = Field(
        None, ge=0, description="Replicas at deploy time; default: min_replicas."
    )
    target_ongoing_requests: float = Field(
        2.0, gt=0, description="Ongoing requests per replica the autoscaler aims for."
    )
    upscale_delay_s: float = Field(30.0, ge=0, description="Seconds of sustained load before scaling up.")
    downscale_delay_s: float = Field(
        600.0, ge=0, description="Seconds of low load before scaling down (and to zero)."
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


_ENGINE_TYPED = {
    "dtype",
    "quantization",
    "max_model_len",
    "tensor_parallel_size",
    "pipeline_parallel_size",
    "gpu_memory_utilization",
    "max_num_seqs",
}
# Keys stackdef sets itself; letting `extra` set them would desynchronise
# sizing, scheduling and the served name.
_ENGINE_RESERVED = {"model", "served_model_name", "device", "download_dir", "distributed_executor_backend"}


class EngineArgs(_Base):
    """vLLM engine arguments (names as in vLLM's ``EngineArgs``)."""

    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        "auto", description="Weight and activation dtype."
    )
    quantization: Literal["awq", "gptq", "fp8", "bitsandbytes", "compressed-tensors"] | None = Field(
        None, description="Quantization method of the checkpoint, if any."
    )
    max_model_len: int | None = Field(
        None, ge=16, description="Context length (prompt + output tokens); default: the model's own."
    )
    tensor_parallel_size: int = Field(1, ge=1, le=64, description="GPUs a layer is split across.")
    pipeline_parallel_size: int = Field(1, ge=1, le=64, description="Pipeline stages.")
    gpu_memory_utilization: float = Field(
        0.9, gt=0, le=1, description="Share of each GPU's memory vLLM may use."
    )
    max_num_seqs: int | None = Field(None, ge=1, description="Most sequences batched at once.")
    extra: dict[str, Any] = Field(
        default_factory=dict,
        description="Further vLLM engine arguments passed unchanged (snake_case names); "
        "checked by vLLM's own parser in deep validation.",
    )

    @field_validator("extra")
    @classmethod
    def check_extra_keys_not_reserved(cls, extra: dict[str, Any]) -> dict[str, Any]:
        for key in sorted(extra):
            if not re.fullmatch(r"[a-z][a-z0-9_]*", key):
                raise ValueError(f"engine argument {key!r} is not a snake_case name (write e.g. 'enable_prefix_caching')")
            if key in _ENGINE_TYPED:
                raise ValueError(f"{key!r} is a typed field (set engine.{key} instead of engine.extra.{key})")
            if key in _ENGINE_RESERVED:
                raise ValueError(f"{key!r} is set by stackdef (remove it from engine.extra)")
        return extra


class Accelerator(_Base):
    """GPUs for one replica of an LLM service."""

    type: Literal[GPU_NAMES + ("auto",)] = Field(  # type: ignore[valid-type]
        "auto",
        description="GPU type, named as Ray names accelerator types "
        f"({', '.join(GPU_NAMES)}), or 'auto': the planner picks the cheapest GPU type, count and "
        "instance type of the target's price catalog that fits the model.",
    )
    gpus_per_replica: int | None = Field(
        None,
        ge=1,
        description="GPUs per replica; must equal tensor × pipeline parallel size (default: that product, "
        "or the planner's choice with type auto).",
    )


class ModelArchitecture(_Base):
    """Architecture of a model missing from stackdef's catalog, for GPU sizing."""

    params: int = Field(ge=1, description="Total parameter count (all experts for MoE), e.g. 7615616512.")
    layers: int = Field(ge=1, description="Transformer layers (num_hidden_layers).")
    hidden_size: int = Field(ge=1, description="Hidden size.")
    attention_heads: int = Field(ge=1, description="Attention (query) heads.")
    kv_heads: int = Field(ge=1, description="Key/value heads (num_key_value_heads).")
    head_dim: int | None = Field(None, ge=1, description="Head dimension; default hidden_size / attention_heads.")
    max_context: int = Field(ge=16, description="max_position_embeddings.")
    vocab_size: int | None = Field(None, ge=1, description="Vocabulary size (embeddings stay 16-bit when quantized).")
    tie_word_embeddings: bool = Field(False, description="Whether the LM head shares the input embedding.")
    experts: int | None = Field(None, ge=1, description="Experts (MoE models), for the plan only.")


class Budget(_Base):
    """A monthly spending limit and what to do when the ceiling would exceed it."""

    monthly_usd: float = Field(gt=0, description="Monthly budget in USD (730 hours).")
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
        description="CSV of extra or overriding instance prices, relative to the spec file. Columns: provider, "
        "instance_type, region, vcpu, ram_gib, usd_per_hour (optional: gpu_model, gpu_count, price_source_url, "
        "price_source_date), as in the built-in catalog stackdef/catalog/data/gpu_prices.csv.",
    )


class WorkerSize(_Base):
    """CPU and memory of one Ray worker pod (one replica per pod).

    On priced targets, leave it unset: stackdef gives each replica its share of
    the chosen instance. Set, it must fit that share.
    """

    cpu: Quantity = Field("8", description="CPU request and limit.")
    memory: Quantity = Field("32Gi", description="Memory request and limit.")


class ModelCache(_Base):
    """A PersistentVolumeClaim holding downloaded weights, so scale-from-zero does not re-download."""

    size: Quantity = Field("100Gi", description="Storage size.")
    storage_class: str | None = Field(
        None,
        description="StorageClass; default per target: eks efs-sc (ReadWriteMany, needs the EFS CSI driver) or "
        "ebs-sc, gke standard-rwx (needs the Filestore CSI driver) or standard-rwo, aks azurefile-csi or "
        "managed-csi, kind and existing the cluster's default. `plan` says what the cluster must provide.",
    )
    access_mode: Literal["ReadWriteMany", "ReadWriteOnce"] | None = Field(
        None,
        description="ReadWriteMany lets every replica share the cache (default where the target offers it); "
        "ReadWriteOnce mounts on one node only (kind's local-path provisioner offers nothing else).",
    )


class CpuProfile(_Base):
    """What an LLM service runs on the kind target, where there are no GPUs."""

    source: str = Field(
        "Qwen/Qwen2.5-0.5B-Instruct", description="A small model that runs on CPU (Hugging Face id)."
    )
    max_model_len: int = Field(2048, ge=16, description="Context length on CPU.")
    max_num_seqs: int = Field(4, ge=1, description="Concurrent sequences on CPU.")
    cpu: Quantity = Field(
        "3", description="CPU request and limit of the vLLM pod (one core goes to vLLM's scheduler, the rest to the engine)."
    )
    memory: Quantity = Field("4Gi", description="Memory request and limit of the vLLM pod.")
    kv_cache_gib: int = Field(1, ge=1, description="VLLM_CPU_KVCACHE_SPACE in GiB (must fit in memory).")


_SOURCE = re.compile(r"^(?:(s3|gs)://[a-z0-9][-a-z0-9._]{1,61}[a-z0-9](/[^\s]*)?|pvc://[a-z0-9]([-a-z0-9]*[a-z0-9])?(/[^\s]*)?|[A-Za-z0-9][-\w.]*/[-\w.]+)$")


class LLMService(_Base):
    """An LLM served by vLLM through Ray Serve LLM on a KubeRay RayService."""

    type: Literal["llm"] = Field(description="Discriminator: an LLM service.")
    name: ServiceName
    source: str = Field(
        description="Where the weights come from: a Hugging Face id ('Qwen/Qwen2.5-7B-Instruct'), "
        "an object-store prefix ('s3://bucket/path', 'gs://bucket/path'), or a PVC ('pvc://claim/path')."
    )
    served_model_name: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][-\w.]*$",
        description="Model name clients send in OpenAI requests; default: the source's last path part, lower-cased.",
    )
    engine: EngineArgs = Field(default_factory=EngineArgs, description="vLLM engine arguments.")
    accelerator: Accelerator = Field(
        default_factory=Accelerator, description="GPU type and count per replica (default: auto)."
    )
    architecture: str | ModelArchitecture | None = Field(
        None,
        description="For GPU sizing: a catalog model name (e.g. 'Qwen2.5-7B-Instruct') or an inline "
        "architecture; default: looked up from `source`.",
    )
    budget: Budget | None = Field(None, description="Monthly budget of this service alone.")
    autoscaling: Autoscaling = Field(default_factory=Autoscaling, description="Replica bounds.")
    max_ongoing_requests: int | None = Field(
        None, ge=1, description="Requests a replica accepts at once; default: 2 × target_ongoing_requests."
    )
    worker: WorkerSize = Field(default_factory=WorkerSize, description="CPU and memory of each GPU worker pod.")
    hf_token: SecretRef | None = Field(
        None, description="Secret key holding a Hugging Face token (needed for gated models)."
    )
    model_cache: ModelCache | None = Field(
        None, description="Persistent weight cache; recommended when min_replicas is 0."
    )
    cpu_profile: CpuProfile = Field(
        default_factory=CpuProfile, description="What runs instead on the kind target (CPU only)."
    )
    loading_timeout_s: int = Field(
        1800,
        ge=60,
        le=86400,
        description="Seconds a new cluster may take to download and load the model before KubeRay "
        "gives up (ray.io/initializing-timeout) and the CPU profile's startup probe fails.",
    )

    @field_validator("source")
    @classmethod
    def check_source_form(cls, v: str) -> str:
        if not _SOURCE.match(v):
            raise ValueError(
                f"source {v!r} is not a Hugging Face id, s3://, gs:// or pvc:// path "
                "(write e.g. 'Qwen/Qwen2.5-7B-Instruct' or 's3://bucket/models/qwen')"
            )
        return v

    @model_validator(mode="after")
    def check_gpus_match_parallelism(self) -> LLMService:
        # Only a contradiction between values the user wrote is an error: an
        # unset tensor_parallel_size follows gpus_per_replica (and vice versa).
        explicit = {"tensor_parallel_size", "pipeline_parallel_size"} & self.engine.model_fields_set
        need = self.engine.tensor_parallel_size * self.engine.pipeline_parallel_size
        have = self.accelerator.gpus_per_replica
        if have is not None and explicit and have != need:
            raise ValueError(
                f"accelerator.gpus_per_replica is {have} but tensor_parallel_size × pipeline_parallel_size "
                f"is {need} (set gpus_per_replica to {need}, or change the parallelism)"
            )
        if have is not None and have % self.engine.pipeline_parallel_size:
            raise ValueError(
                f"accelerator.gpus_per_replica {have} is not a multiple of pipeline_parallel_size "
                f"{self.engine.pipeline_parallel_size} (make it one)"
            )
        return self


class ImageCode(_Base):
    """The application code is already inside the container image."""

    source: Literal["image"] = Field(description="Discriminator: code baked into `image`.")


class LocalCode(_Base):
    """A local directory shipped with the stack as a ConfigMap (small pure-Python apps)."""

    source: Literal["local"] = Field(description="Discriminator: a local directory.")
    path: str = Field(description="Directory, relative to the spec file (≤ 512 KiB of text files).")


class RemoteCode(_Base):
    """A zip archive Ray downloads as the application's working_dir."""

    source: Literal["remote"] = Field(description="Discriminator: a remote working_dir.")
    working_dir: str = Field(
        pattern=r"^(s3|gs|https)://\S+\.zip$",
        description="URI of a .zip with the application (s3://, gs:// or https://).",
    )


CodeSource = Annotated[Union[ImageCode, LocalCode, RemoteCode], Field(discriminator="source")]


class ReplicaResources(_Base):
    """Resources of one model-service replica."""

    cpu: float = Field(1.0, gt=0, le=256, description="CPUs per replica (Ray num_cpus).")
    memory: Quantity = Field("2Gi", description="Memory per replica.")
    gpus: int = Field(0, ge=0, le=8, description="GPUs per replica.")
    accelerator: GpuName | None = Field(  # type: ignore[valid-type]
        None, description="GPU type, required when gpus > 0."
    )

    @model_validator(mode="after")
    def check_accelerator_with_gpus(self) -> ReplicaResources:
        if self.gpus > 0 and self.accelerator is None:
            raise ValueError(f"gpus is {self.gpus} but no accelerator type is set (set accelerator, e.g. L4)")
        if self.gpus == 0 and self.accelerator is not None:
            raise ValueError(f"accelerator {self.accelerator} is set but gpus is 0 (set gpus ≥ 1 or drop accelerator)")
        return self


class ModelService(_Base):
    """A classic model served by a Ray Serve application from an import path."""

    type: Literal["model"] = Field(description="Discriminator: a Ray Serve model service.")
    name: ServiceName
    import_path: str = Field(
        pattern=r"^[A-Za-z_][\w.]*[:.][A-Za-z_]\w*$",
        description="Ray Serve import path of the bound application, 'module:attribute'.",
    )
    deployment: str = Field(
        pattern=r"^[A-Za-z_][\w\-]*$",
        description="Name of the app's deployment that stackdef sizes and autoscales "
        "(the @serve.deployment class name unless the app renames it).",
    )
    image: str | None = Field(
        None, description="Container image (pinned tag or digest); default: the pinned rayproject/ray image."
    )
    code: CodeSource = Field(
        default_factory=lambda: ImageCode(source="image"), description="Where the application code comes from."
    )
    args: dict[str, Any] = Field(default_factory=dict, description="Arguments passed to the application builder.")
    pip: list[str] = Field(
        default_factory=list,
        description="Extra pip requirements installed by Ray's runtime_env (prefer baking them into the image).",
    )
    env: dict[str, str] = Field(default_factory=dict, description="Plain environment variables (no secrets).")
    secret_env: dict[str, SecretRef] = Field(
        default_factory=dict, description="Environment variables read from declared Secrets."
    )
    resources: ReplicaResources = Field(default_factory=ReplicaResources, description="Per-replica resources.")
    autoscaling: Autoscaling = Field(default_factory=Autoscaling, description="Replica bounds.")
    max_ongoing_requests: int = Field(5, ge=1, description="Requests a replica accepts at once.")
    budget: Budget | None = Field(None, description="Monthly budget of this service alone.")
    route_prefix: str = Field("/", pattern=r"^/[\w\-/]*$", description="HTTP route prefix of the app.")

    @field_validator("image")
    @classmethod
    def check_image_pinned(cls, v: str | None) -> str | None:
        return None if v is None else _check_image(v)

    @field_validator("env", "secret_env")
    @classmethod
    def check_env_names(cls, v: dict[str, Any]) -> dict[str, Any]:
        for key in sorted(v):
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                raise ValueError(f"{key!r} is not a valid environment variable name (use letters, digits and '_')")
        return v


Service = Annotated[Union[LLMService, ModelService], Field(discriminator="type")]


class Network(_Base):
    """Who may reach the stack's services (NetworkPolicies admit nothing else)."""

    allow_from_namespaces: list[Annotated[str, Field(pattern=_DNS1123_LABEL)]] = Field(
        default_factory=list,
        description="Other namespaces whose pods may call the services' HTTP endpoints "
        "(the stack's own namespace always may).",
    )
    operator_namespace: str = Field(
        "kuberay-system",
        pattern=_DNS1123_LABEL,
        description="Namespace of the KubeRay operator, which polls each Ray head's dashboard.",
    )
    monitoring_namespace: str | None = Field(
        None, pattern=_DNS1123_LABEL, description="Namespace allowed to scrape metrics ports, if any."
    )


# --------------------------------------------------------------------------- #
# The stack
# --------------------------------------------------------------------------- #


class Stack(_Base):
    """A whole ML serving stack: where it runs, what it serves, who may reach it."""

    api_version: Literal[API_VERSION] = Field(  # type: ignore[valid-type]
        API_VERSION, alias="apiVersion", description=f"Spec version; this release reads {API_VERSION}."
    )
    kind: Literal["Stack"] = Field("Stack", description="Always 'Stack'.")
    name: str = Field(
        pattern=_DNS1123_LABEL, max_length=40, description="Stack name (DNS label, ≤ 40 characters)."
    )
    namespace: str | None = Field(
        None, pattern=_DNS1123_LABEL, max_length=63, description="Kubernetes namespace; default: the stack name."
    )
    target: Target = Field(description="Where the stack runs: kind, existing, eks, gke or aks.")
    secrets: list[SecretDecl] = Field(
        default_factory=list, description="Secrets the stack reads (declared here, values set elsewhere)."
    )
    services: list[Service] = Field(min_length=1, description="LLM and model services.")
    network: Network = Field(default_factory=Network, description="Network access rules.")
    labels: dict[str, str] = Field(default_factory=dict, description="Labels added to every object.")
    budget: Budget | None = Field(
        None, description="Monthly budget of the whole stack (services plus the cluster's fixed costs)."
    )
    pricing: Pricing = Field(default_factory=Pricing, description="Where instance prices come from.")

    @property
    def resolved_namespace(self) -> str:
        return self.namespace or self.name
