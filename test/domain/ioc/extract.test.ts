import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EXTRACT_REASONS, extractIocs, MAX_TEXT_CHARS } from '../../../src/domain/ioc/extract.js';
import { htmlToText } from '../../../src/domain/ioc/html-text.js';
import { classifyIndicator } from '../../../src/domain/ioc/validate.js';

const SHA256 = '8fda14f91e27afec5c1b1f71d708775c9b6e2af31e8331bbf26751bc0583dc7e';
const SHA1 = 'da39a3ee5e6b4b0d3255bfef95601890afd80709';
const MD5 = 'd41d8cd98f00b204e9800998ecf8427e';

const values = (text: string) => extractIocs(text).observables.map((o) => `${o.type}:${o.value}`);

describe('extractIocs', () => {
  it('refangs defanged URLs, domains and addresses', () => {
    const found = values('Payload at hxxps://evil[.]com/a, C2 1[.]2[.]3[.]4 and evil2[dot]com; also 5.6.7[.]8 and hxxp[://]bad(.)net/x');
    expect(found).toEqual([
      'url:https://evil.com/a',
      'domain:evil.com',
      'ip:1.2.3.4',
      'domain:evil2.com',
      'ip:5.6.7.8',
      'url:http://bad.net/x',
      'domain:bad.net',
    ]);
  });

  it('tells hashes apart by length and lower-cases them', () => {
    expect(values(`sha256: ${SHA256.toUpperCase()} sha1=${SHA1} md5 (${MD5}).`)).toEqual([`sha256:${SHA256}`, `sha1:${SHA1}`, `md5:${MD5}`]);
    expect(values('a'.repeat(63) + ' ' + 'b'.repeat(65))).toEqual([]);
  });

  it('reads text, not markup, from HTML', () => {
    const html = `<p class="x.y">Contacted <b>ilo.brenz[.]pl</b></p><script>var a = "script.evil.com";</script><style>.a.b{}</style><a href="https://vendor.example.org/">link</a> &amp; 10.0.0.1`;
    expect(values(html)).toEqual(['domain:ilo.brenz.pl', 'ip:10.0.0.1']);
  });

  it('does not turn file names into domains, and says so', () => {
    const result = extractIocs('The dropper invoice.exe loads helper.dll; see report.pdf');
    expect(result.observables).toEqual([]);
    expect(result.rejected.map((r) => r.value)).toEqual(['invoice.exe', 'helper.dll', 'report.pdf']);
    expect(result.rejected.every((r) => r.reason === EXTRACT_REASONS.fileName)).toBe(true);
  });

  it('keeps real TLDs that look like extensions (.zip is a TLD)', () => {
    expect(values('download from ictoms[.]zip now')).toEqual(['domain:ictoms.zip']);
  });

  it('ignores prose with dots and deduplicates', () => {
    expect(values('e.g. version 1.2.3 of it; evil.com evil.com EVIL.COM.')).toEqual(['domain:evil.com']);
  });

  it('finds e-mail addresses and URLs with ports', () => {
    expect(values('from phish[@]bad-mail.com via http://1.2.3.4:8080/gate.php')).toEqual([
      'email:phish@bad-mail.com',
      'url:http://1.2.3.4:8080/gate.php',
      'ip:1.2.3.4',
    ]);
  });

  it('finds the sample hash inside a sandbox or VirusTotal link', () => {
    expect(values(`https://www.virustotal.com/gui/file/${SHA256}/detection`)).toEqual([
      `url:https://www.virustotal.com/gui/file/${SHA256}/detection`,
      'domain:www.virustotal.com',
      `sha256:${SHA256}`,
    ]);
  });

  it('decodes entities in plain text (X escapes tweet text)', () => {
    expect(values('C2: evil[.]com&amp;bad[.]net')).toEqual(['domain:evil.com', 'domain:bad.net']);
  });

  it('reads only the first MAX_TEXT_CHARS characters', () => {
    const result = extractIocs(`${'x '.repeat(MAX_TEXT_CHARS / 2)} late.example.com`);
    expect(result.truncated).toBe(true);
    expect(result.observables).toEqual([]);
  });

  it('finishes on 200 KB of adversarial garbage', () => {
    const pieces = ['<script', '<<<', 'a.', 'hxxp[.]', '[dot]', '(.)', '&#x', '@@', '1.', 'http://', '<!--', 'ab'.repeat(40)];
    let garbage = '';
    for (let i = 0; garbage.length < 200_000; i++) garbage += pieces[i % pieces.length]!;
    const result = extractIocs(garbage);
    expect(Array.isArray(result.observables)).toBe(true);
  });

  it('never throws, and everything it returns is a valid indicator (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (text) => {
        const { observables } = extractIocs(text);
        for (const o of observables) {
          if (o.type === 'email') continue;
          const again = classifyIndicator(o.value);
          expect(again.ok).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.array(fc.constantFrom('evil', '[.]', '.', 'com', ' ', 'hxxp', '://', '<', '>', '1', '/', '@', '[dot]'), { maxLength: 60 }), (parts) => {
        extractIocs(parts.join(''));
      }),
      { numRuns: 500 },
    );
  });
});

describe('htmlToText', () => {
  it('drops scripts, styles, comments and tags, and decodes entities', () => {
    expect(htmlToText('<div>a&nbsp;&lt;b&gt; &#46; &#x2e;<!-- hidden.com --></div><SCRIPT>x</SCRIPT>c')).toBe('a <b> . . c');
  });

  it('drops everything after an unclosed script', () => {
    expect(htmlToText('keep <script>lost evil.com')).toBe('keep');
  });
});
