import { isIP } from 'node:net';
import type { Observable, RejectedValue } from '../types.js';
import { decodeEntities, htmlToText } from './html-text.js';
import { refang } from './refang.js';
import { classifyIndicator } from './validate.js';

/**
 * Finds indicators in free text (an RSS item, an article, a tweet) locally, so
 * a module needs no IROH inspect call for the common case and defanged values
 * (`hxxps://evil[.]com`, `1[.]2[.]3[.]4`, `evil[dot]com`) are understood.
 *
 * ReDoS safety: the text is capped, every regular expression is a single
 * character class or a fixed string (no nested quantifiers), and the rest is
 * plain scanning, so the cost is linear in the input.
 *
 * Found: http(s) URLs (plus their host as a domain/ip, because XDR modules
 * usually sight the host, not the full URL), domains, IPv4 addresses, md5/sha1/
 * sha256 (by length), e-mail addresses. Not found: IPv6 (too ambiguous in prose
 * next to times and ratios; IROH inspect can be switched on for those).
 */
export const MAX_TEXT_CHARS = 1_000_000;
const MAX_TOKEN_CHARS = 2_048;
const MAX_REJECTED = 200;
const HASH_TYPES: Record<number, string> = { 32: 'md5', 40: 'sha1', 64: 'sha256' };

/**
 * File extensions that are NOT top-level domains: `invoice.exe` or `loader.dll`
 * in a write-up is a file name, not a host. Extensions that ARE real TLDs
 * (`.zip`, `.mov`, `.sh`, `.py`, `.pl`, `.rs`, `.md`, `.so`, `.ps`) are kept:
 * attackers register `.zip`/`.mov` domains precisely because they look like
 * files, and a spurious `script.py` only costs one Unknown verdict.
 */
const FILE_EXTENSIONS = new Set([
  'exe', 'dll', 'sys', 'scr', 'bat', 'cmd', 'vbs', 'vbe', 'js', 'jse', 'wsf', 'hta', 'lnk', 'msi', 'cpl', 'ocx', 'drv',
  'jar', 'apk', 'dmg', 'iso', 'img', 'bin', 'dat', 'tmp', 'log', 'ini', 'cfg', 'conf', 'txt', 'csv', 'json', 'xml', 'yml', 'yaml',
  'pdf', 'doc', 'docx', 'docm', 'dot', 'xls', 'xlsx', 'xlsm', 'ppt', 'pptx', 'rtf', 'odt', 'eml', 'msg',
  'rar', 'tar', 'gz', 'tgz', 'bz', 'xz', 'cab', 'png', 'jpg', 'jpeg', 'gif', 'bmp', 'svg', 'ico', 'webp',
  'php', 'asp', 'aspx', 'jsp', 'cgi', 'htm', 'html', 'css', 'ts', 'elf', 'lib', 'pyc', 'psm', 'vhd', 'vhdx',
]);

export const EXTRACT_REASONS = {
  fileName: 'looks like a file name, not a domain',
  urlHost: 'URL host is not a valid domain or IP',
} as const;

export interface ExtractResult {
  observables: Observable[];
  rejected: RejectedValue[];
  /** True when the text was longer than MAX_TEXT_CHARS and only its start was read. */
  truncated: boolean;
}

