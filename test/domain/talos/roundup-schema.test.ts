import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/core/errors.js';
import { parseRoundup } from '../../../src/domain/talos/parse.js';
import { TALOS_ROUNDUPS_DIR } from '../../support/fixtures.js';

const opts = { includeSampleHashes: false, cidrExpandMax: 4 };
const small = () => JSON.parse(readFileSync(path.join(TALOS_ROUNDUPS_DIR, '2021/1203.json'), 'utf8')) as Record<string, unknown>;

function errorOf(input: unknown): ValidationError {
  try {
    parseRoundup(input, 'the file', opts);
  } catch (err) {
    if (err instanceof ValidationError) return err;
    throw err;
  }
  throw new Error('expected a ValidationError');
}

describe('roundup validation errors', () => {
  it('non-JSON text', () => {
    expect(errorOf('this is not json').userMessage).toMatch(/^the file is not valid JSON/);
  });

  it('an HTML page (a soft 404 or a login page)', () => {
    expect(errorOf('<!DOCTYPE html><html></html>').userMessage).toMatch(/looks like an HTML page/);
  });

  it('a JSON array or scalar', () => {
    expect(errorOf('[1,2]').userMessage).toMatch(/JSON array, not an object/);
    expect(errorOf('42').userMessage).toMatch(/JSON number/);
  });

  it('a STIX bundle from Cisco-Talos/IOCs', () => {
    expect(errorOf({ type: 'bundle', spec_version: '2.0', objects: [] }).userMessage).toMatch(/no "signatures" list\. It looks like a STIX bundle/);
  });

  it('a signature without its threat entry', () => {
    const data = small();
    (data.signatures as string[]).push('Win.Missing.Thing-1-0');
    expect(errorOf(data).userMessage).toMatch(/lists "Win\.Missing\.Thing-1-0" but the file has no entry/);
  });

  it('a threat whose IOC list has the wrong shape names the path', () => {
    const data = small();
    (data['Win.Trojan.Zeus-9912932-0'] as { iocs: { domain: unknown } }).iocs.domain = [{ host: 42, hashes: [] }];
    const err = errorOf(data);
    expect(err.userMessage).toMatch(/threat "Win\.Trojan\.Zeus-9912932-0" does not have the expected shape \(iocs\.domain\.0\.host:/);
    expect(err.problems[0]?.path).toBe('iocs.domain.0.host');
  });

  it('an empty signatures list', () => {
    expect(errorOf({ signatures: [] }).userMessage).toMatch(/the top level does not have the expected shape \(signatures:/);
  });

  it('rejects bad CIDR values in the ip list with a reason instead of failing', () => {
    const r = parseRoundup({ signatures: ['T'], T: { hashes: [], iocs: { ip: [{ ip: '1[.]2[.]3[.]4/99', hashes: [] }, { ip: '1[.]2[.]3/24', hashes: [] }, { ip: 'x', hashes: [] }] } } }, 's', opts);
    expect(r.threats[0]?.rejected.map((x) => x.reason)).toEqual(['not a valid CIDR prefix', 'not a valid IPv4 address', 'not a valid IPv4 address']);
    expect(r.threats[0]?.observables).toEqual([]);
  });

  it('tolerates missing optional parts: no info, no exprev, a missing IOC list, null value_name', () => {
    const r = parseRoundup({ signatures: ['A.B.C-1-0'], 'A.B.C-1-0': { hashes: [], iocs: { domain: [{ host: 'x[.]com', hashes: [] }], registry: [{ key: 'K', value_name: null, hashes: [] }] } } }, 's', opts);
    expect(r.threats[0]).toMatchObject({ name: 'A.B.C-1-0', observables: [{ type: 'domain', value: 'x.com' }], context: { registry: ['K'] }, reportsCount: 0 });
    expect(r.publicationDate).toBeUndefined();
  });
});
