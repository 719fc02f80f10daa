import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runCrashSafety } from './crash-safety.js';
import { runFaults } from './faults.js';
import { runHostileInput } from './hostile-input.js';
import { runOperations } from './operations.js';
import { runOutbox } from './outbox.js';
import { POSTGRES_CRASH_FULL, POSTGRES_CRASH_TITLE, runPostgresCrash } from './postgres-crash.js';
import { renderReport, replaceSuiteSection, upsertSuiteSection } from './report.js';
import { runSecurity } from './security.js';
import { runWebsocket } from './websocket.js';
import { PROJECT_ROOT, passed, type SuiteReport } from './support.js';

/**
 * `npm run reliability [-- --soak-minutes 30] [--no-audit] [--only websocket|operations|postgres-crash]`: every suite at full
 * size, then docs/RELIABILITY.md. The soak (operations) runs alongside the other
 * suites, each against its own emulators, so the whole run takes about the soak.
 */
function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const soakMinutes = Number(flag('soak-minutes') ?? 30);
// A suite that provokes a failing state write (the poison probe) must not end the whole run:
// src/store/lowdb-store.ts leaves a rejected promise unobserved then (see Findings). The suites record these themselves.
process.on('unhandledRejection', (err) => process.stdout.write(`unhandled rejection (recorded by the running suite if it watches): ${String((err as Error)?.message ?? err).slice(0, 200)}\n`));
const startedAt = new Date();
const log = (line: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);

/** Full-size settings of the websocket suite (7). */
const WEBSOCKET_FULL = { rounds: 5, outageSeconds: 10 };
// `--only websocket`: that suite alone, printed as markdown; docs/RELIABILITY.md is not rewritten.
if (flag('only') === 'websocket') {
  const report = await guarded('7. Webex websocket', () => runWebsocket({ ...WEBSOCKET_FULL, log }));
  process.stdout.write(`${renderReport([report], { startedAt, command: 'npm run reliability -- --only websocket', notes: [] })}\n`);
  process.exit(0);
}

// `--only operations`: the soak and its checks alone (about the soak's length); its section of
// docs/RELIABILITY.md is replaced and the other sections are left as they are.
if (flag('only') === 'operations') {
  const report = await guarded('6. Operations', () => runOperations({ soakSeconds: Math.round(soakMinutes * 60), sampleSeconds: soakMinutes >= 5 ? 60 : 10, log }), (soakMinutes + 5) * 60_000);
  const file = path.join(PROJECT_ROOT, 'docs', 'RELIABILITY.md');
  const note = `Run alone with \`npm run reliability -- --only operations --soak-minutes ${soakMinutes}\` on ${startedAt.toISOString()} (Node ${process.version}, 2 shared cores); the other sections come from the full run above.`;
  await writeFile(file, replaceSuiteSection(await readFile(file, 'utf8'), report, note));
  log(`docs/RELIABILITY.md: section "${report.title}" replaced`);
  process.exit(passed(report) ? 0 : 1);
}

// `--only postgres-crash`: the crash suite on PostgreSQL alone (needs PostgreSQL's server binaries);
// its section of docs/RELIABILITY.md is replaced, or appended the first time.
if (flag('only') === 'postgres-crash') {
  const report = await guarded(POSTGRES_CRASH_TITLE, () => runPostgresCrash({ ...POSTGRES_CRASH_FULL, log }), 20 * 60_000);
  if (report.checks.some((c) => c.name === 'suite completed' && !c.ok)) {
    // Nothing measured (e.g. the build ignores DATABASE_URL): say why, keep the document as it is.
    log(`postgres-crash did not run: ${(report.checks[0]!.detail ?? '').replace(/\.$/, '')}; docs/RELIABILITY.md left as it is`);
    process.exit(1);
  }
  const file = path.join(PROJECT_ROOT, 'docs', 'RELIABILITY.md');
  const note = `Run alone with \`npm run reliability -- --only postgres-crash\` on ${startedAt.toISOString()} (Node ${process.version}, 2 shared cores, PostgreSQL on the same cores); the other sections come from the full run above.`;
  await writeFile(file, upsertSuiteSection(await readFile(file, 'utf8'), report, note));
  log(`docs/RELIABILITY.md: section "${report.title}" written`);
  process.exit(passed(report) ? 0 : 1);
}

async function guarded(name: string, run: () => Promise<SuiteReport>, limitMs = 15 * 60_000): Promise<SuiteReport> {
  log(`${name}: starting`);
  try {
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`did not finish within ${limitMs / 60_000} minutes`)), limitMs)));
    const r = await Promise.race([run(), limit]).finally(() => clearTimeout(timer));
    log(`${name}: ${r.checks.filter((c) => c.ok).length}/${r.checks.length} checks passed in ${Math.round(r.durationMs / 1000)} s`);
    return r;
  } catch (err) {
    log(`${name}: the suite itself failed: ${(err as Error).stack}`);
    return { title: name, tried: 'The suite did not complete.', figures: {}, checks: [{ name: 'suite completed', ok: false, detail: (err as Error).message }], findings: [], durationMs: 0 };
  }
}

const operations = guarded('6. Operations', () => runOperations({ soakSeconds: Math.round(soakMinutes * 60), sampleSeconds: soakMinutes >= 5 ? 60 : 10, log }), (soakMinutes + 5) * 60_000); // the soak itself plus the health and SIGTERM checks
const sequential = (async () => [
  await guarded('1. Crash safety', () => runCrashSafety({ kills: 20, clients: 6, targets: 10, huntKills: 3, log })),
  await guarded('2. Outbox', () => runOutbox({ log })),
  await guarded('3. Faults', () => runFaults({ sightings: 1000, log }), 11 * 60_000),
  await guarded('4. Hostile input', () => runHostileInput({ bodies: 10_000, commands: 2000, cardActions: 1000, talosFiles: 5000, poison: false, probe: true, log })),
  await guarded('5. Security', () => runSecurity({ audit: !process.argv.includes('--no-audit') })),
  await guarded('7. Webex websocket', () => runWebsocket({ ...WEBSOCKET_FULL, log })),
  await guarded(POSTGRES_CRASH_TITLE, () => runPostgresCrash({ ...POSTGRES_CRASH_FULL, log }), 20 * 60_000),
])();
const [first, second, third, fourth, fifth, seventh, eighth] = await sequential;
const reports = [first!, second!, third!, fourth!, fifth!, await operations, seventh!, eighth!];
const notes = [
  `Soak: ${soakMinutes} minute(s) (\`--soak-minutes ${soakMinutes}\`), run alongside suites 1–5 (each suite has its own emulators and state dir).`,
  ...(soakMinutes < 30 ? [`The soak was shortened from the 30 minutes asked for, to fit the time budget of this run; re-run \`npm run reliability -- --soak-minutes 30\` for the full figure.`] : []),
];
const doc = renderReport(reports, { startedAt, command: `npm run reliability -- --soak-minutes ${soakMinutes}`, notes });
await mkdir(path.join(PROJECT_ROOT, 'docs'), { recursive: true });
await writeFile(path.join(PROJECT_ROOT, 'docs', 'RELIABILITY.md'), doc);
log(`wrote docs/RELIABILITY.md (${reports.filter(passed).length}/${reports.length} suites fully passed)`);
process.exit(0);