export function extractIocs(text: string): ExtractResult {
  const truncated = text.length > MAX_TEXT_CHARS;
  let plain = truncated ? text.slice(0, MAX_TEXT_CHARS) : text;
  plain = plainText(plain);
  plain = refangText(plain);
  const found = new Collector();
  for (const raw of plain.split(/[\s<>"'`\u00a0\u200b]+/)) {
    const token = trimPunctuation(raw);
    if (token.length >= 4 && token.length <= MAX_TOKEN_CHARS) readToken(token, found);
  }
  return { observables: found.observables(), rejected: found.rejected, truncated };
}

/** Markup stripped; entities decoded even without tags (X returns tweet text with `&amp;`). */
export function plainText(text: string): string {
  if (text.includes('<') && text.includes('>')) return htmlToText(text);
  return text.includes('&') ? decodeEntities(text) : text;
}

/** `refang` handles the bracket forms anywhere; `hxxp` is also fixed mid-text here (refang only fixes a leading one). */
function refangText(text: string): string {
  const out = refang(text);
  return /hxxp/i.test(out) ? out.replace(/hxxp/gi, 'http') : out;
}

function readToken(token: string, found: Collector): void {
  const lower = token.toLowerCase();
  const plainAt = lower.indexOf('http://');
  const secureAt = lower.indexOf('https://');
  const at = plainAt === -1 ? secureAt : secureAt === -1 ? plainAt : Math.min(plainAt, secureAt);
  if (at >= 0) {
    if (at > 0) readPlain(token.slice(0, at), found);
    readUrl(trimPunctuation(token.slice(at)), found);
    return;
  }
  readPlain(token, found);
}

function readUrl(candidate: string, found: Collector): void {
  const url = classifyIndicator(candidate, 'url');
  if (!url.ok) return;
  let host = new URL(url.observable.value).hostname;
  if (host.startsWith('[')) return; // IPv6 literal: see the note at the top.
  host = host.toLowerCase();
  const hostResult = classifyIndicator(host, 'domain');
  if (!hostResult.ok) {
    found.reject(candidate, EXTRACT_REASONS.urlHost);
    return;
  }
  found.add(url.observable);
  found.add(hostResult.observable);
  readHashesInUrl(url.observable.value, found);
}

/** Sandbox and VirusTotal links carry the sample hash in their path or query (`/gui/file/<sha256>`). */
function readHashesInUrl(href: string, found: Collector): void {
  const tail = href.slice(href.indexOf('/', href.indexOf('//') + 2) + 1);
  for (const part of tail.split(/[^0-9a-fA-F]+/)) {
    const hashType = HASH_TYPES[part.length];
    if (hashType) found.add({ type: hashType, value: part.toLowerCase() });
  }
}

/** A token without a scheme: split on characters no domain, IP or hash contains, then classify each part. */
function readPlain(token: string, found: Collector): void {
  for (const rawPart of token.split(/[:=|,;&()[\]{}\\/]+/)) {
    const part = trimPunctuation(rawPart);
    if (part.length < 4 || part.length > 253 + 64) continue;
    const hashType = HASH_TYPES[part.length];
    if (hashType && isHex(part)) {
      found.add({ type: hashType, value: part.toLowerCase() });
    } else if (!part.includes('.')) {
      continue;
    } else if (isIP(part) === 4) {
      found.add({ type: 'ip', value: part });
    } else if (part.includes('@')) {
      readEmail(part, found);
    } else {
      readHost(part, found);
    }
  }
}

function readHost(part: string, found: Collector): void {
  const result = classifyIndicator(part, 'domain');
  if (!result.ok) return; // prose ("e.g.", "v1.2.3"): not an indicator, not worth reporting
  const value = result.observable.value;
  if (result.observable.type === 'domain' && FILE_EXTENSIONS.has(value.slice(value.lastIndexOf('.') + 1))) {
    found.reject(part, EXTRACT_REASONS.fileName);
    return;
  }
  found.add(result.observable);
}

function readEmail(part: string, found: Collector): void {
  const at = part.indexOf('@');
  if (at < 1 || at !== part.lastIndexOf('@')) return;
  const local = part.slice(0, at);
  if (!/^[a-z0-9._%+-]+$/i.test(local)) return;
  const domain = classifyIndicator(part.slice(at + 1), 'domain');
  if (!domain.ok || domain.observable.type !== 'domain') return;
  found.add({ type: 'email', value: `${local}@${domain.observable.value}`.toLowerCase() });
}

const LEADING = new Set(['(', '[', '{', '<', '*', '"', "'", '.', ',', ':', ';', '!', '?', '-']);
const TRAILING = new Set([')', ']', '}', '>', '*', '"', "'", '.', ',', ':', ';', '!', '?']);

function trimPunctuation(token: string): string {
  let start = 0;
  let end = token.length;
  while (start < end && LEADING.has(token[start]!)) start++;
  while (end > start && TRAILING.has(token[end - 1]!)) end--;
  return start === 0 && end === token.length ? token : token.slice(start, end);
}

function isHex(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70))) return false;
  }
  return true;
}

/** Keeps the first occurrence of each (type, value) in text order. */
class Collector {
  private readonly seen = new Map<string, Observable>();
  private readonly rejectedKeys = new Set<string>();
  readonly rejected: RejectedValue[] = [];

  add(o: Observable): void {
    const key = `${o.type}|${o.value}`;
    if (!this.seen.has(key)) this.seen.set(key, { type: o.type, value: o.value });
  }

  reject(value: string, reason: string): void {
    const key = `${reason}|${value.toLowerCase()}`;
    if (this.rejected.length >= MAX_REJECTED || this.rejectedKeys.has(key)) return;
    this.rejectedKeys.add(key);
    this.rejected.push({ value, reason });
  }

  observables(): Observable[] {
    return [...this.seen.values()];
  }
}
