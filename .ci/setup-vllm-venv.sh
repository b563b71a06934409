#!/usr/bin/env bash
# Build (or reuse) the side venv in which tests/tools/vllm_check.py runs vLLM's
# own argument parser and create_engine_config on CPU.
#
#   PY=$(bash .ci/setup-vllm-venv.sh)      # last (only) stdout line: venv python
#   STACKDEF_VLLM_PYTHON=$PY pytest tests/test_vllm_checker_selftest.py
#
# Contents: vllm==0.22.0 (the version ray[llm]==2.56.0 pins) installed
# --no-deps on top of a CPU-only torch==2.13.0 (local wheel found via pip's
# find-links, /opt/wheels on this machine kind), plus only the part of vLLM's
# requirements that importing the arg parser / config code needs, plus plain
# ray==2.56.0 (vLLM imports it while building a config with
# distributed_executor_backend="ray", which Ray Serve LLM always sets).
# No torchaudio/torchvision, no triton, no CUDA wheels, no fastapi/uvicorn.
# Every install runs under -c .ci/vllm-constraints.txt (exact pins).
#
# Idempotent: $VENV/.stackdef-vllm-ready holds a hash of the constraints file
# and of the recipe below; if it matches and the venv imports, nothing is done.
# Any change (or a half-finished venv) -> the venv is deleted and rebuilt.
#
# Env: STACKDEF_VLLM_VENV   venv dir (default ~/.cache/stackdef/vllm-venv)
#      STACKDEF_VLLM_PY311  interpreter to create it with (default python3.11)
#      STACKDEF_VLLM_WHEEL  optional path to a local vllm-0.22.0 wheel
#      STACKDEF_VLLM_REFREEZE=1  maintainer mode: resolve afresh with only the
#                           torch/vllm/ray pins, then rewrite the constraints
#                           file from `pip freeze --all` of the result.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONSTRAINTS="$ROOT/.ci/vllm-constraints.txt"
VENV="${STACKDEF_VLLM_VENV:-$HOME/.cache/stackdef/vllm-venv}"
PY311="${STACKDEF_VLLM_PY311:-python3.11}"
MARKER="$VENV/.stackdef-vllm-ready"

TORCH_REQ="torch==2.13.0"
VLLM_VERSION="0.22.0"
# vLLM requirements actually imported by vllm.engine.arg_utils,
# vllm.entrypoints.openai.cli_args and create_engine_config (model inspection
# of Qwen2/Llama/Mistral/Mixtral, fp8/compressed-tensors quant configs).
# Their version specifiers are taken from vllm's own metadata at install time.
VLLM_DEPS="numpy transformers tokenizers safetensors pydantic pyyaml regex cachetools
psutil requests tqdm msgspec cloudpickle blake3 py-cpuinfo cbor2 pyzmq gguf aiohttp
openai openai-harmony pillow pybase64 uvloop prometheus_client partial-json-parser
einops compressed-tensors protobuf filelock typing_extensions"
EXTRA_REQS="ray==2.56.0"
RECIPE="v1|$TORCH_REQ|vllm==$VLLM_VERSION|$VLLM_DEPS|$EXTRA_REQS"

log() { echo "[setup-vllm-venv] $*" >&2; }

want_hash() {
  { cat "$CONSTRAINTS"; printf '%s' "$RECIPE"; } | sha256sum | cut -d' ' -f1
}

venv_ok() {
  [ -x "$VENV/bin/python" ] && [ -f "$MARKER" ] &&
    [ "$(cat "$MARKER")" = "$(want_hash)" ] &&
    "$VENV/bin/python" -c "import vllm, torch, ray" >/dev/null 2>&1
}

[ -f "$CONSTRAINTS" ] || { log "missing $CONSTRAINTS"; exit 1; }
mkdir -p "$(dirname "$VENV")"

# Serialise concurrent callers (CI + a developer shell) on the same venv.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$VENV.lock"
  flock 9
fi

if venv_ok; then
  log "up to date: $VENV"
  echo "$VENV/bin/python"
  exit 0
fi

START=$(date +%s)
log "building $VENV"
# Only ever delete something that is (or was meant to be) our venv.
if [ -e "$VENV" ] && [ -n "$(ls -A "$VENV" 2>/dev/null)" ] && [ ! -f "$VENV/pyvenv.cfg" ]; then
  log "refusing to delete $VENV: exists, not empty, and not a venv"; exit 1
fi
rm -rf "$VENV"
"$PY311" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
PIN=(-c "$CONSTRAINTS")
# pip install, minus expected noise: this machine kind's pip config lists
# file:// indexes that may be absent, and vllm's unmet (GPU) requirements make
# pip print a resolver "ERROR" after step 3. pip's exit code is kept.
pip_install() {
  "${PIP[@]}" install -q "$@" 2>&1 | {
    grep -v -e "^WARNING: Location 'file:" -e "^vllm 0.22.0 requires" \
      -e "dependency resolver does not currently" || true
  } >&2
}
REFREEZE="${STACKDEF_VLLM_REFREEZE:-0}"
if [ "$REFREEZE" = 1 ]; then
  SEED="$VENV.seed-constraints.txt"
  grep -E '^(torch|vllm|ray)==' "$CONSTRAINTS" >"$SEED"
  PIN=(-c "$SEED")
  log "REFREEZE: resolving with only: $(tr '\n' ' ' <"$SEED")"
fi

