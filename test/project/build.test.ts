import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/sandbox/free-port.js';
import { startWorld, type EmulatedWorld } from '../../src/sandbox/world.js';
import { spawnSightline, type SpawnedSightline } from '../support/spawn-sightline.js';

/**
 * `npm run build` then `npm start` (node dist/main.js), proven: the build config compiles src/
 * without tsx, and the compiled process starts against the emulators and becomes ready.
 * The output goes under .tmp/ inside the project, so its imports resolve from node_modules like dist/.
 */
const outDir = path.resolve(`.tmp/build-test-${process.pid}`);
let world: EmulatedWorld;
let proc: SpawnedSightline | undefined;

beforeAll(async () => {
  await promisify(execFile)(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json', '--outDir', outDir], { timeout: 120_000 });
  world = await startWorld();
}, 150_000);

afterAll(async () => {
  await proc?.stop();
  await world?.stop();
  await rm(outDir, { recursive: true, force: true });
});

describe('production build', () => {
  it('compiles the process and the CLI, and leaves the development tools (emulators, sandbox) out', () => {
    expect(existsSync(path.join(outDir, 'main.js'))).toBe(true);
    expect(existsSync(path.join(outDir, 'cli/main.js'))).toBe(true);
    expect(existsSync(path.join(outDir, 'emulators'))).toBe(false);
    expect(existsSync(path.join(outDir, 'sandbox'))).toBe(false);
  });

  it('imports only runtime dependencies, so `npm ci --omit=dev` is enough to run it', async () => {
    const deps = new Set(Object.keys((JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string> }).dependencies));
    const imported = new Set<string>();
    for (const file of (await readdir(outDir, { recursive: true })).filter((f) => f.endsWith('.js'))) {
      const text = await readFile(path.join(outDir, file), 'utf8');
      for (const m of text.matchAll(/(?:from |import\()'([^'.][^']*)'/g)) {
        const spec = m[1]!;
        if (spec.startsWith('node:')) continue;
        imported.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
      }
    }
    expect(imported.size).toBeGreaterThan(5);
    expect([...imported].filter((p) => !deps.has(p))).toEqual([]);
  });

  it('the built main.js starts against the emulators, becomes ready, logs JSON lines and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    proc = spawnSightline([path.join(outDir, 'main.js')], world.env({ HTTP_PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}`, LOG_LEVEL: 'info' }), port);
    await proc.waitFor('/healthz');
    await proc.waitFor('/readyz');
    expect(await proc.stop()).toBe(0);
    const lines = proc.stdoutLines();
    expect(lines.some((l) => l.includes('Sightline is ready'))).toBe(true);
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
  }, 60_000);
});
