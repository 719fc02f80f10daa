import { describe, expect, it } from 'vitest';
import { poisonProbe, runHostileInput } from '../../reliability/hostile-input.js';
import { expectChecksPass } from './expect-checks.js';

/** Small version of suite 4 (the full run adds the deep-nesting poison pill to the mix; the probe below checks it on its own). */
describe('reliability: hostile input (small)', () => {
  it('refuses bad bodies with a reason, answers every command, parses or rejects every Talos file', { timeout: 120_000 }, async () => {
    const report = await runHostileInput({ bodies: 400, commands: 60, cardActions: 40, talosFiles: 400, poison: false, markup: { notifications: 100, replies: 50, sightings: 15 } });
    expectChecksPass(report);
    expect(report.figures['sightings bodies sent']).toBe(400);
  });

  // Found by the full run: a sighting_json nested 3,000 levels deep used to be taken and to blow the
  // state file past V8's string limit. Now it is refused (422) and the store stays writable.
  it('a deeply nested sighting_json leaves the store writable', { timeout: 60_000 }, async () => {
    const probe = await poisonProbe();
    expect(probe).toEqual({ storeWritable: true, plainCounted: true });
  });
});
