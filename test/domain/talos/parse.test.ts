import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { refang } from '../../../src/domain/ioc/refang.js';
import { REASONS } from '../../../src/domain/ioc/validate.js';
import { parseRoundup, summarizeRejections } from '../../../src/domain/talos/parse.js';
import type { Roundup, Threat } from '../../../src/domain/types.js';
import { TALOS_ROUNDUPS_DIR } from '../../support/fixtures.js';

const FIXTURES = TALOS_ROUNDUPS_DIR;
const FILES = ['2020/1113.json', '2021/0617.json', '2021/0723.json', '2021/1203.json', '2023/0505.json', '2023/1110.json'];
const DEFAULTS = { includeSampleHashes: false, cidrExpandMax: 4 };

type RawEntry = { hashes: string[]; host?: string; ip?: string };
type RawThreat = { hashes: string[]; iocs: Record<'domain' | 'ip' | 'file' | 'mutex' | 'registry', RawEntry[]> };

const text = (file: string) => readFileSync(path.join(FIXTURES, file), 'utf8');
const raw = (file: string) => JSON.parse(text(file)) as Record<string, unknown> & { signatures: string[] };
const parse = (file: string, opts = DEFAULTS): Roundup => parseRoundup(text(file), file, opts);
const threat = (r: Roundup, name: string): Threat => {
  const t = r.threats.find((x) => x.name === name);
  if (!t) throw new Error(`no threat ${name}`);
  return t;
};
const has = (t: Threat, type: string, value: string) => t.observables.some((o) => o.type === type && o.value === value);

