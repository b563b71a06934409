// Why this exists: the Python tests must know that the Mermaid text stackdef
// emits is accepted by mermaid's REAL parser, not by a regex. @mermaid-js/parser
// has no flowchart grammar, so this loads the full `mermaid` package headless.
// Its parser needs no DOM, but labels go through DOMPurify, which needs a
// `window`: jsdom provides one (set before mermaid is imported).
//
// stdin:  JSON array of diagram source strings
// stdout: JSON array, one per input: {"ok":true,"type":"flowchart-v2"} or
//         {"ok":false,"error":"<one-line message>"}
// exit:   0 when it ran (even if diagrams failed), 2 on bad input, 1 on crash.
// Use through check.py; install with `bash .ci/setup-node-tools.sh`.

// mermaid may log; keep stdout for the JSON result only.
for (const k of ['log', 'info', 'debug', 'warn', 'trace']) console[k] = console.error;

function fail(code, msg) {
  process.stderr.write(`parse_mermaid.mjs: ${msg}\n`);
  process.exit(code);
}

function oneLine(e) {
  const msg = String(e?.message ?? e?.str ?? e);
  return msg
    .split(/\r?\n/)
    .filter((l) => !/^\s*-*\^\s*$/.test(l)) // jison's caret line is useless on one line
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' | ')
    .slice(0, 500);
}

const chunks = [];
for await (const c of process.stdin) chunks.push(c);
let diagrams;
try {
  diagrams = JSON.parse(Buffer.concat(chunks).toString('utf8'));
} catch (e) {
  fail(2, `stdin is not JSON: ${oneLine(e)}`);
}
if (!Array.isArray(diagrams) || !diagrams.every((d) => typeof d === 'string')) {
  fail(2, 'stdin must be a JSON array of strings');
}

const { JSDOM } = await import('jsdom');
const { window } = new JSDOM('');
globalThis.window = window;
globalThis.document = window.document;
const { default: mermaid } = await import('mermaid');

const results = [];
for (const src of diagrams) {
  try {
    const r = await mermaid.parse(src);
    results.push({ ok: true, type: r.diagramType });
  } catch (e) {
    results.push({ ok: false, error: oneLine(e) });
  }
}
window.close();
process.stdout.write(JSON.stringify(results) + '\n');
