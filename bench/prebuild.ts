import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';

/**
 * A pre-built Sightline for the footprint benchmark: src/ bundled by esbuild (tsx's
 * own transpiler) into one ESM file, npm dependencies left external. Written under
 * bench/.build/ so those dependencies resolve from the project's node_modules, and
 * removed afterwards.
 */
export async function buildMain(): Promise<{ file: string; buildMs: number; cleanup(): Promise<void> }> {
  const dir = path.resolve('bench/.build');
  const file = path.join(dir, 'main.mjs');
  await mkdir(dir, { recursive: true });
  const t0 = performance.now();
  await build({
    stdin: { contents: "import { runMain } from './src/main.ts';\nawait runMain();\n", resolveDir: process.cwd(), loader: 'ts', sourcefile: 'bench-entry.ts' },
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
