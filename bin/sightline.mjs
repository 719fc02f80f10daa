#!/usr/bin/env node
// Runs the production build (dist/, from `npm run build`) when it is there; otherwise the
// TypeScript sources through tsx (a devDependency), so `npx sightline` also works right after `npm ci`.
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

const built = new URL('../dist/cli/main.js', import.meta.url);
const args = process.argv.slice(2);
if (existsSync(built) && args[0] === 'start' && !hasHeapCap()) await startWithHeapCap();
let main;
if (existsSync(built)) {
  ({ main } = await import(built.href));
} else {
  try {
    const { register } = await import('tsx/esm/api');
    register();
  } catch {
    process.stderr.write('Sightline is not built and tsx is not installed: run `npm run build` (or `npm ci` for the development tools).\n');
    process.exit(1);
  }
  ({ main } = await import('../src/cli/main.ts'));
}
process.exitCode = await main(args);

function hasHeapCap() {
  return [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) => a.startsWith('--max-old-space-size'));
}

/**
 * `sightline start` runs the bot under the same heap cap and malloc setting as `npm start` (SIGHTLINE_MAX_HEAP_MB,
 * MALLOC_ARENA_MAX; see README "Memory"): it replaces this process where node can (22.15+), and otherwise runs it as a
 * child that gets the signals (this small parent then stays, ~40 MB: in a container prefer `npm start`).
 */
async function startWithHeapCap() {
  const mb = /^\d+$/.test(process.env.SIGHTLINE_MAX_HEAP_MB ?? '') ? process.env.SIGHTLINE_MAX_HEAP_MB : '256';
  const argv = [`--max-old-space-size=${mb}`, fileURLToPath(new URL('../dist/main.js', import.meta.url))];
  // As `npm start` does: two malloc arenas, not one per thread that ever allocated (glibc reads this when node starts).
  const env = { ...process.env, MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX || '2' };
  if (typeof process.execve === 'function') process.execve(process.execPath, [process.execPath, ...argv], env);
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, argv, { stdio: 'inherit', env });
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  const code = await new Promise((resolve) => child.on('exit', (c, sig) => resolve(c ?? 128 + (constants.signals[sig] ?? 1))));
  process.exit(code);
}
