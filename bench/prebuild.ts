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
