#!/usr/bin/env node
// `npm test`: the whole suite in one run, in order of cost. Every step runs even after a
// failure (so one report shows everything), and the exit code is non-zero if any failed.
// Ends with the runners' summaries and one closing line: "N passed, N failed, N skipped".
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const results = join(root, 'test-results');
mkdirSync(results, { recursive: true });
const bin = (name) => join(root, 'node_modules/.bin', name);

function vitestCounts(r) {
  return { passed: r.numPassedTests, failed: r.numFailedTests + (r.numRuntimeErrorTestSuites ?? 0), skipped: r.numPendingTests + r.numTodoTests };
}

/** The first lines of a failure message, without colour codes: enough to name the cause. */
const excerpt = (msg) =>
  String(msg ?? '')
    // eslint-disable-next-line no-control-regex -- colour codes are what it removes
    .replace(/\x1b\[[0-9;]*m/g, '')
    .split('\n')
    .filter((l) => l.trim() && !l.includes('node_modules/'))
    .slice(0, 6)
    .map((l) => `      ${l.slice(0, 300)}`)
    .join('\n');

/** Failed tests (and suites that failed to run) from a vitest JSON report. */
function vitestFailures(r) {
  const out = [];
  for (const file of r.testResults ?? []) {
    const name = file.name.replace(root + '/', '');
    const failed = (file.assertionResults ?? []).filter((a) => a.status === 'failed');
    for (const a of failed) out.push({ where: `${name} > ${a.fullName}`, why: excerpt(a.failureMessages?.join('\n')) });
    if (!failed.length && file.status === 'failed') out.push({ where: name, why: excerpt(file.message) });
  }
  return out;
}

/** Failed or flaky tests from a Playwright JSON report. */
function playwrightFailures(r) {
  const out = [];
  const walk = (suite) => {
    for (const spec of suite.specs ?? []) {
      for (const t of spec.tests ?? []) {
        if (t.status === 'unexpected' || t.status === 'flaky') {
          const err = t.results?.find((x) => x.error)?.error;
          out.push({ where: `${spec.file}:${spec.line} > ${spec.title} (${t.status})`, why: excerpt(err?.message) });
        }
      }
    }
    for (const s of suite.suites ?? []) walk(s);
  };
  for (const s of r.suites ?? []) walk(s);
  return out;
}

/**
 * Each step: a command, and optionally a parser of its JSON report into counts. Steps with the
 * same `together` run at the same time, the others one after another. The static checks (each
 * one process on one core, none starts a VM) run beside the integration tests: those mostly wait
 * for TCG guests, libvirtd and child processes (about three quarters of two cores busy), so the
 * checks' ~45 s of CPU fits in their idle time instead of adding ~45 s of wall time before them.
 * The unit tests come first, alone: they are all CPU and keep 5 s timeouts. The Electronegativity
 * gate (npm run lint:security) runs once, as reliability check 18.
 */
const steps = [
  {
    name: 'vitest (unit)',
    cmd: [bin('vitest'), 'run', '--project', 'unit', '--reporter=default', '--reporter=json', `--outputFile.json=${join(results, 'vitest-unit.json')}`],
    report: join(results, 'vitest-unit.json'),
    parse: vitestCounts,
    failures: vitestFailures,
  },
  { name: 'typecheck', cmd: ['npm', 'run', '-s', 'typecheck'], together: 'static+integration' },
  { name: 'lint', cmd: ['npm', 'run', '-s', 'lint'], together: 'static+integration' },
  {
    name: 'vitest (integration)',
    cmd: [bin('vitest'), 'run', '--project', 'integration', '--project', 'integration-solo', '--reporter=default', '--reporter=json', `--outputFile.json=${join(results, 'vitest.json')}`],
    report: join(results, 'vitest.json'),
    parse: vitestCounts,
    failures: vitestFailures,
    together: 'static+integration',
  },
  {
    name: 'reliability (CI size)',
    cmd: [bin('vitest'), 'run', '--project', 'reliability', '--project', 'reliability-solo', '--passWithNoTests', '--reporter=default', '--reporter=json', `--outputFile.json=${join(results, 'reliability.json')}`],
    report: join(results, 'reliability.json'),
    parse: vitestCounts,
    failures: vitestFailures,
  },
  {
    name: 'playwright (e2e)',
    cmd: [bin('playwright'), 'test'],
    report: join(results, 'e2e.json'),
    parse: (r) => ({ passed: r.stats.expected, failed: r.stats.unexpected + (r.stats.flaky ?? 0), skipped: r.stats.skipped }),
    failures: playwrightFailures,
  },
];

const only = process.argv.slice(2);

// The libvirt-host tests (vitest) and the libvirt e2e (playwright) need libvirtd and a loopback
// sshd (scripts/libvirt-test-setup.sh: safe to run twice; CI stops them afterwards). As root, start
// them here; otherwise those tests say how (the e2e skips, naming the script).
const needsLibvirt = (o) => ['vitest', 'playwright'].some((n) => n.startsWith(o) || o.startsWith(n));
if (process.getuid?.() === 0 && (!only.length || only.some(needsLibvirt))) {
  const r = spawnSync('bash', [join(root, 'scripts/libvirt-test-setup.sh')], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) console.log('libvirt test set-up failed: the libvirt-host tests will say what is missing');
}
const summary = [];
const t0 = Date.now();
const childEnv = { ...process.env, FORCE_COLOR: process.env.FORCE_COLOR ?? '0' };

/** A finished step's counts and failures, from its JSON report (none: the step has no report, or it is unreadable). */
function readReport(step) {
  if (!step.parse || !existsSync(step.report)) return { counts: null, failures: [] };
  try {
    const report = JSON.parse(readFileSync(step.report, 'utf8'));
    return { counts: step.parse(report), failures: step.failures?.(report) ?? [] };
  } catch {
    return { counts: null, failures: [] };
  }
}

/** Runs steps side by side, each one's output kept and printed whole when it ends (so logs do not interleave). */
async function runTogether(group) {
  const runs = group.map(
    (step) =>
      new Promise((resolve) => {
        if (step.report) rmSync(step.report, { force: true });
        const s0 = Date.now();
        const child = spawn(step.cmd[0], step.cmd.slice(1), { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: childEnv });
        let out = '';
        child.stdout.on('data', (c) => (out += c));
        child.stderr.on('data', (c) => (out += c));
        child.on('close', (code) => {
          console.log(`\n━━ ${step.name} ━━ ${step.cmd.join(' ').replace(root + '/', '')} (with ${group.filter((x) => x !== step).map((x) => x.name).join(', ')})`);
          if (out) process.stdout.write(out.endsWith('\n') ? out : `${out}\n`);
          resolve({ name: step.name, ok: code === 0, ...readReport(step), secs: (Date.now() - s0) / 1000 });
        });
      }),
  );
  for (const r of await Promise.all(runs)) summary.push(r);
}

const chosen = steps.filter((step) => !only.length || only.some((o) => step.name.startsWith(o)));
for (let i = 0; i < chosen.length; i++) {
  const step = chosen[i];
  if (step.together) {
    let last = i;
    while (chosen[last + 1]?.together === step.together) last++;
    await runTogether(chosen.slice(i, last + 1));
    i = last;
    continue;
  }
  if (step.report) rmSync(step.report, { force: true });
  const s0 = Date.now();
  console.log(`\n━━ ${step.name} ━━ ${step.cmd.join(' ').replace(root + '/', '')}`);
  const r = spawnSync(step.cmd[0], step.cmd.slice(1), { cwd: root, stdio: 'inherit', env: childEnv });
  summary.push({ name: step.name, ok: r.status === 0, ...readReport(step), secs: (Date.now() - s0) / 1000 });
}

let passed = 0;
let failed = 0;
let skipped = 0;
console.log('\n━━ summary ━━');
for (const s of summary) {
  const c = s.counts;
  if (c) {
    passed += c.passed;
    failed += c.failed;
    skipped += c.skipped;
    if (!s.ok && c.failed === 0) failed += 1; // runner failed without a failing test (crash, bad config)
  } else if (s.ok) passed += 1;
  else failed += 1;
  const detail = c ? `${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped` : s.ok ? 'ok' : 'FAILED';
  console.log(`${s.ok ? '✔' : '✘'} ${s.name.padEnd(30)} ${detail.padEnd(40)} ${s.secs.toFixed(1)}s`);
}
console.log(`total ${((Date.now() - t0) / 1000).toFixed(1)}s`);
// The failures again, last, so the tail of a long CI log names them.
const failures = summary.flatMap((s) => s.failures ?? []);
if (failures.length) {
  console.log('\n━━ failed ━━');
  for (const f of failures) console.log(`  ✘ ${f.where}\n${f.why}`);
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(summary.every((s) => s.ok) ? 0 : 1);
