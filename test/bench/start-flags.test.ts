import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { startEnv, startNodeFlags, startNodeFlagsFor } from '../../bench/start-flags.js';

/** The bench and the soak start the bot the way `npm start` does (issue 14): flags and environment from package.json. */
describe("npm start's flags and environment, as the bench reads them", () => {
  const script = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts['start']!;

  it('reads the environment prefix and the node flags apart, defaults expanded as the shell does', () => {
    const flags = startNodeFlags({});
    expect(flags).toContain('--max-old-space-size=256');
    expect(flags.some((f) => f.includes('='))).toBe(true);
    expect(flags.every((f) => f.startsWith('--'))).toBe(true); // neither `node`, nor the prefix, nor dist/main.js
    const env = startEnv({});
    expect(env).toEqual({ MALLOC_ARENA_MAX: '2' });
    expect(script).toMatch(/^MALLOC_ARENA_MAX=\$\{MALLOC_ARENA_MAX:-2\} node /);
  });

  it("an operator's environment wins over the defaults", () => {
    expect(startEnv({ MALLOC_ARENA_MAX: '4' })).toEqual({ MALLOC_ARENA_MAX: '4' });
    expect(startNodeFlags({ SIGHTLINE_MAX_HEAP_MB: '512' })).toContain('--max-old-space-size=512');
  });

  it('raises the heap cap for a store that needs more, keeping the rest', () => {
    const flags = startNodeFlagsFor(335 * 1048576, {});
    expect(flags.find((f) => f.startsWith('--max-old-space-size='))).toBe('--max-old-space-size=1600');
    expect(flags.length).toBe(startNodeFlags({}).length);
  });
});
