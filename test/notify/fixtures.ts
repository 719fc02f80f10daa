import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Observable, TargetFinding } from '../../src/domain/types.js';
import type { HuntRef, IncidentView, ThreatOutcome, ThreatSummary } from '../../src/notify/notification.js';
import { TALOS_ROUNDUPS_DIR } from '../support/fixtures.js';

/**
 * Notification inputs built from the real Talos roundup files in test/fixtures,
 * so names, descriptions (with their quotes) and IOC values are the real ones.
 */
const TALOS_DIR = TALOS_ROUNDUPS_DIR;

interface RawThreat {
  description: string;
  hashes: string[];
  iocs: { domain: { host: string }[]; ip: { ip: string }[]; file: { path: string }[]; mutex: { name: string }[]; registry: { key: string }[] };
}
type RawRoundup = { signatures: string[]; info: { publication_date: string } } & Record<string, unknown>;

export function loadRoundup(file: string): { names: string[]; threats: Map<string, RawThreat>; publicationDate: string } {
  const raw = JSON.parse(readFileSync(path.join(TALOS_DIR, file), 'utf8')) as RawRoundup;
  const threats = new Map(raw.signatures.map((name) => [name, raw[name] as RawThreat]));
  return { names: raw.signatures, threats, publicationDate: raw.info.publication_date };
}

const refang = (v: string) => v.replace(/\[\.\]/g, '.').replace(/\/\d+$/, '');

export function observablesOf(t: RawThreat): Observable[] {
  return [
    ...t.iocs.domain.map((d) => ({ type: 'domain', value: refang(d.host) })),
    ...t.iocs.ip.map((i) => ({ type: 'ip', value: refang(i.ip) })),
    ...t.hashes.map((h) => ({ type: 'sha256', value: h })),
  ];
}

/** Distinct real observables across all six fixture files, file paths, mutexes and registry keys included to reach 5,000+. */
export function manyObservables(count: number): Observable[] {
  const seen = new Map<string, Observable>();
  for (const file of ['2020/1113.json', '2021/0617.json', '2021/0723.json', '2021/1203.json', '2023/0505.json', '2023/1110.json']) {
    for (const t of loadRoundup(file).threats.values()) {
      for (const o of observablesOf(t)) seen.set(`${o.type}:${o.value}`, o);
      for (const f of t.iocs.file) seen.set(`file_path:${f.path}`, { type: 'file_path', value: f.path });
      for (const m of t.iocs.mutex) seen.set(`mutex:${m.name}`, { type: 'mutex', value: m.name });
      for (const r of t.iocs.registry) seen.set(`registry_key:${r.key}`, { type: 'registry_key', value: r.key });
    }
  }
  const all = [...seen.values()];
  if (all.length < count) throw new Error(`fixtures hold only ${all.length} observables`);
  return all.slice(0, count);
}

export const hunt: HuntRef = {
  id: 'hunt-2021-07-23',
  label: 'week of 2021-07-23',
  uri: 'https://raw.githubusercontent.com/Cisco-Talos/Threat-Round-Up/master/2021/0723.json',
};

export function summaries(file = '2021/0723.json'): ThreatSummary[] {
  const r = loadRoundup(file);
  return r.names.map((name) => {
    const t = r.threats.get(name)!;
    return { name, description: t.description, observableCount: observablesOf(t).length, rejectedCount: 1 };
  });
}

/** A Secure Endpoint-style target (xdr-api.md §3: hostname, GUID, ip, mac). */
export function target(i: number, observables: Observable[]): TargetFinding {
  const host = `DESKTOP-${(0x10000 + i).toString(16).toUpperCase()}`;
  return {
    key: `hostname:${host.toLowerCase()}`,
    type: 'endpoint',
    identifiers: [
      { type: 'hostname', value: host },
      { type: 'amp_computer_guid', value: `68e94bf7-e239-4821-90d6-${(i + 1).toString().padStart(12, '0')}` },
      { type: 'ip', value: `10.1.${Math.floor(i / 250)}.${(i % 250) + 1}` },
      { type: 'mac_address', value: `85:28:cb:6a:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}` },
    ],
    modules: ['Secure Endpoint', 'Umbrella'],
    observables,
    firstSeen: '2021-07-20T08:12:03.000Z',
    lastSeen: '2021-07-22T17:40:00.000Z',
    sourceUris: [`https://console.amp.cisco.com/computers/68e94bf7-e239-4821-90d6-${i}/trajectory2`],
  };
}

export function outcome(name: string, description: string, targets: TargetFinding[], observables = 120): ThreatOutcome {
  return {
    name,
    description,
    observables,
    clean: 40,
    investigated: observables - 40,
    rejected: 3,
    targets,
    casebook: targets.length > 0 ? { id: 'casebook-7a1f0c52-2b7e-4a4e-9d55-0b3d6c1e9f10', url: 'https://securex.us.security.cisco.com/investigate?casebook=7a1f0c52' } : undefined,
    moduleErrors: [],
  };
}

/** The threat whose real description contains quotes. */
export function quotedThreat(): { name: string; description: string; observables: Observable[] } {
  const r = loadRoundup('2021/0723.json');
  const name = r.names.find((n) => r.threats.get(n)!.description.includes('"'))!;
  const t = r.threats.get(name)!;
  return { name, description: t.description, observables: observablesOf(t) };
}

export const incident: IncidentView = {
  id: 'incident-2230b97f-5e4c-4b2b-9d2a-6d8c7c1f0a11',
  targetKey: 'hostname:heimdallr',
  targetType: 'hostname',
  targetValue: 'heimdallr',
  count: 5,
  status: 'Open',
  firstSeen: '2022-03-01T10:00:00Z',
  lastSeen: '2022-03-01T12:30:00Z',
  lastIoc: { type: 'url', value: 'https://ictoms.site/ictom.zip' },
  lastSource: 'Private Intelligence',
  url: 'https://visibility.amp.cisco.com/incidents?q=id:incident-2230b97f#summary',
  rungsFired: ['eq 2 -> notify'],
};
