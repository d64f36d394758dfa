// Runs real-browser scenarios against a running Sportello:
//   node web/e2e/run.mjs --base http://127.0.0.1:8080 [--artifacts DIR] [scenario ...]
// Without scenario names, every file of scenarios/. Prints one line per
// scenario and a closing "N passed, N failed"; exits 1 on any failure.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Harness } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
let base = process.env.SPORTELLO_URL || 'http://127.0.0.1:8080';
let artifacts = process.env.SPORTELLO_E2E_ARTIFACTS || path.join(here, 'artifacts');
const names = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--base') base = args[++i];
  else if (args[i] === '--artifacts') artifacts = args[++i];
  else names.push(args[i].replace(/\.mjs$/, ''));
}
const all = fs.readdirSync(path.join(here, 'scenarios')).filter((f) => f.endsWith('.mjs')).map((f) => f.replace(/\.mjs$/, '')).sort();
const chosen = names.length ? names : all;
let passed = 0, failed = 0;
console.log(`screenshots and reports: ${path.resolve(artifacts)}`);
for (const name of chosen) {
  if (!all.includes(name)) { console.log(`FAIL ${name}: no such scenario (have: ${all.join(', ')})`); failed++; continue; }
  const mod = await import(pathToFileURL(path.join(here, 'scenarios', name + '.mjs')).href);
  const h = new Harness({ base, artifacts, scenario: name });
  const started = Date.now();
  try {
    const page = await h.start();
    await mod.default({ page, h });
    if (h.problems.length) throw new Error(`${h.problems.length} problem(s):\n  ` + h.problems.join('\n  '));
    console.log(`PASS ${name} (${h.visited.length} pages, ${Date.now() - started} ms)`);
    passed++;
  } catch (e) {
    console.log(`FAIL ${name}: ${e.stack || e}`);
    try { await h.page?.screenshot({ path: path.join(h.dir, 'failure.png'), fullPage: true }); } catch { /* the browser may be gone */ }
    failed++;
  } finally {
    h.report();
    await h.stop();
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
