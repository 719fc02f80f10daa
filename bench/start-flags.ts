import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { suggestedHeapMb } from '../src/core/heap-budget.js';

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The node flags `npm start` gives the bot, read from package.json's start script (issue 14:
 * the bench and the reliability soak measure the process as it is deployed, heap cap included).
 * `${SIGHTLINE_MAX_HEAP_MB:-256}` is expanded like the shell does it, from `env`.
 */
export function startNodeFlags(env: Record<string, string | undefined> = process.env): string[] {
  const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const words = pkg.scripts['start']!.split(/\s+/).slice(1, -1); // between `node` and `dist/main.js`
  return words.map((w) => w.replace(/\$\{(\w+):-([^}]*)\}/g, (_, name: string, dflt: string) => env[name] || dflt));
}

/**
 * The flags for a process that will load a state file of `stateBytes`: `npm start`'s, with
 * SIGHTLINE_MAX_HEAP_MB raised the way the start-up warning tells an operator to, when the
 * default is too small for the store (the 100,000-incident bench size).
 */
export function startNodeFlagsFor(stateBytes: number, env: Record<string, string | undefined> = process.env): string[] {
  const flags = startNodeFlags(env);
  const mb = Number(/--max-old-space-size=(\d+)/.exec(flags.join(' '))?.[1]);
  const needed = suggestedHeapMb(stateBytes);
  return needed > mb ? startNodeFlags({ ...env, SIGHTLINE_MAX_HEAP_MB: String(needed) }) : flags;
}
