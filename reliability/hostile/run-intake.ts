/**
 * `npx tsx reliability/hostile/run-intake.ts`: only the intake's hostile shapes (amplification
 * and corrupt state) against the in-process bot, printed as a small report. The full
 * hostile-input suite runs the same checks (reliability/hostile-input.ts).
 */
import { startInProcess } from '../in-process.js';
import { ReportBuilder, postSightings } from '../support.js';
import { intakeTarget } from './intake-bot.js';
import { amplificationChecks, corruptStateChecks } from './intake.js';

const r = new ReportBuilder('4b. Hostile input: intake shapes');
const bot = await startInProcess();
try {
  await amplificationChecks(intakeTarget(bot.app), postSightings, r);
} finally {
  await bot.stop();
}
await corruptStateChecks(r);
const report = r.done('amplification shapes at POST /api/v1/sightings, corrupt state files at LowdbStore.open()');
for (const [k, v] of Object.entries(report.figures)) process.stdout.write(`| ${k} | ${v} |\n`);
for (const c of report.checks) process.stdout.write(`- ${c.ok ? '✅' : '❌'} ${c.name}${c.detail ? ` — ${c.detail}` : ''}\n`);
process.exit(report.checks.every((c) => c.ok) ? 0 : 1);
