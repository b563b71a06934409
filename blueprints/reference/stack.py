"""Reference stack: one LLM service and one classic model service.

- ``chat``: Qwen2.5-7B-Instruct through vLLM (Ray Serve LLM) on one L4 per
  replica (14.2 GiB of weights + 3.5 GiB KV cache for 8 × 8,192 tokens + 1.5 GiB
  overhead ≤ 22,888 MiB × 0.9), scaling 0–4 replicas, weights cached on a PVC so scale-from-zero
  does not re-download them. On kind it runs the CPU profile instead
  (Qwen2.5-0.5B-Instruct on a plain vLLM CPU pod).
- ``sentiment``: a Ray Serve app from an import path (``app/sentiment.py``,
  shipped with the stack), 1–3 CPU replicas.

``build(target)`` makes the same stack for any target; ``stack`` is the kind
variant (the README's main job) and ``stack_eks.py`` the EKS one.
"""

from __future__ import annotations

from stackdef.spec import (
    Accelerator,
    Autoscaling,
    EngineArgs,
    KindTarget,
    LLMService,
    LocalCode,
    ModelCache,
    ModelService,
    ReplicaResources,
    SecretDecl,
    SecretRef,
    Stack,
)


def build(target, name: str = "reference") -> Stack:
    return Stack(
        name=name,
        target=target,
        secrets=[SecretDecl(name="hf-token", keys=["token"], description="Hugging Face access token")],
        services=[
            LLMService(
                type="llm",
                name="chat",
                source="Qwen/Qwen2.5-7B-Instruct",
                engine=EngineArgs(dtype="bfloat16", max_model_len=8192, gpu_memory_utilization=0.9, max_num_seqs=8),
                accelerator=Accelerator(type="L4", gpus_per_replica=1),
                autoscaling=Autoscaling(min_replicas=0, max_replicas=4, target_ongoing_requests=6),
                hf_token=SecretRef(secret="hf-token", key="token"),
                model_cache=ModelCache(size="50Gi"),
            ),
            ModelService(
                type="model",
                name="sentiment",
                import_path="sentiment:app",
                deployment="Sentiment",
                code=LocalCode(source="local", path="app"),
                resources=ReplicaResources(cpu=1, memory="1Gi"),
                autoscaling=Autoscaling(min_replicas=1, max_replicas=3, target_ongoing_requests=4),
                route_prefix="/",
            ),
        ],
    )


stack = build(KindTarget(type="kind"))
