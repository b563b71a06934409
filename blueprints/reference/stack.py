"""Reference stack: one LLM service, one classic model service, and validated features.

- ``chat``: Qwen2.5-7B-Instruct through vLLM (Ray Serve LLM) on one L4 per replica
  (14.2 GiB of weights, ~1.5 GiB for activations, non-torch memory and CUDA graphs, and
  ~4 GiB of KV cache — about ten 8,192-token requests at once — of 22,888 MiB × 0.9;
  `stackdef cost` shows every term), scaling 0–4 replicas, weights cached on a PVC so
  scale-from-zero does not re-download them. On kind it runs the CPU profile instead
  (Qwen2.5-0.5B-Instruct on a plain vLLM CPU pod).
- ``sentiment``: a Ray Serve app from an import path (``app/sentiment.py``, shipped with
  the stack), 1–3 CPU replicas; it reads the ``user-stats`` features from the feature store.
- ``data``: two datasets validated on a schedule (pandera), and a Feast feature store over
  one of them: Redis online store, the ``user-stats`` feature view (production stage:
  validated source, owner, freshness SLA, materialization that validates first) and the
  ``sentiment-v1`` feature service the sentiment service reads.

``build(target)`` makes the same stack for any target; ``stack`` is the kind
variant (the README's main job) and ``stack_eks.py`` the EKS one.
"""

from __future__ import annotations

from stackdef.layers.data.spec import (
    Checks,
    ColumnCheck,
    DataSection,
    Dataset,
    DataVolume,
    Entity,
    FeatureService,
    FeatureSource,
    FeatureStore,
    FeatureView,
    FileSource,
    Freshness,
    InClusterRedis,
    Materialization,
    RowCount,
)
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
        secrets=[
            SecretDecl(name="hf-token", keys=["token"], description="Hugging Face access token"),
            SecretDecl(name="feast-redis", keys=["password"], description="Password of the feature store's Redis"),
        ],
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
        data=data(),
    )


def data() -> DataSection:
    return DataSection(
        volume=DataVolume(size="10Gi"),
        datasets=[
            Dataset(
                name="reviews",
                source=FileSource(type="file", path="reviews/reviews.parquet"),
                checks=Checks(
                    columns={
                        "review_id": ColumnCheck(dtype="string", unique=True),
                        "user_id": ColumnCheck(dtype="int64", min=1),
                        "rating": ColumnCheck(dtype="int64", min=1, max=5),
                        "text": ColumnCheck(dtype="string", max_null_fraction=0.01),
                        "event_timestamp": ColumnCheck(dtype="timestamp"),
                    },
                    rows=RowCount(min=1),
                    freshness=Freshness(column="event_timestamp", max_age="1d"),
                ),
                schedule="0 * * * *",
                on_failure="alert",
            ),
            Dataset(
                name="user-stats",
                source=FileSource(type="file", path="features/user_stats.parquet"),
                checks=Checks(
                    columns={
                        "user_id": ColumnCheck(dtype="int64", min=1),
                        "review_count_30d": ColumnCheck(dtype="int64", min=0),
                        "avg_rating_30d": ColumnCheck(dtype="float64", min=1, max=5),
                        "event_timestamp": ColumnCheck(dtype="timestamp"),
                    },
                    rows=RowCount(min=1),
                    freshness=Freshness(column="event_timestamp", max_age="2h"),
                ),
                schedule="*/30 * * * *",
                on_failure="block",
            ),
        ],
        feature_store=FeatureStore(
            project="reference",
            online_store=InClusterRedis(type="redis", password=SecretRef(secret="feast-redis", key="password")),
            entities=[Entity(name="user", join_keys=["user_id"], description="A user who writes reviews.")],
            feature_views=[
                FeatureView(
                    name="user-stats",
                    entities=["user"],
                    source=FeatureSource(dataset="user-stats", timestamp_field="event_timestamp"),
                    features={"review_count_30d": "int64", "avg_rating_30d": "float64"},
                    ttl="2d",
                    stage="production",
                    owner="ml-platform@example.com",
                    freshness_sla="2h",
                    materialize=Materialization(schedule="15,45 * * * *"),
                    description="A user's reviews over the last 30 days.",
                )
            ],
            feature_services=[
                FeatureService(name="sentiment-v1", feature_views=["user-stats"], consumers=["sentiment"], production=True)
            ],
        ),
    )


stack = build(KindTarget(type="kind"))
