"""The ``model`` service kind's spec: a Ray Serve application from an import path."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from stackdef.spec.base import Autoscaling, Budget, GpuName, Quantity, SecretRef, ServiceName, _Base, check_image, plain_value


class ImageCode(_Base):
    """The application code is already inside the container image."""

    source: Literal["image"] = Field(description="Discriminator: code baked into `image`.")


class LocalCode(_Base):
    """A local directory shipped with the stack as a ConfigMap (small pure-Python apps)."""

    source: Literal["local"] = Field(description="Discriminator: a local directory.")
    path: str = Field(
        max_length=1024,
        pattern=r"^[^\x00-\x1f/][^\x00-\x1f]*$",
        description="Directory inside the spec file's folder tree, written relative to the spec file "
        "(at most 512 KiB of text files, 500 files).",
    )


class RemoteCode(_Base):
    """A zip archive Ray downloads as the application's working_dir."""

    source: Literal["remote"] = Field(description="Discriminator: a remote working_dir.")
    working_dir: str = Field(
        pattern=r"^(s3|gs|https)://\S+\.zip$",
        description="URI of a .zip with the application (s3://, gs:// or https://).",
    )


CodeSource = Annotated[ImageCode | LocalCode | RemoteCode, Field(discriminator="source")]


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
        max_length=256,
        default_factory=list,
        description="Extra pip requirements installed by Ray's runtime_env (prefer baking them into the image).",
    )
    env: dict[str, str] = Field(default_factory=dict, max_length=256, description="Plain environment variables (no secrets).")
    secret_env: dict[str, SecretRef] = Field(
        default_factory=dict, description="Environment variables read from declared Secrets."
    )
    resources: ReplicaResources = Field(default_factory=ReplicaResources, description="Per-replica resources.")
    autoscaling: Autoscaling = Field(default_factory=Autoscaling, description="Replica bounds.")
    max_ongoing_requests: int = Field(5, ge=1, le=10**6, description="Requests a replica accepts at once.")
    budget: Budget | None = Field(None, description="Monthly budget of this service alone.")
    route_prefix: str = Field("/", pattern=r"^/[\w\-/]*$", description="HTTP route prefix of the app.")

    @field_validator("image")
    @classmethod
    def check_image_pinned(cls, v: str | None) -> str | None:
        return None if v is None else check_image(v)

    @field_validator("args")
    @classmethod
    def check_args_are_plain(cls, v: dict[str, Any]) -> dict[str, Any]:
        if not plain_value(v):
            raise ValueError("args hold a value a Serve config cannot carry (use strings, finite numbers, booleans, or small lists and mappings of them)")
        return v

    @field_validator("env", "secret_env")
    @classmethod
    def check_env_names(cls, v: dict[str, Any]) -> dict[str, Any]:
        for key in sorted(v):
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                raise ValueError(f"{key!r} is not a valid environment variable name (use letters, digits and '_')")
        return v
