import { mkdir } from 'node:fs/promises';
import { build } from 'esbuild';
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * What `npm start` runs, for the footprint benchmark: `npm run build`'s compiler and config
 * (tsc -p tsconfig.build.json), written under bench/.build/ instead of dist/ (so a developer's
 * dist/ is left alone) where its imports resolve from the project's node_modules; removed afterwards.
 */
export async function buildMain(): Promise<{ file: string; buildMs: number; cleanup(): Promise<void> }> {
  const dir = path.resolve('bench/.build');
  const t0 = performance.now();
  await promisify(execFile)(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json', '--outDir', dir], { timeout: 180_000 });
  return { file: path.join(dir, 'main.js'), buildMs: performance.now() - t0, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * The ingest benchmark's server entry (bench/ingest-server.ts) bundled the same way, so
 * "built" rows run compiled JavaScript under plain `node` (no tsx loader), like `node dist/main.js`.
 */
export async function buildIngestServer(): Promise<{ file: string; buildMs: number; cleanup(): Promise<void> }> {
  const dir = path.resolve('bench/.build-ingest');
  const file = path.join(dir, 'ingest-server.mjs');
  await mkdir(dir, { recursive: true });
  const t0 = performance.now();
  await build({
    entryPoints: [path.resolve('bench/ingest-server.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outfile: file,
    logLevel: 'silent',
  });
  return { file, buildMs: performance.now() - t0, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
