"""How long an LLM service takes from zero replicas to its first ready one.

A planning estimate, term by term, every figure with the published measurement it rests on
(the README's sizing section lists them all). Nothing here is measured on the user's cluster:
the point is to see, before deploying, whether scale-to-zero can answer within a client's
timeout, and which term to attack (a model cache, a smaller image, eager mode).

    node       the target's GPU node start (providers: Karpenter, cluster autoscaler, ...)
    image      image size ÷ pull throughput (the node is new, so nothing is cached)
    weights    checkpoint size ÷ download throughput, or ÷ the model cache's read throughput
    compile    vLLM's torch.compile of the model (no compile cache survives a new pod)
    graphs     CUDA-graph capture (0 with enforce_eager)
    engine     the rest of engine start-up and Ray Serve's replica start until the first answer
"""

from __future__ import annotations

from dataclasses import dataclass

from stackdef.providers.base import Figure

MB = 10**6
MIB = 2**20

#: Compressed size of the Ray LLM image: 11.6 GB measured for rayproject/ray-llm:2.52.0-py311-cu128
#: (crictl, a kind lab write-up, 2026-08-11); no figure is published for 2.56, assumed the same.
RAY_LLM_IMAGE = Figure("Ray LLM image (compressed)", 12e9, "11.6 GB measured for ray-llm 2.52.0 (lab write-up, 2026-08-11); 2.56 assumed 12 GB")
#: No size is published for the vLLM CPU image; an assumption.
VLLM_CPU_IMAGE = Figure("vLLM CPU image (compressed)", 3e9, "no published size; assumed 3 GB")
PULL = Figure(
    "image pull",
    96 * MB,
    "aws-samples/karpenter-blueprints soci-snapshotter README: 10,778,400,361 B pulled in 112 s on EKS (96 MB/s)",
)
DOWNLOAD = Figure(
    "weights download (Hugging Face or bucket)",
    100 * MB,
    "assumed 100 MB/s: one CDN connection gives ~60 MB/s (oobabooga/textgen#2841), hf_xet up to 2.2 GB/s "
    "(unslothai/unsloth-zoo#972); 15–20 min for a 70B model without a cache (kserve/kserve#3869)",
)
COMPILE_SMALL = Figure("torch.compile, < 20 B parameters", 30, "28.8 s for an 8B model on H100 (gateway-api-inference-extension#550)")
COMPILE_LARGE = Figure("torch.compile, ≥ 20 B parameters", 70, "~70 s for Llama-70B FP8 TP 8 (vllm-project/vllm#19824)")
GRAPHS_SMALL = Figure("CUDA-graph capture, < 20 B parameters", 20, "14–17 s measured (vllm-project/vllm#11349, #20264)")
GRAPHS_LARGE = Figure("CUDA-graph capture, ≥ 20 B parameters", 60, "~60 s for Llama-70B TP 8 (vllm-project/vllm#19824)")
ENGINE = Figure(
    "engine start and first answer",
    30,
    "vllm-project/vllm#20264: ~30 s between the engine being ready and the first response, not logged",
)
LARGE_PARAMS = 20 * 10**9


@dataclass(frozen=True)
class Term:
    name: str
    #: None: unknown on this target (an existing cluster's node start, a StorageClass of unknown speed).
    seconds: float | None
    basis: str


@dataclass(frozen=True)
class ColdStart:
    terms: tuple[Term, ...]
    #: The same start when the model cache is still empty (None without a cache).
    first_start_s: float | None = None

    @property
    def known_s(self) -> float:
        return sum(t.seconds for t in self.terms if t.seconds is not None)

    @property
    def total_s(self) -> float | None:
        """None when a term is unknown (then ``known_s`` is a lower bound)."""
        return None if any(t.seconds is None for t in self.terms) else self.known_s


def _node(node: tuple[Figure, ...] | None) -> Term:
    if node is None:
        return Term("node", None, "your cluster's own node start (an existing cluster: stackdef cannot know it)")
    if not node:
        return Term("node", 0, "no node starts (the kind node is already running)")
    return Term("node", sum(f.value for f in node), "; ".join(f"{f.label} {f.value:g} s ({f.source})" for f in node))


def llm_cold_start(
    *,
    node: tuple[Figure, ...] | None,
    image: Figure,
    weights_bytes: float,
    params: int,
    cache_read: Figure | None,
    cached: bool,
    gpu: bool,
    enforce_eager: bool,
) -> ColdStart:
    """The estimate for one LLM replica; ``cached``: a model cache volume is mounted."""
    large = params >= LARGE_PARAMS
    pull = Term("image", image.value / PULL.value, f"{image.value / 1e9:g} GB ({image.source}) at {PULL.value / MB:g} MB/s ({PULL.source})")
    download = Term("weights", weights_bytes / DOWNLOAD.value, f"{weights_bytes / 1e9:.1f} GB at {DOWNLOAD.value / MB:g} MB/s ({DOWNLOAD.source})")
    if cached and cache_read is not None:
        weights = Term(
            "weights",
            weights_bytes / (cache_read.value * MIB),
            f"{weights_bytes / 1e9:.1f} GB from the model cache at {cache_read.value:g} MiB/s ({cache_read.label}: {cache_read.source})",
        )
    elif cached:
        weights = Term("weights", None, f"{weights_bytes / 1e9:.1f} GB from the model cache, whose StorageClass read speed stackdef does not know")
    else:
        weights = download
    terms = [_node(node), pull, weights]
    if gpu:
        if enforce_eager:
            # vLLM: "Enforce eager set, disabling torch.compile and CUDAGraphs" (config/vllm.py).
            terms.append(Term("compile", 0, "enforce_eager: vLLM turns torch.compile off"))
            terms.append(Term("graphs", 0, "enforce_eager: no CUDA graphs"))
        else:
            c = COMPILE_LARGE if large else COMPILE_SMALL
            terms.append(Term("compile", c.value, f"{c.label}: {c.source}"))
            g = GRAPHS_LARGE if large else GRAPHS_SMALL
            terms.append(Term("graphs", g.value, f"{g.label}: {g.source}"))
    terms.append(Term("engine", ENGINE.value, ENGINE.source))
    first = None
    if cached:
        first_terms = [download if t.name == "weights" else t for t in terms]
        first = None if any(t.seconds is None for t in first_terms) else sum(t.seconds for t in first_terms)  # type: ignore[misc]
    return ColdStart(tuple(terms), first)


#: Every figure the estimate uses, for the README and `plan`'s notes.
FIGURES = (RAY_LLM_IMAGE, VLLM_CPU_IMAGE, PULL, DOWNLOAD, COMPILE_SMALL, COMPILE_LARGE, GRAPHS_SMALL, GRAPHS_LARGE, ENGINE)
