import type { Observable } from '../../domain/types.js';

/**
 * A regex stand-in for IROH inspect (xdr-api.md §3.1): text → unique observables.
 * Refangs the usual defanging (`[.]`, `(.)`, `hxxp`) first, like analysts paste.
 */
const PATTERNS: [type: string, re: RegExp][] = [
  ['url', /\bhttps?:\/\/[^\s"'<>\])]+/gi],
  ['sha256', /\b[a-f0-9]{64}\b/gi],
  ['sha1', /\b[a-f0-9]{40}\b/gi],
  ['md5', /\b[a-f0-9]{32}\b/gi],
  ['ip', /\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b/g],
  ['domain', /\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{1,62}\b/gi],
];

/** File names look like domains; IROH does not report these as domains. */
const FILE_EXTENSIONS = new Set(['exe', 'dll', 'sys', 'bat', 'cmd', 'ps1', 'vbs', 'tmp', 'dat', 'bin', 'lnk', 'doc', 'docx', 'xls', 'xlsx', 'pdf', 'jar', 'scr', 'txt', 'js', 'hta']);

export function refang(text: string): string {
  return text
    .replace(/\[\.\]|\(\.\)|\{\.\}|\[dot\]/gi, '.')
    .replace(/\[:\]/g, ':')
    .replace(/\bhxxp(s?):\/\//gi, 'http$1://');
}

export function extractObservables(text: string): Observable[] {
  const content = refang(text);
  const found = new Map<string, Observable>();
  const add = (type: string, value: string) => {
    const key = `${type}|${value}`;
    if (!found.has(key)) found.set(key, { type, value });
  };
  for (const [type, re] of PATTERNS) {
    for (const m of content.matchAll(re)) {
      const value = m[0];
      if (type === 'domain') {
        const tld = value.split('.').pop()!.toLowerCase();
        if (FILE_EXTENSIONS.has(tld) || /^[\d.]+$/.test(value) || isInsideUrlOrEmail(content, m.index, value)) continue;
        add('domain', value.toLowerCase());
      } else add(type, ['sha256', 'sha1', 'md5'].includes(type) ? value.toLowerCase() : value);
    }
  }
  return [...found.values()];
}

function isInsideUrlOrEmail(text: string, index: number, value: string): boolean {
  const before = text.slice(Math.max(0, index - 10), index);
  const after = text[index + value.length];
  return /:\/\/[^\s]*$/.test(before) || before.endsWith('@') || after === '@';
}
