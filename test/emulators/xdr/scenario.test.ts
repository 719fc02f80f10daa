import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildDemoScenario, DEMO_HOSTS, loadScenarioFile, parseScenario } from '../../../src/emulators/xdr/index.js';
import { talosThreats } from './helpers.js';

describe('XDR emulator scenarios', () => {
  it('builds a deterministic demo world from a real roundup: some Clean, some sighted, some untouched', () => {
    const threats = talosThreats('2021/1203.json');
    const a = buildDemoScenario(threats);
    expect(buildDemoScenario(threats)).toEqual(a);
    expect(a.verdicts.filter((v) => v.disposition === 1)).toHaveLength(threats.length);
    const holders = (o: { type: string; value: string }) =>
      threats.flatMap((t, i) => (t.observables.some((x) => x.type === o.type && x.value === o.value) ? [i] : []));
    const sighted = a.sightings.filter((s) => s.targets?.length);
    expect(sighted.length).toBeGreaterThan(1);
    // Only even-numbered threats are sighted; odd ones keep the "no targets" path visible.
    expect(sighted.every((s) => holders(s.observable).some((i) => i % 2 === 0))).toBe(true);
    const hosts = a.sightings.flatMap((s) => s.targets ?? []).flatMap((t) => t.observables.filter((o) => o.type === 'hostname').map((o) => o.value));
    expect(hosts.every((h) => DEMO_HOSTS.some((d) => d.hostname === h))).toBe(true);
    expect(a.sightings.some((s) => !s.targets && s.internal === false)).toBe(true);
  });

  it('loads a scenario from JSON and reports what is wrong with a bad one', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'xdr-scenario-'));
    const good = path.join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ verdicts: [{ observable: { type: 'domain', value: 'cisco.com' }, module: 'Umbrella', disposition: 1 }] }));
    expect((await loadScenarioFile(good)).verdicts).toHaveLength(1);
    expect(() => parseScenario({ verdicts: [{ observable: { type: 'domain', value: 'x' }, module: 'M', disposition: 9 }] })).toThrow(/disposition|9/);
  });
});
