import { isIP } from 'node:net';
import type { Observable, SightingTarget } from '../types.js';

/**
 * The identity of a target: one (type, normalised value) pair. A target with
 * several observables is keyed by hostname, then MAC, then IP, then its first
 * observable (seeds.md §5) — never a crash, whatever the target holds.
 */
export interface TargetIdentity {
  key: string;
  type: string;
  value: string;
}

const PREFERENCE = ['hostname', 'mac_address', 'ip', 'ipv6'];

export function targetIdentity(target: Pick<SightingTarget, 'observables' | 'type'>): TargetIdentity {
  const obs = (target.observables ?? []).filter((o) => typeof o?.value === 'string' && o.value.trim() !== '');
  for (const type of PREFERENCE) {
    const hit = obs.find((o) => o.type === type);
    if (hit) return identityOf(hit);
  }
  const first = obs[0];
  if (first) return identityOf(first);
  return { key: `${target.type || 'unknown'}:unknown`, type: target.type || 'unknown', value: 'unknown' };
}

export function identityOf(o: Observable): TargetIdentity {
  const value = normaliseTargetValue(o.type, o.value);
  return { key: `${o.type}:${value}`, type: o.type, value };
}

/** Unicode NFKC first (look-alike forms are one target, see target-text.ts); hostnames case-folded, MACs as lower-case colon pairs, IPs canonical. */
export function normaliseTargetValue(type: string, raw: string): string {
  const v = raw.normalize('NFKC').trim();
  switch (type) {
    case 'hostname':
      return v.toLowerCase().replace(/\.$/, '');
    case 'mac_address': {
      const hex = v.toLowerCase().replace(/[^0-9a-f]/g, '');
      return hex.length === 12 ? hex.match(/../g)!.join(':') : v.toLowerCase();
    }
    case 'ip':
      return isIP(v) === 4 ? v.split('.').map((p) => String(Number(p))).join('.') : v.toLowerCase();
    case 'ipv6':
      return canonicalIpv6(v);
    default:
      return v.toLowerCase();
  }
}

function canonicalIpv6(v: string): string {
  if (isIP(v) !== 6) return v.toLowerCase();
  try {
    // URL parsing gives the RFC 5952 canonical form.
    return new URL(`http://[${v}]/`).hostname.slice(1, -1);
  } catch {
    return v.toLowerCase();
  }
}
