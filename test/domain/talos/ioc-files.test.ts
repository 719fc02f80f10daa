import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONTEXT_REASONS, type IocFileResult } from '../../../src/domain/talos/ioc-collector.js';
import { parseIocText } from '../../../src/domain/talos/ioc-text.js';
import { parseMispEvent } from '../../../src/domain/talos/misp-event.js';
import { groupPostFiles, parseIocFile, parsePost } from '../../../src/domain/talos/post.js';
import { TALOS_IOCS_DIR } from '../../support/fixtures.js';

/** Every sample IOC file, as a repository path (YYYY/MM/name). */
const FILES = readdirSync(TALOS_IOCS_DIR, { recursive: true, encoding: 'utf8' })
  .filter((f) => /\.(json|txt)$/.test(f))
  .map((f) => f.split(path.sep).join('/'))
  .sort();
const read = (file: string) => readFileSync(path.join(TALOS_IOCS_DIR, file), 'utf8');
const parse = (file: string) => parseIocFile({ path: file, text: read(file) });
const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

/** Independent count of a STIX 2 bundle: every quoted comparison value except `*_ref.type`, by what its path holds. */
function countBundle(json: { objects: Array<{ type: string; pattern?: string }> }): { total: number; byType: Record<string, number> } {
  const byType: Record<string, number> = {};
  let total = 0;
  for (const o of json.objects) {
    if (o.type !== 'indicator' || !o.pattern) continue;
    const ipv6 = o.pattern.includes("'ipv6-addr'");
    for (const m of o.pattern.matchAll(/([a-z0-9-]+:[A-Za-z0-9_.]+)\s*=\s*'([^']*)'/g)) {
      const p = m[1]!;
      if (p.endsWith('_ref.type')) continue;
      total++;
      const type =
        p === 'file:hashes.SHA256' ? 'sha256' : p === 'url:value' ? 'url' : p === 'domain-name:value' ? 'domain' : /_ref\.value$/.test(p) ? (ipv6 ? 'ipv6' : 'ip') : `other:${p}`;
      byType[type] = (byType[type] ?? 0) + 1;
    }
  }
  return { total, byType };
}

describe('conservation: every value of every sample file is an observable or counted context', () => {
  it('finds all the sample files', () => {
    expect(FILES.length).toBe(15);
  });

  it.each(FILES.filter((f) => f.endsWith('.json') && f !== '2022/11/emotet-coming-in-hot.json'))('%s (STIX 2 bundle)', (file) => {
    const json = JSON.parse(read(file)) as Parameters<typeof countBundle>[0];
    const expected = countBundle(json);
    const result = parse(file);
    expect(result.format).toBe('stix2-bundle');
    expect(sum(result.tally.observables) + sum(result.tally.context)).toBe(expected.total);
    expect(result.tally.observables).toEqual(expected.byType);
    const indicators = json.objects.filter((o) => o.type === 'indicator').length;
    expect(expected.total).toBeGreaterThanOrEqual(indicators);
  });

  it('2022/11/emotet-coming-in-hot.json (STIX 1.1.1 package): one value per indicator', () => {
    const json = JSON.parse(read('2022/11/emotet-coming-in-hot.json'));
    const indicators = json.related_packages.related_packages[0].package.incidents[0].related_indicators.indicators as Array<{
      indicator: { observable: { object: { properties: Record<string, unknown> } } };
    }>;
    const kinds: Record<string, number> = {};
    for (const i of indicators) {
      const t = String(i.indicator.observable.object.properties['xsi:type']);
      kinds[t] = (kinds[t] ?? 0) + 1;
    }
    const result = parse('2022/11/emotet-coming-in-hot.json');
    expect(result.format).toBe('stix1-package');
    expect(sum(result.tally.observables) + sum(result.tally.context)).toBe(indicators.length);
    expect(result.tally.observables.sha256).toBe(kinds.FileObjectType);
    expect(result.tally.observables.url).toBe(kinds.URIObjectType);
    // DomainNameObjectType values that are IPv4 addresses are read as IPs.
    expect((result.tally.observables.domain ?? 0) + (result.tally.observables.ip ?? 0)).toBe(kinds.DomainNameObjectType);
    expect(result.title).toBe('Emotet is firing up its engines for another campaign');
  });

  it.each(FILES.filter((f) => f.endsWith('.txt')))('%s (text)', (file) => {
    const lines = read(file).split(/\r?\n/).map((l) => l.trim());
    const underline = (l: string | undefined) => l !== undefined && /^(={3,}|-{3,})$/.test(l);
    const values = lines.filter((l, i) => l !== '' && !underline(l) && !underline(lines[i + 1]));
    const result = parse(file);
    expect(result.format).toBe('text');
    expect(sum(result.tally.observables) + sum(result.tally.context)).toBe(values.length);
    expect(result.tally.observables.sha256 ?? 0).toBe(values.filter((v) => /^[0-9a-f]{64}$/i.test(v)).length);
    expect(result.observables.some((o) => o.value.includes('[.]') || o.value.includes('[:]'))).toBe(false);
  });
});

