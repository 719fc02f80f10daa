import { isIP } from 'node:net';
import type { Observable } from '../types.js';
import { refang } from './refang.js';

/**
 * Turns one raw indicator into a CTIM observable, or says in a short, stable
 * sentence why it cannot be investigated. Reasons are grouped and counted in
 * reports, so they never embed the value itself.
 *
 * Decision: private, loopback and reserved IPv4 addresses are KEPT. Talos lists
 * what the sandbox contacted; whether a 10.x or 8.8.8.8 sighting is noise is a
 * hunt policy (verdicts and the module exclusion list decide it), not a parsing
 * question, and silently dropping them would hide data from the analyst.
 */
export type IndicatorHint = 'domain' | 'ip' | 'sha256' | 'url';
export type Classified = { ok: true; observable: Observable } | { ok: false; reason: string };

export const REASONS = {
  empty: 'empty value',
  singleLabel: 'single-label host',
  hostChars: 'not a valid host name (invalid characters)',
  hostLength: 'not a valid host name (too long)',
  labelShape: 'not a valid host name (bad label)',
  numericTld: 'not a valid host name (numeric top-level label)',
  ipv4: 'not a valid IPv4 address',
  cidrPrefix: 'not a valid CIDR prefix',
  sha256: 'not a SHA-256 hash',
  url: 'not an http(s) URL',
  unknown: 'not a recognised indicator',
} as const;

const HASH_TYPES: Record<number, string> = { 32: 'md5', 40: 'sha1', 64: 'sha256' };

export function classifyIndicator(raw: string, hint?: IndicatorHint): Classified {
  const value = refang(raw);
  if (value === '') return fail(REASONS.empty);
  switch (hint) {
    case 'sha256':
      return value.length === 64 && isHex(value) ? ok('sha256', value.toLowerCase()) : fail(REASONS.sha256);
    case 'ip':
      return isIP(value) === 4 ? ok('ip', value) : fail(REASONS.ipv4);
    case 'domain':
      return classifyHost(value);
    case 'url':
      return classifyUrl(value);
    default:
      return classifyUnhinted(value);
  }
}

function classifyUnhinted(value: string): Classified {
  const hashType = HASH_TYPES[value.length];
  if (hashType && isHex(value)) return ok(hashType, value.toLowerCase());
  const ipVersion = isIP(value);
  if (ipVersion === 4) return ok('ip', value);
  if (ipVersion === 6) return ok('ipv6', value.toLowerCase());
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return classifyUrl(value);
  return classifyHost(value);
}

/** A domain, or a defanged IPv4 written where a host was expected (seen in real roundups). */
function classifyHost(input: string): Classified {
  const host = (input.endsWith('.') ? input.slice(0, -1) : input).toLowerCase();
  if (host === '') return fail(REASONS.empty);
  if (isIP(host) === 4) return ok('ip', host);
  if (host.length > 253) return fail(REASONS.hostLength);
  let labels = 1;
  let labelStart = 0;
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (c === 46 /* . */) {
      if (!labelOk(host, labelStart, i)) return fail(REASONS.labelShape);
      labels++;
      labelStart = i + 1;
    } else if (!isHostChar(c)) {
      return fail(REASONS.hostChars);
    }
  }
  if (!labelOk(host, labelStart, host.length)) return fail(REASONS.labelShape);
  if (labels < 2) return fail(REASONS.singleLabel);
  const tld = host.slice(labelStart);
  if (!/^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$/.test(tld)) return fail(/^[0-9]+$/.test(tld) ? REASONS.numericTld : REASONS.labelShape);
  return ok('domain', host);
}

function labelOk(host: string, start: number, end: number): boolean {
  const length = end - start;
  return length >= 1 && length <= 63 && host.charCodeAt(start) !== 45 && host.charCodeAt(end - 1) !== 45;
}

/** Letters, digits, hyphen, and underscore (real DNS names such as `_dmarc` and some CDN hosts use it). */
function isHostChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 95;
}

function classifyUrl(value: string): Classified {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return fail(REASONS.url);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') return fail(REASONS.url);
  return ok('url', url.href);
}

function isHex(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70))) return false;
  }
  return true;
}

function ok(type: string, value: string): Classified {
  return { ok: true, observable: { type, value } };
}

function fail(reason: string): Classified {
  return { ok: false, reason };
}

export interface CidrExpansion {
  /** Addresses to investigate: the whole range when small enough, else only the written address. */
  addresses: string[];
  /** How many addresses the range holds. */
  size: number;
  expanded: boolean;
}

/**
 * Expands `ip/prefix`. Rule (TALOS_CIDR_EXPAND_MAX, default 4): a range of at most
 * `max` addresses becomes every address in it (Talos writes `/31` pairs for
 * load-balanced Google and Microsoft front ends); a bigger range keeps only the
 * address as written, and the caller records that the range was not expanded.
 * Returns undefined when `ip` is not IPv4 or `prefix` is not 0–32.
 */
export function expandCidr(ip: string, prefix: number, max: number): CidrExpansion | undefined {
  if (isIP(ip) !== 4 || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) return undefined;
  const size = 2 ** (32 - prefix);
  if (size > max) return { addresses: [ip], size, expanded: false };
  const parts = ip.split('.').map(Number);
  const asNumber = ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
  const network = asNumber - (asNumber % size);
  const addresses: string[] = [];
  for (let n = network; n < network + size; n++) {
    addresses.push(`${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`);
  }
  return { addresses, size, expanded: true };
}

export function cidrTooLargeReason(prefix: number, size: number): string {
  return `CIDR range /${prefix} too large to expand (${size} addresses); base address kept`;
}
