import { startInProcess } from '../in-process.js';
import { ReportBuilder } from '../support.js';
import { hostileMarkup } from './markup-suite.js';

/**
 * The hostile-markup section of suite 4 alone (the full suite runs it too):
 * `npx tsx reliability/hostile/run-markup.ts [notifications] [replies] [sightings]`.
 */
const [notifications = 2000, replies = 1000, sightings = 150] = process.argv.slice(2).map(Number);
const r = new ReportBuilder('4. Hostile input: markup, mentions, control characters');
const bot = await startInProcess();
try {
  await hostileMarkup(bot, { notifications, replies, sightings }, 4242, r);
} finally {
  await bot.stop();
}
const report = r.done('hostile markup only');
for (const [k, v] of Object.entries(report.figures)) process.stdout.write(`| ${k} | ${v} |\n`);
for (const c of report.checks) process.stdout.write(`- [${c.ok ? 'x' : ' '}] ${c.name}${c.detail ? ` — ${c.detail}` : ''}\n`);
process.stdout.write(`(${Math.round(report.durationMs / 1000)} s)\n`);
process.exit(report.checks.every((c) => c.ok) ? 0 : 1);
