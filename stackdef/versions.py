"""Pinned versions and images, each with the source it was read from.

One place so that the Ray image always equals the Ray version whose schemas the
tests validate against (``ray[serve]==RAY_VERSION`` in ``constraints.txt``), and
so that no manifest ever carries a floating tag.
"""

from __future__ import annotations

#: Ray version of every RayCluster and of the Serve / LLMConfig schemas used in
#: tests. KubeRay sample ``ray-service.high-throughput-llm.yaml`` (KubeRay v1.7.0
#: tree, #4917) runs ``rayproject/ray-llm:2.56.0-py312-cu130``.
RAY_VERSION = "2.56.0"

#: Ray Serve LLM image (CUDA 13.0) used for LLM services on GPU targets.
RAY_LLM_IMAGE = f"rayproject/ray-llm:{RAY_VERSION}-py312-cu130"

#: Plain Ray image for model services; tag pattern ``{ray}[-{python}]`` from
#: ray-project/ray ``docker/ray/README.md``.
RAY_IMAGE = f"rayproject/ray:{RAY_VERSION}-py312"

#: vLLM version pinned by ``ray[llm]==2.56.0`` (``Requires-Dist: vllm[audio]==0.22.0``).
VLLM_VERSION = "0.22.0"

#: vLLM CPU image for the kind CPU profile; tag pattern ``vllm/vllm-openai-cpu:v<X>``
#: from vllm ``.buildkite/scripts/publish-release-images.sh``.
VLLM_CPU_IMAGE = f"vllm/vllm-openai-cpu:v{VLLM_VERSION}"

#: KubeRay operator Helm chart (KubeRay v1.7.0, 2026-08-19).
KUBERAY_CHART_VERSION = "1.7.0"
KUBERAY_CHART_REPO = "https://ray-project.github.io/kuberay-helm/"
KUBERAY_OPERATOR_IMAGE = "quay.io/kuberay/operator:v1.7.0"

#: kind v0.32.0 default node image (``pkg/apis/config/defaults/image.go``).
KIND_NODE_IMAGE = (
    "kindest/node:v1.36.1@sha256:"
    "3489c7674813ba5d8b1a9977baea8a6e553784dab7b84759d1014dbd78f7ebd5"
)

#: Spec API version accepted by this release.
API_VERSION = "stackdef.dev/v1alpha1"
