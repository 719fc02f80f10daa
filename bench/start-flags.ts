import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { suggestedHeapMb } from '../src/core/heap-budget.js';

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

type Env = Record<string, string | undefined>;

/** The start script's words, `${NAME:-default}` expanded like the shell does it, from `env`. */
function startWords(env: Env): { prefix: string[]; flags: string[] } {
  const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const words = pkg.scripts['start']!.trim().split(/\s+/).map((w) => w.replace(/\$\{(\w+):-([^}]*)\}/g, (_, name: string, dflt: string) => env[name] || dflt));
  const node = words.indexOf('node');
  if (node < 0) throw new Error('package.json\'s start script does not run `node`');
  return { prefix: words.slice(0, node), flags: words.slice(node + 1, -1) }; // flags: between `node` and `dist/main.js`
}

/**
 * The node flags `npm start` gives the bot, read from package.json's start script (issue 14:
 * the bench and the reliability soak measure the process as it is deployed, heap cap included).
 */
export function startNodeFlags(env: Env = process.env): string[] {
  return startWords(env).flags;
}

/**
 * The environment `npm start` sets for node in front of the command (`NAME=value node …`:
 * glibc's malloc settings, see README "Memory"), expanded from `env` as the shell would.
 */
export function startEnv(env: Env = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const w of startWords(env).prefix) {
    const m = /^([A-Za-z_]\w*)=(.*)$/.exec(w);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
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
