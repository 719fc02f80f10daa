import { describe, expect, it } from 'vitest';
import { buildReport, overallVerdict } from '../../../src/domain/investigate/report.js';
import type { ModuleSighting, Verdict } from '../../../src/domain/types.js';

const hash = { type: 'sha256', value: 'a'.repeat(64) };
const domain = { type: 'domain', value: 'evil.example' };
const ip = { type: 'ip', value: '203.0.113.9' };
const host = (name: string) => ({ type: 'endpoint', observables: [{ type: 'hostname', value: name }, { type: 'amp_computer_guid', value: `guid-${name}` }] });

const base = { excludedModules: ['Talos Intelligence'], cleanRule: 'unless-malicious' as const, errors: [], links: [] };

describe('investigation report', () => {
  it('takes the worst verdict across modules, lists each module, and sorts worst first', () => {
    const verdicts: Verdict[] = [
      { observable: domain, module: 'Talos Intelligence', disposition: 1 },
      { observable: domain, module: 'Umbrella', disposition: 2 },
      { observable: ip, module: 'Talos Intelligence', disposition: 1 },
      { observable: hash, module: 'Secure Endpoint', disposition: 3 },
    ];
    const r = buildReport({ ...base, observables: [ip, hash, domain], verdicts, sightings: [] });
    expect(r.observables.map((o) => [o.observable.value, o.verdict])).toEqual([
      ['evil.example', 'Malicious'],
      [hash.value, 'Suspicious'],
      ['203.0.113.9', 'Clean'],
    ]);
    expect(r.observables[0]!.modules).toEqual([
      { module: 'Talos Intelligence', verdict: 'Clean' },
      { module: 'Umbrella', verdict: 'Malicious' },
    ]);
  });

  it('calls an observable nobody judged Unknown, and follows XDR_CLEAN_RULE for Clean', () => {
    const verdicts: Verdict[] = [
      { observable: domain, module: 'A', disposition: 1 },
      { observable: domain, module: 'B', disposition: 4 },
    ];
    expect(overallVerdict(ip, verdicts, new Set())).toBe('Unknown');
    expect(overallVerdict(domain, verdicts, new Set(['domain:evil.example']))).toBe('Clean');
    expect(overallVerdict(domain, verdicts, new Set())).toBe('Common');
  });

  it('counts only sightings on our targets: not threat-intel modules, not internal:false, not targetless', () => {
    const sightings: ModuleSighting[] = [
      { module: 'Secure Endpoint', sighting: { observables: [hash], targets: [host('DESKTOP-1')] } },
      { module: 'Talos Intelligence', sighting: { observables: [hash], targets: [host('INTEL-HOST')] } },
      { module: 'Umbrella', sighting: { observables: [domain], internal: false, targets: [host('OUTSIDE')] } },
      { module: 'Umbrella', sighting: { observables: [domain] } },
    ];
    const r = buildReport({
      ...base,
      observables: [hash, domain],
      verdicts: [],
      sightings,
      incidentFor: (key) => (key === 'hostname:desktop-1' ? { id: 'inc-1', count: 3 } : undefined),
    });
    expect(r.targets.map((t) => t.label)).toEqual(['DESKTOP-1']);
    expect(r.targets[0]!.incident).toEqual({ id: 'inc-1', count: 3 });
    expect(r.observables.find((o) => o.observable.type === 'sha256')!.sightedOn).toEqual(['hostname:desktop-1']);
    expect(r.observables.find((o) => o.observable.type === 'domain')!.sightedOn).toEqual([]);
  });

  it("gives each observable the links whose address names it, and the targets' actions to the targets", () => {
    const r = buildReport({
      ...base,
      observables: [domain, ip],
      verdicts: [],
      links: [
        { module: 'Talos Intelligence', title: 'Search', url: 'https://talos.example/lookup?search=evil.example' },
        { module: 'Talos Intelligence', title: 'Search', url: 'https://talos.example/lookup?search=203.0.113.9' },
        { module: 'Other', title: 'Console', url: 'https://console.example/' },
      ],
      sightings: [{ module: 'Secure Endpoint', sighting: { observables: [domain], targets: [host('H1')] } }],
      actionsFor: (o) => (o.type === 'amp_computer_guid' ? [{ offerId: `iso-${o.value}`, title: 'Isolate host', module: 'Secure Endpoint' }] : []),
    });
    expect(r.observables.find((o) => o.observable.type === 'domain')!.links.map((l) => l.url)).toEqual(['https://talos.example/lookup?search=evil.example']);
    expect(r.otherLinks.map((l) => l.url)).toEqual(['https://console.example/']);
    expect(r.targets[0]!.actions).toEqual([{ offerId: 'iso-guid-H1', title: 'Isolate host', module: 'Secure Endpoint' }]);
  });
});