describe('posts: name, link and the union of the .json and the .txt', () => {
  const post = (...files: string[]) => parsePost(files.map((f) => ({ path: f, text: read(f) })));

  it('names the post after the report and links the blog post from observed-data', () => {
    const t = post('2025/11/Kraken-ransomware-group.json', '2025/11/kraken-ransomware-group.txt');
    expect(t.name).toBe('Unleashing the Kraken ransomware group');
    expect(t.link).toBe('https://blog.talosintelligence.com/kraken-ransomware-group/');
    expect(t.observables).toHaveLength(11);
  });

  it('picks the Talos address when a bundle also holds a VirusTotal url', () => {
    const t = post('2023/04/new-phishing-as-a-service-tool-greatness-already-seen-in-the-wild.json');
    expect(t.link).toBe('https://blog.talosintelligence.com/new-phishing-as-a-service-tool-greatness-already-seen-in-the-wild/');
  });

  it('takes the union and reports what the .txt added (JWR: 235 domains the bundle lacks)', () => {
    const json = parse('2026/08/dissecting-the-jwr-phishing-framework.json');
    const t = post('2026/08/dissecting-the-jwr-phishing-framework.txt', '2026/08/dissecting-the-jwr-phishing-framework.json');
    const [first, second] = t.files!;
    expect(first!.file).toMatch(/\.json$/);
    expect(first!.added).toBe(json.observables.length);
    expect(second!.added).toBe(235);
    expect(t.observables).toHaveLength(json.observables.length + 235);
    expect(new Set(t.observables.map((o) => `${o.type}|${o.value}`)).size).toBe(t.observables.length);
  });

  it('uses the file name when there is no report', () => {
    expect(post('2025/06/pathwiper.txt').name).toBe('pathwiper');
  });

  it('groups a month folder by post, case-insensitively, ignoring stray files', () => {
    const groups = groupPostFiles(['2025/11/Kraken-ransomware-group.json', '2025/11/kraken-ransomware-group.txt', '2025/11/lang5.py', '2025/11/other.txt']);
    expect(groups.map((g) => g.paths)).toEqual([['2025/11/Kraken-ransomware-group.json', '2025/11/kraken-ransomware-group.txt'], ['2025/11/other.txt']]);
  });
});

describe('text files: headings decide what a block holds', () => {
  it('keeps setup.exe as a file name under a file heading and without heading, but a domain under a domain heading', () => {
    const r = parseIocText('loose.dll\nexample[.]org\n\nFile names\n==========\nsetup.exe\n\nDomains\n=======\nevil[.]example\n');
    expect(r.observables).toEqual([
      { type: 'domain', value: 'example.org' },
      { type: 'domain', value: 'evil.example' },
    ]);
    expect(r.rejected.map((x) => [x.value, x.reason])).toEqual([
      ['loose.dll', CONTEXT_REASONS.fileName],
      ['setup.exe', CONTEXT_REASONS.fileName],
    ]);
  });

  it('reads IPs, IPv6, e-mail and MD5 under their headings', () => {
    const r = parseIocText('IP addresses\n===\n10.0.0[.]1\n2001:db8::1\n\nSenders\n---\nbad[@]evil[.]example\n\nMD5\n===\nd41d8cd98f00b204e9800998ecf8427e\n');
    expect(r.observables.map((o) => o.type)).toEqual(['ip', 'ipv6', 'email', 'md5']);
  });
});

describe('MISP event export', () => {
  const event = {
    response: [
      {
        Event: {
          info: 'A Talos post',
          date: '2023-03-01',
          Attribute: [
            { type: 'sha256', value: 'A'.repeat(64) },
            { type: 'domain', value: 'evil[.]example' },
            { type: 'ip-dst', value: '192.0.2.1' },
            { type: 'filename|sha256', value: `drop.exe|${'b'.repeat(64)}` },
            { type: 'mutex', value: 'Global\\x' },
            { type: 'link', value: 'https://blog.talosintelligence.com/a-post/' },
            { type: 'email-src', value: 'a@evil.example' },
          ],
          Object: [{ Attribute: [{ type: 'md5', value: 'c'.repeat(32) }, { type: 'port', value: '443' }] }],
        },
      },
    ],
  };

  it('reads title, link, observables and context, conserving every attribute value', () => {
    const r: IocFileResult = parseMispEvent(event, 'misp.json');
    expect(r.title).toBe('A Talos post');
    expect(r.link).toBe('https://blog.talosintelligence.com/a-post/');
    expect(r.tally.observables).toEqual({ sha256: 2, domain: 1, ip: 1, email: 1, md5: 1 });
    expect(r.tally.context).toEqual({ [CONTEXT_REASONS.fileName]: 1, [CONTEXT_REASONS.mutex]: 1, [CONTEXT_REASONS.port]: 1 });
    expect(parseIocFile({ path: 'm.json', text: JSON.stringify(event) }).format).toBe('misp-event');
  });
});
