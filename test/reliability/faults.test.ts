import { describe, it } from 'vitest';
import { runFaults } from '../../reliability/faults.js';
import { expectChecksPass } from './expect-checks.js';

describe('reliability: faults (small)', () => {
  it('a hunt and 30 sightings end in the same state with every emulator misbehaving', { timeout: 180_000 }, async () => {
    expectChecksPass(await runFaults({ sightings: 30 }));
  });
});
