import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { XdrHttpClient } from '../../../src/clients/xdr/client.js';
import type { IncidentApi } from '../../../src/clients/xdr/incident-api.js';
import { FakeClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { huntSeverity } from '../../../src/domain/hunt/hunt-incident.js';
import { runHunt } from '../../../src/domain/hunt/run-hunt.js';
import { parseRoundup } from '../../../src/domain/talos/parse.js';
import type { Roundup } from '../../../src/domain/types.js';
import { endpointTarget, parseScenario, XdrEmulator } from '../../../src/emulators/xdr/index.js';
import { MemoryHuntProgress } from '../../../src/services/hunt-progress.js';
import { TALOS_ROUNDUPS_DIR } from '../../support/fixtures.js';
import { RecordingNotifier } from '../correlation/helpers.js';

/** HUNT_XDR_OUTPUT=incident|both over the real 2021/0723 roundup against the XDR emulator. */
let roundup: Roundup;
let xdr: XdrEmulator;
const seen = '2021-07-21T09:00:00.000Z';

beforeAll(async () => {
  roundup = parseRoundup(await readFile(path.join(TALOS_ROUNDUPS_DIR, '2021/0723.json'), 'utf8'), 'x', { includeSampleHashes: false, cidrExpandMax: 4 });
  const [first, , third] = roundup.threats;
  const hashOf = (t: Roundup['threats'][number]) => t.observables.find((o) => o.type === 'sha256')!;
  xdr = new XdrEmulator({
    scenario: parseScenario({
      verdicts: [
        { observable: first!.observables[0]!, module: 'Talos Intelligence', disposition: 1 },
        { observable: hashOf(first!), module: 'Secure Endpoint', disposition: 2 },
        { observable: hashOf(third!), module: 'Umbrella', disposition: 3 },
      ],
      sightings: [
        { observable: hashOf(first!), module: 'Secure Endpoint', targets: [endpointTarget({ hostname: 'WS-FIN-042', ip: '10.0.4.42' }, seen)], internal: true },
        { observable: hashOf(first!), module: 'Umbrella', targets: [endpointTarget({ hostname: 'WS-HR-007' }, seen)], internal: true },
        { observable: hashOf(third!), module: 'Umbrella', targets: [endpointTarget({ hostname: 'LAB-7' }, seen)], internal: true },
      ],
    }),
  });
  await xdr.start();
});
afterAll(() => xdr.stop());
beforeEach(() => xdr.reset());

async function hunt(output: 'casebook' | 'incident' | 'both', api: IncidentApi = 'private-intel') {
  const client = new XdrHttpClient({ xdr: xdr.xdrConfig({ incidentApi: api }), logger: silentLogger, httpOptions: { retry: { retries: 2, minTimeoutMs: 1, maxTimeoutMs: 5 } } });
  const notifier = new RecordingNotifier();
  const outcomes = await runHunt(roundup, { id: 'h1', label: '2021-07-23', uri: 'x' }, {
    xdr: client,
    notifier,
    progress: new MemoryHuntProgress(),
    clock: new FakeClock('2021-07-24T10:00:00Z'),
    logger: silentLogger,
    excludedModules: ['Talos Intelligence'],
    cleanRule: 'unless-malicious',
    casebookUrl: (id) => `cb:${id}`,
    incidentUrl: (id) => `inc:${id}`,
    xdrOutput: output,
  });
  return { outcomes, notifier };
}

const ours = () => xdr.state.incident.filter((i) => String(i.title).startsWith('Talos – '));

describe('HUNT_XDR_OUTPUT', () => {
  it('incident: one XDR incident per threat with targets, targets and IOCs linked, severity from the verdicts, no casebook', async () => {
    const { outcomes } = await hunt('incident');
    const [first, , third] = roundup.threats;
    expect(xdr.state.casebook).toHaveLength(0);
    const incidents = ours();
    expect(incidents.map((i) => [i.title, i.severity, (i.scores as { ttp: number; global: number }).global]).sort()).toEqual(
      [
        [`Talos – ${first!.name}`, 'High', 72], // Malicious; two targets
        [`Talos – ${third!.name}`, 'Medium', 50], // Suspicious; one target
      ].sort(),
    );
    const firstInc = incidents.find((i) => i.title === `Talos – ${first!.name}`)!;
    expect(firstInc).toMatchObject({ promotion_method: 'Automated', status: 'New', detection_sources: ['Secure Endpoint', 'Umbrella'], enrichment_status: expect.any(String) });
    expect(String(firstInc.description)).not.toContain(first!.observables[0]!.value); // Clean one left out
    // Each target is a sighting member-of the incident, carrying the IOC it sighted and the target's identifiers.
    const members = xdr.state.relationship.filter((r) => r.relationship_type === 'member-of' && r.target_ref === firstInc.id);
    const sightings = members.map((r) => xdr.state.sighting.find((s) => s.id === r.source_ref)!);
    expect(sightings.map((s) => (s.targets as { observables: { value: string }[] }[])[0]!.observables[0]!.value).sort()).toEqual(['WS-FIN-042', 'WS-HR-007']);
    expect(sightings.every((s) => /sightline/i.test(String(s.source)))).toBe(true);
    expect(outcomes.find((o) => o.name === first!.name)!.incident).toEqual({ id: firstInc.id, url: `inc:${firstInc.id}` });
    expect(outcomes.find((o) => o.name === first!.name)!.casebook).toBeUndefined();
  });

  it('a second run of the same hunt finds everything again by external id (no duplicates), on either API', async () => {
    for (const api of ['private-intel', 'ctia'] as const) {
      xdr.reset();
      await hunt('incident', api);
      const counts = () => [ours().length, xdr.state.sighting.length, xdr.state.relationship.length];
      const before = counts();
      await hunt('incident', api);
      expect(counts()).toEqual(before);
      expect(before).toEqual([2, 3, 3]);
    }
  });

  it('both: the casebook and the incident, the casebook related-to the incident; casebook (default) files no incident', async () => {
    const { outcomes } = await hunt('both');
    expect(xdr.state.casebook).toHaveLength(2);
    expect(ours()).toHaveLength(2);
    const related = xdr.state.relationship.filter((r) => r.relationship_type === 'related-to');
    expect(related.map((r) => [String(r.source_ref).includes('/casebook/'), String(r.target_ref).includes('/incident/')])).toEqual([
      [true, true],
      [true, true],
    ]);
    expect(outcomes.filter((o) => o.casebook && o.incident)).toHaveLength(2);
    xdr.reset();
    await hunt('casebook');
    expect([xdr.state.casebook.length, ours().length]).toEqual([2, 0]);
  });

  it('severity: Malicious → High, Suspicious → Medium, otherwise Low (only verdicts on sighted IOCs count)', () => {
    const a = { type: 'domain', value: 'a.example' };
    const b = { type: 'domain', value: 'b.example' };
    expect(huntSeverity([{ observable: a, disposition: 2, module: 'm' }], [a])).toBe('High');
    expect(huntSeverity([{ observable: a, disposition: 2, module: 'm' }, { observable: b, disposition: 3, module: 'm' }], [b])).toBe('Medium');
    expect(huntSeverity([{ observable: b, disposition: 5, module: 'm' }], [b])).toBe('Low');
  });
});
