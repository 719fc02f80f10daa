import { describe, expect, it } from 'vitest';
import { runCrashSafety } from '../../reliability/crash-safety.js';
import { expectChecksPass } from './expect-checks.js';

/** Small version of suite 1: the real process SIGKILLed twice under sightings, once during a hunt. */
describe('reliability: crash safety (small)', () => {
  it('loses no acknowledged sighting, counts none twice, duplicates no incident, casebook or card', { timeout: 150_000 }, async () => {
    const report = await runCrashSafety({ kills: 2, clients: 3, targets: 4, huntKills: 1 });
    expectChecksPass(report);
    expect(report.figures['acknowledged (202)']).toBeGreaterThan(0);
  });
});
