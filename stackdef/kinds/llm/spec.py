"""The ``llm`` service kind's spec: an LLM served by vLLM through Ray Serve LLM."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from stackdef.catalog.gpus import GPU_NAMES
from stackdef.spec.base import Autoscaling, Budget, K8sName, Quantity, SecretRef, ServiceName, _Base, plain_value

_ENGINE_TYPED = {
    "kv_cache_dtype",
    "max_num_batched_tokens",
    "enforce_eager",
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
        None, ge=16, le=2**24, description="Context length (prompt + output tokens); default: the model's own."
    )
    tensor_parallel_size: int = Field(1, ge=1, le=64, description="GPUs a layer is split across.")
    pipeline_parallel_size: int = Field(1, ge=1, le=64, description="Pipeline stages.")
    gpu_memory_utilization: float = Field(
        0.9, gt=0, le=1, description="Share of each GPU's memory vLLM may use."
    )
    max_num_seqs: int | None = Field(
        None, ge=1, le=65536, description="Most sequences batched at once; default: vLLM's for the GPU (256, or 1024 on 80 GB+ GPUs other than A100)."
    )
    max_num_batched_tokens: int | None = Field(
        None,
        ge=16,
        le=2**24,
        description="Most tokens in one forward pass (sets the activation memory vLLM reserves); default: vLLM's for the GPU "
        "(2048, or 8192 on 80 GB+ GPUs other than A100). stackdef passes both limits to vLLM, so sizing matches what runs.",
    )
    enforce_eager: bool = Field(
        False, description="Run without CUDA graphs: frees their memory (~0.85–2 GiB per GPU) for the KV cache, at some speed."
    )
    kv_cache_dtype: Literal["auto", "float16", "bfloat16", "fp8", "fp8_e4m3", "fp8_e5m2"] | None = Field(
        None, description="Data type of the KV cache (fp8 halves it); default: the model's dtype."
    )
    extra: dict[str, Any] = Field(
        default_factory=dict,
        max_length=64,
        description="Further vLLM engine arguments passed unchanged (snake_case names). Sizing reads "
        "enable_chunked_prefill and performance_mode; keys that change GPU memory in other ways are a warning.",
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
            if not plain_value(extra[key]):
                raise ValueError(
                    f"engine.extra.{key} holds a value vLLM cannot take from a config (use strings, finite numbers, "
                    "booleans, or short lists and mappings of them)"
                )
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

    params: int = Field(ge=1, le=10**14, description="Total parameter count (all experts for MoE), e.g. 7615616512.")
    layers: int = Field(ge=1, le=10_000, description="Transformer layers (num_hidden_layers).")
    hidden_size: int = Field(ge=1, le=10**6, description="Hidden size.")
    attention_heads: int = Field(ge=1, le=10_000, description="Attention (query) heads.")
    kv_heads: int = Field(ge=1, le=10_000, description="Key/value heads (num_key_value_heads).")
    head_dim: int | None = Field(None, ge=1, le=65536, description="Head dimension; default hidden_size / attention_heads.")
    max_context: int = Field(ge=16, le=2**24, description="max_position_embeddings.")
    vocab_size: int | None = Field(None, ge=1, le=10**8, description="Vocabulary size (embeddings stay 16-bit when quantized).")
    tie_word_embeddings: bool = Field(False, description="Whether the LM head shares the input embedding.")
    experts: int | None = Field(None, ge=1, le=10_000, description="Experts (MoE models).")
    experts_per_token: int | None = Field(None, ge=1, le=10_000, description="Experts each token is routed to (MoE: num_experts_per_tok).")
    intermediate_size: int | None = Field(
        None,
        ge=1,
        le=10**7,
        description="MLP width (per expert for MoE), as in config.json; needed to check quantized shapes per GPU "
        "and to size activations (default: estimated from params).",
    )


class Checkpoint(_Base):
    """Facts of a quantized checkpoint that sizing and vLLM's shape rules depend on (its config.json)."""

    group_size: int = Field(
        128,
        ge=-1,
        le=4096,
        description="quantization_config.group_size of an AWQ or GPTQ checkpoint (-1: one scale per output channel).",
    )

    prequantized: bool | None = Field(
        None,
        description="Whether the weights are stored quantized. AWQ, GPTQ and compressed-tensors checkpoints are; "
        "fp8 and bitsandbytes may instead be applied to a 16-bit checkpoint as vLLM loads it (default: so for a "
        "catalog model's own repository, stored quantized otherwise).",
    )

    @field_validator("group_size")
    @classmethod
    def check_group_size(cls, v: int) -> int:
        if v == 0:
            raise ValueError("group_size 0 is not a group size (write -1 for per-channel, or e.g. 128)")
        return v


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
    storage_class: K8sName | None = Field(
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
    max_model_len: int = Field(2048, ge=16, le=2**20, description="Context length on CPU.")
    max_num_seqs: int = Field(4, ge=1, le=4096, description="Concurrent sequences on CPU.")
    cpu: Quantity = Field(
        "3", description="CPU request and limit of the vLLM pod (one core goes to vLLM's scheduler, the rest to the engine)."
    )
    memory: Quantity = Field("4Gi", description="Memory request and limit of the vLLM pod.")
    kv_cache_gib: int = Field(1, ge=1, le=4096, description="VLLM_CPU_KVCACHE_SPACE in GiB (must fit in memory).")


_SOURCE = re.compile(r"^(?:(s3|gs)://[a-z0-9][-a-z0-9._]{1,61}[a-z0-9](/[^\s]*)?|pvc://[a-z0-9]([-a-z0-9]*[a-z0-9])?(/[^\s]*)?|[A-Za-z0-9][-\w.]*/[-\w.]+)$")


def _architecture_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "name"
    if isinstance(value, (dict, ModelArchitecture)):
        return "inline"
    return None


#: A catalog model name or an inline architecture; the value's type picks which, so an error
#: names only what is wrong with that form.
ArchitectureRef = Annotated[
    Annotated[str, Field(max_length=256), Tag("name")] | Annotated[ModelArchitecture, Tag("inline")],
    Discriminator(
        _architecture_kind,
        custom_error_type="architecture",
        custom_error_message="architecture must be a catalog model name or a mapping with params, layers, heads, ...",
    ),
]


class LLMService(_Base):
    """An LLM served by vLLM through Ray Serve LLM on a KubeRay RayService."""

    type: Literal["llm"] = Field(description="Discriminator: an LLM service.")
    name: ServiceName
    source: str = Field(
        max_length=1024,
        description="Where the weights come from: a Hugging Face id ('Qwen/Qwen2.5-7B-Instruct'), "
        "an object-store prefix ('s3://bucket/path', 'gs://bucket/path'), or a PVC ('pvc://claim/path')."
    )
    served_model_name: str | None = Field(
        None,
        max_length=253,
        pattern=r"^[A-Za-z0-9][-\w.]*$",
        description="Model name clients send in OpenAI requests; default: the source's last path part, lower-cased.",
    )
    engine: EngineArgs = Field(default_factory=EngineArgs, description="vLLM engine arguments.")
    accelerator: Accelerator = Field(
        default_factory=Accelerator, description="GPU type and count per replica (default: auto)."
    )
    architecture: ArchitectureRef | None = Field(
        None,
        description="For GPU sizing: a catalog model name (e.g. 'Qwen2.5-7B-Instruct') or an inline "
        "architecture; default: looked up from `source`.",
    )
    checkpoint: Checkpoint = Field(
        default_factory=Checkpoint, description="Quantization facts of the checkpoint (group size), for AWQ and GPTQ."
    )
    budget: Budget | None = Field(None, description="Monthly budget of this service alone.")
    autoscaling: Autoscaling = Field(default_factory=Autoscaling, description="Replica bounds.")
    request_timeout_s: int = Field(
        600,
        ge=1,
        le=86400,
        description="How long clients wait for a response (the OpenAI Python client's default is 600 s); `plan` warns "
        "when a scale-from-zero start takes longer. stackdef does not enforce it.",
    )
    max_ongoing_requests: int | None = Field(
        None, ge=1, le=10**6, description="Requests a replica accepts at once; default: 2 × target_ongoing_requests."
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