describe('parseRoundup on the real Talos files', () => {
  it.each(FILES)('%s: one threat per signature, in signatures order', (file) => {
    const roundup = parse(file);
    expect(roundup.threats.map((t) => t.name)).toEqual(raw(file).signatures);
    expect(roundup.publicationDate).toMatch(/^\d{4}-\d{2}-\d{2}T/);
  });

  it.each(FILES)('%s: every input value becomes an observable or a rejection, and nothing else appears', (file) => {
    for (const includeSampleHashes of [false, true]) {
      const data = raw(file);
      const roundup = parse(file, { includeSampleHashes, cidrExpandMax: 4 });
      for (const t of roundup.threats) {
        const src = data[t.name] as RawThreat;
        const rejected = new Set(t.rejected.map((r) => r.value));
        const explained = new Set<string>();
        for (const e of src.iocs.domain) {
          const v = refang(e.host!);
          const ok = has(t, 'domain', v.toLowerCase()) || has(t, 'ip', v);
          expect(ok || rejected.has(v), `${file} ${t.name} domain ${v}`).toBe(true);
          explained.add(v.toLowerCase());
        }
        for (const e of src.iocs.ip) {
          const v = refang(e.ip!);
          const base = v.split('/')[0]!;
          expect(has(t, 'ip', base) || rejected.has(v), `${file} ${t.name} ip ${v}`).toBe(true);
          explained.add(base);
        }
        const hashes = new Set<string>();
        for (const kind of ['file', 'mutex', 'registry', 'domain', 'ip'] as const) for (const e of src.iocs[kind]) for (const h of e.hashes) hashes.add(h);
        if (includeSampleHashes) for (const h of src.hashes) hashes.add(h);
        const sha = t.observables.filter((o) => o.type === 'sha256').map((o) => o.value);
        expect(new Set(sha)).toEqual(hashes);
        // Conservation of network indicators: each observable traces back to an input (CIDR expansion adds neighbours).
        for (const o of t.observables.filter((x) => x.type !== 'sha256')) {
          const traced = explained.has(o.value) || src.iocs.ip.some((e) => refang(e.ip!).includes('/') && sameSlash31(refang(e.ip!), o.value));
          expect(traced, `${file} ${t.name} observable ${o.value}`).toBe(true);
        }
      }
    }
  });

  it('dedupes per threat: no observable twice, even though IOC hashes repeat across file/mutex/registry', () => {
    for (const file of FILES) {
      for (const t of parse(file, { includeSampleHashes: true, cidrExpandMax: 4 }).threats) {
        const keys = t.observables.map((o) => `${o.type}:${o.value}`);
        expect(new Set(keys).size).toBe(keys.length);
      }
    }
    const dridex = threat(parse('2020/1113.json'), 'Win.Packed.Dridex-9789286-1');
    expect(dridex.observables.filter((o) => o.type === 'sha256')).toHaveLength(25);
    const withSamples = threat(parse('2020/1113.json', { includeSampleHashes: true, cidrExpandMax: 4 }), 'Win.Packed.Dridex-9789286-1');
    expect(withSamples.observables.filter((o) => o.type === 'sha256')).toHaveLength(102);
  });

  it('2021/0617: rejects exactly the 19 single-label hosts, all in Adrozek', () => {
    const roundup = parse('2021/0617.json');
    const singles = roundup.threats.flatMap((t) => t.rejected.filter((r) => r.reason === REASONS.singleLabel).map((r) => ({ t: t.name, ...r })));
    expect(singles).toHaveLength(19);
    expect(new Set(singles.map((s) => s.t))).toEqual(new Set(['Win.Malware.Adrozek-9872066-1']));
    expect(singles.every((s) => s.field === 'iocs.domain')).toBe(true);
    expect(singles.map((s) => s.value)).toContain('17');
  });

  it('2021/0723: 14 single-label hosts in Zusy, and /31 ranges expanded to both addresses', () => {
    const roundup = parse('2021/0723.json');
    const zusy = threat(roundup, 'Win.Packed.Zusy-9878674-0');
    expect(summarizeRejections(zusy)).toEqual([{ reason: REASONS.singleLabel, count: 14 }]);
    expect(roundup.threats.flatMap((t) => t.rejected).filter((r) => r.reason === REASONS.singleLabel)).toHaveLength(14);
    const tofsee = threat(roundup, 'Win.Packed.Tofsee-9879722-1');
    for (const ip of ['40.93.207.0', '40.93.207.1', '211.231.108.46', '211.231.108.47', '173.194.207.104', '173.194.207.105']) expect(has(tofsee, 'ip', ip)).toBe(true);
    expect(tofsee.rejected).toEqual([]);
    expect(tofsee.observables.every((o) => !o.value.includes('/') && !o.value.includes('['))).toBe(true);
  });

  it('2021/0723 with TALOS_CIDR_EXPAND_MAX=1: keeps the base address and records the range', () => {
    const tofsee = threat(parse('2021/0723.json', { includeSampleHashes: false, cidrExpandMax: 1 }), 'Win.Packed.Tofsee-9879722-1');
    expect(has(tofsee, 'ip', '40.93.207.0')).toBe(true);
    expect(has(tofsee, 'ip', '40.93.207.1')).toBe(false);
    expect(tofsee.rejected).toContainEqual({
      value: '40.93.207.0/31',
      reason: 'CIDR range /31 too large to expand (2 addresses); base address kept',
      field: 'iocs.ip',
    });
  });

  it('2023/0505: /27 and /22 are too large; the base address is kept', () => {
    const cerber = threat(parse('2023/0505.json'), 'Win.Ransomware.Cerber-9999985-0');
    expect(has(cerber, 'ip', '94.23.172.0')).toBe(true);
    expect(summarizeRejections(cerber)).toEqual([
      { reason: 'CIDR range /27 too large to expand (32 addresses); base address kept', count: 2 },
      { reason: 'CIDR range /22 too large to expand (1024 addresses); base address kept', count: 1 },
    ]);
  });

  it('2021/1203: empty IOC lists give threats without those observables, not errors', () => {
    const roundup = parse('2021/1203.json');
    expect(roundup.threats).toHaveLength(8);
    const emotet = threat(roundup, 'Win.Malware.Emotet-9910766-0');
    expect(emotet.observables.some((o) => o.type === 'domain')).toBe(false);
    expect(emotet.observables.filter((o) => o.type === 'ip').length).toBeGreaterThan(0);
    const vobfus = threat(roundup, 'Win.Worm.Vobfus-9913252-0');
    expect(vobfus.observables.some((o) => o.type === 'ip')).toBe(false);
    expect(vobfus.context.mutexes).toEqual([]);
  });

  it('2023/1110: Doc. signatures parse; truncated IPv6 hosts are rejected as invalid names', () => {
    const roundup = parse('2023/1110.json');
    const doc = threat(roundup, 'Doc.Malware.Valyria-10013349-0');
    expect(roundup.threats.at(-1)).toBe(doc);
    expect(doc.observables.length).toBeGreaterThan(0);
    expect(doc.observables.every((o) => o.type === 'sha256')).toBe(true);
    const tofsee = threat(roundup, 'Win.Dropper.Tofsee-10013531-0');
    expect(tofsee.rejected.filter((r) => r.reason === REASONS.hostChars).map((r) => r.value).sort()).toEqual(['[2408', '[240e', '[2a01']);
  });

  it('keeps file paths, mutexes and registry keys as context, with null value names', () => {
    const njrat = threat(parse('2023/0505.json'), 'Win.Packed.njRAT-9999411-0');
    expect(njrat.reportsCount).toBe(12);
    expect(njrat.context.registry).toContain('<HKCU>\\ENVIRONMENT (value name: SEE_MASK_NOZONECHECKS)');
    expect(njrat.context.files.length).toBeGreaterThan(0);
    const data = raw('2023/0505.json');
    const nulls = (data['Win.Packed.njRAT-9999411-0'] as { iocs: { registry: Array<{ key: string; value_name: string | null }> } }).iocs.registry.filter((r) => r.value_name === null);
    for (const r of nulls) expect(njrat.context.registry).toContain(r.key);
  });

  it('accepts an already-parsed object as well as text', () => {
    expect(parseRoundup(raw('2021/1203.json'), 'x', DEFAULTS).threats).toHaveLength(8);
  });

  it('reports a bad hash as a rejection instead of failing the week', () => {
    const data = raw('2021/1203.json');
    const darkkomet = data['Win.Trojan.Darkkomet-9912346-0'] as RawThreat;
    darkkomet.iocs.file[0]!.hashes.push('not-a-hash');
    const t = threat(parseRoundup(data, 'x', DEFAULTS), 'Win.Trojan.Darkkomet-9912346-0');
    expect(t.rejected).toContainEqual({ value: 'not-a-hash', reason: REASONS.sha256, field: 'iocs.file.hashes' });
  });
});

/** True when `address` lies in the small CIDR range `cidr` (the test's own, independent check). */
function sameSlash31(cidr: string, address: string): boolean {
  const [base, prefix] = cidr.split('/') as [string, string];
  const toNum = (ip: string) => ip.split('.').reduce((n, p) => n * 256 + Number(p), 0);
  const size = 2 ** (32 - Number(prefix));
  if (size > 4) return false;
  return Math.floor(toNum(base) / size) === Math.floor(toNum(address) / size);
}