# 1. CPU torch first. The constraints pin torch==2.13.0+cpu, which only the
#    local CPU wheel (pip's find-links) provides, so a CUDA torch can never be
#    chosen; if that wheel is missing this fails instead of pulling ~3 GB.
log "1/4 $TORCH_REQ (CPU wheel)"
pip_install --only-binary=:all: "${PIN[@]}" "$TORCH_REQ"
"$VENV/bin/python" -W ignore - <<'EOF' >&2
import torch
assert torch.version.cuda is None, f"CUDA torch installed: {torch.__version__}"
print("torch", torch.__version__, "cuda", torch.version.cuda)
EOF

# 2. vllm itself, without its (CUDA-pinned) dependency list.
log "2/4 vllm==$VLLM_VERSION --no-deps"
VLLM_SRC="vllm==$VLLM_VERSION"
if [ -n "${STACKDEF_VLLM_WHEEL:-}" ]; then VLLM_SRC="$STACKDEF_VLLM_WHEEL"; fi
pip_install --no-deps "${PIN[@]}" "$VLLM_SRC"

# 3. The light requirements, with vLLM's own specifiers.
log "3/4 vLLM light requirements + $EXTRA_REQS"
mapfile -t REQS < <(VLLM_DEPS="$VLLM_DEPS" "$VENV/bin/python" - <<'EOF'
import os, re
from importlib.metadata import requires
norm = lambda s: re.sub(r"[-_.]+", "-", s).lower()
wanted = {norm(n) for n in os.environ["VLLM_DEPS"].split()}
found = {}
for req in requires("vllm") or []:
    if "extra ==" in req:
        continue
    spec = req.split(";")[0].strip()
    name = norm(re.match(r"[A-Za-z0-9_.\-]+", spec).group(0))
    if name in wanted:
        found[name] = re.sub(r"\[.*?\]", "", spec)  # drop extras
for name in sorted(wanted - set(found)):
    found[name] = name  # transitive dep vLLM does not list itself
print("\n".join(found[n] for n in sorted(found)))
EOF
)
pip_install --only-binary=:all: "${PIN[@]}" "${REQS[@]}" $EXTRA_REQS
"$VENV/bin/python" -c "import torch, vllm, ray; assert torch.version.cuda is None" >&2

if [ "$REFREEZE" = 1 ]; then
  {
    echo "# Exact pins for the vLLM checker venv (.ci/setup-vllm-venv.sh)."
    echo "# Generated by STACKDEF_VLLM_REFREEZE=1 .ci/setup-vllm-venv.sh on $(date -u +%F)"
    echo "# from 'pip freeze --all' (minus pip). torch is the local CPU wheel:"
    echo "# torch==2.13.0+cpu is found only via pip's find-links, never on PyPI."
    "${PIP[@]}" freeze --all | grep -v -i -e '^pip==' |
      sed -E 's#^vllm @ .*#vllm=='"$VLLM_VERSION"'#' | LC_ALL=C sort -f
  } >"$CONSTRAINTS"
  rm -f "$SEED"
  log "rewrote $CONSTRAINTS"
fi

# Nothing CUDA-ish or unpinned may have slipped in.
"$VENV/bin/python" - "$CONSTRAINTS" <<'EOF' >&2
import re, sys, sysconfig
from importlib.metadata import distributions
norm = lambda s: re.sub(r"[-_.]+", "-", s).lower()
pins = {}
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if "==" in line:
        n, v = line.split("==", 1)
        pins[norm(n)] = v.strip()
bad = []
site = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
for d in distributions(path=site):
    n = norm(d.metadata["Name"])
    if n == "pip":
        continue
    if n.startswith(("nvidia-", "triton", "torchaudio", "torchvision")):
        bad.append(f"forbidden package {n}")
    elif pins.get(n) != d.version:
        bad.append(f"{n}=={d.version} not pinned in constraints (pin: {pins.get(n)})")
if bad:
    sys.exit("vllm venv drifted from .ci/vllm-constraints.txt:\n  " + "\n  ".join(bad))
EOF

# 4. Smoke test: one case per shipped architecture. This also fills vLLM's
#    model-inspection cache ($VENV/vllm-cache), so later checker runs skip the
#    ~10 s subprocess vLLM spawns the first time it sees an architecture.
log "4/4 smoke test"
"$VENV/bin/python" - "$ROOT" >"$VENV/.smoke-cases.json" <<'EOF'
import json, os, sys
base = os.path.join(sys.argv[1], "tests", "data", "model_configs")
cases = []
for name in sorted(os.listdir(base)):
    path = os.path.join(base, name, "config.json")
    if os.path.isfile(path):
        cases.append({"id": name, "model_config": json.load(open(path)),
                      "engine_kwargs": {"max_model_len": 2048}})
json.dump({"cases": cases}, sys.stdout)
EOF
"$VENV/bin/python" "$ROOT/tests/tools/vllm_check.py" <"$VENV/.smoke-cases.json" \
  >"$VENV/.smoke.json" 2>"$VENV/.smoke.log" || { tail -n 40 "$VENV/.smoke.log" >&2; exit 1; }
"$VENV/bin/python" - "$VENV/.smoke.json" "$VENV/.smoke.log" <<'EOF' >&2
import json, sys
res = json.load(open(sys.argv[1]))["results"]
bad = [r for r in res if not r["ok"]]
print(f"smoke: {len(res) - len(bad)}/{len(res)} ok")
if not res or bad:
    sys.stderr.write(open(sys.argv[2]).read()[-6000:])
    sys.exit(f"smoke test failed: {bad}")
EOF

want_hash >"$MARKER"
log "done in $(( $(date +%s) - START ))s; size $(du -sh "$VENV" | cut -f1)"
echo "$VENV/bin/python"
