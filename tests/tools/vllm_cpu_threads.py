#!/usr/bin/env python3
"""What vLLM's CPU engine does with a container's env: runs INSIDE the vLLM venv.

stdin: {"env": {NAME: VALUE, ...}} (the vLLM container's env from the compiled manifest).
stdout: {"bind": ..., "skip_setup": bool, "omp_num_threads": str | None, "bound_cpus": [...]}

It builds vLLM 0.22.0's own ``OMPProcessManager`` (vllm/utils/ompmultiprocessing.py,
what the multiprocessing executor uses on CPU) for one local rank and reports the
OpenMP environment a worker process gets inside ``configure_omp_envs``.
"""

from __future__ import annotations

import json
import os
import sys
from types import SimpleNamespace


def main() -> int:
    doc = json.load(sys.stdin)
    for key in ("VLLM_CPU_OMP_THREADS_BIND", "OMP_NUM_THREADS", "VLLM_CPU_NUM_OF_RESERVED_CPU"):
        os.environ.pop(key, None)
    os.environ.update(doc["env"])
    from vllm import platforms
    from vllm.platforms.cpu import CpuPlatform

    # The PyPI wheel is a CUDA build; the pod's image is the CPU build (see vllm_check.py, point 1).
    platforms.current_platform = CpuPlatform()
    from vllm.utils.ompmultiprocessing import OMPProcessManager

    config = SimpleNamespace(
        parallel_config=SimpleNamespace(local_world_size=1, data_parallel_rank_local=None, _api_process_count=1),
        kv_transfer_config=None,
    )
    manager = OMPProcessManager(config)  # type: ignore[arg-type]
    with manager.configure_omp_envs(0, 0):
        threads = os.environ.get("OMP_NUM_THREADS")
    json.dump(
        {
            "bind": os.environ.get("VLLM_CPU_OMP_THREADS_BIND", "auto"),
            "skip_setup": manager.skip_setup,
            "omp_num_threads": threads,
            "bound_cpus": manager.cpu_lists[0] if manager.cpu_lists else [],
        },
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
