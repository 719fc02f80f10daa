import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { heapBudget } from '../../src/core/heap-budget.js';
import { envSchema } from '../../src/config/schema.js';

const MB = 1024 * 1024;
/** heap_size_limit as V8 reports it for `--max-old-space-size=n` (old space + 48 MB young generation). */
const limitFor = (n: number) => (n + 48) * MB;

describe('heap budget at start-up', () => {
  it('says nothing when the process runs with the configured cap and the state fits', () => {
    const b = heapBudget({ heapLimitBytes: limitFor(256), configuredMb: 256, stateBytes: 35 * MB });
    expect(b.capMb).toBe(256);
    expect(b.warnings).toEqual([]);
    expect(b.uncapped).toBeUndefined();
  });

  it('warns with the state size and the value to set when the state needs more heap than the cap', () => {
    const b = heapBudget({ heapLimitBytes: limitFor(256), configuredMb: 256, stateBytes: 350 * MB });
    expect(b.neededMb).toBeGreaterThan(256);
    expect(b.warnings).toHaveLength(1);
    const raise = Number(/SIGHTLINE_MAX_HEAP_MB to (\d+)/.exec(b.warnings[0]!)?.[1]);
    expect(raise).toBeGreaterThanOrEqual(b.neededMb);
    expect(raise % 64).toBe(0);
    expect(b.warnings[0]).toMatch(/state file is 350 MB/);
    // With that value the same state passes.
    expect(heapBudget({ heapLimitBytes: limitFor(raise), configuredMb: raise, stateBytes: 350 * MB }).warnings).toEqual([]);
  });

  it('warns when the process got a smaller cap than configured (the setting was only in .env)', () => {
    const b = heapBudget({ heapLimitBytes: limitFor(256), configuredMb: 1024, stateBytes: 0 });
    expect(b.warnings.join(' ')).toMatch(/less than SIGHTLINE_MAX_HEAP_MB=1024.*--max-old-space-size=1024/);
  });

  it('only notes a process run without any cap (npm run dev)', () => {
    const b = heapBudget({ heapLimitBytes: 4144 * MB, configuredMb: 256, stateBytes: 0 });
    expect(b.warnings).toEqual([]);
    expect(b.uncapped).toMatch(/not SIGHTLINE_MAX_HEAP_MB=256/);
  });

  it('npm start passes the same default cap as the setting', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };
    const fromScript = Number(/--max-old-space-size=\$\{SIGHTLINE_MAX_HEAP_MB:-(\d+)\}/.exec(pkg.scripts['start']!)?.[1]);
    expect(pkg.scripts['start']).toMatch(/ dist\/main\.js$/);
    expect(fromScript).toBe(envSchema.shape.SIGHTLINE_MAX_HEAP_MB.parse(undefined));
    // `sightline start` falls back to the same number.
    expect(readFileSync('bin/sightline.mjs', 'utf8')).toContain(`: '${fromScript}';`);
  });
});
