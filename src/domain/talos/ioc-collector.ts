import { isIP } from 'node:net';
import { refang } from '../ioc/refang.js';
import { classifyIndicator, REASONS } from '../ioc/validate.js';
import type { Observable, RejectedValue } from '../types.js';

/**
 * What a value of an IOC file holds, as far as the file says. The observable
 * kinds are the ones XDR can investigate; everything else is context.
 */
export type ValueKind = 'sha256' | 'sha1' | 'md5' | 'hash' | 'domain' | 'ip' | 'ipv6' | 'url' | 'email' | 'any';

/** Reasons a value is kept as context instead of investigated; stable, counted in reports. */
export const CONTEXT_REASONS = {
  fileName: 'file name (context, not investigated)',
  port: 'network port (context, not investigated)',
  mutex: 'mutex name (context, not investigated)',
  registry: 'registry key (context, not investigated)',
  mispExtension: 'MISP extension field (context, not investigated)',
  otherProperty: 'property Sightline does not investigate (context)',
  negated: 'negated comparison (the value is what the threat is NOT)',
  hash: 'not an MD5, SHA-1 or SHA-256 hash',
  email: 'not a valid e-mail address',
  ipv6: 'not a valid IPv6 address',
} as const;

/** Per-value counts before de-duplication: the conservation ledger of one file. */
export interface IocTally {
  /** Values read as observables, by observable type. */
  observables: Record<string, number>;
  /** Values kept as context or refused, by reason. */
  context: Record<string, number>;
}

export interface IocFileResult {
  format: 'stix2-bundle' | 'stix1-package' | 'misp-event' | 'text';
  /** The post's title as the file gives it (report name, incident title, MISP info). */
  title?: string;
  /** The blog post's address, when the file names it. */
  link?: string;
  published?: string;
  /** De-duplicated, in file order. */
  observables: Observable[];
  /** De-duplicated context values and refusals, each with its reason. */
  rejected: RejectedValue[];
  tally: IocTally;
}

const HASH_KINDS: Record<number, 'md5' | 'sha1' | 'sha256'> = { 32: 'md5', 40: 'sha1', 64: 'sha256' };

/** Collects one file's values: every value read ends up in `observables` or `rejected`, and in the tally. */
export class IocCollector {
  readonly observables: Observable[] = [];
  readonly rejected: RejectedValue[] = [];
  readonly tally: IocTally = { observables: {}, context: {} };
  private readonly seen = new Set<string>();
  private readonly seenRejected = new Set<string>();

  /** Reads `raw` as `kind`; returns the observable when it is one. */
  add(raw: string, kind: ValueKind, field: string): Observable | undefined {
    const result = classify(raw, kind);
    if ('reason' in result) {
      this.context(result.value, result.reason, field);
      return undefined;
    }
    const observable = result;
    this.tally.observables[observable.type] = (this.tally.observables[observable.type] ?? 0) + 1;
    const key = `${observable.type}\u0000${observable.value}`;
    if (!this.seen.has(key)) {
      this.seen.add(key);
      this.observables.push(observable);
    }
    return observable;
  }

  /** Keeps a value as context (or refused) with its reason. */
  context(value: string, reason: string, field: string): void {
    this.tally.context[reason] = (this.tally.context[reason] ?? 0) + 1;
    const key = `${field}\u0000${reason}\u0000${value}`;
    if (this.seenRejected.has(key)) return;
    this.seenRejected.add(key);
    this.rejected.push({ value, reason, field });
  }
}

type Classified = Observable | { value: string; reason: string };

export function classify(raw: string, kind: ValueKind): Classified {
  const value = refang(raw);
  const fromValidate = (hint?: 'domain' | 'url'): Classified => {
    const r = classifyIndicator(value, hint);
    return r.ok ? r.observable : { value, reason: r.reason };
  };
  switch (kind) {
    case 'sha256':
    case 'sha1':
    case 'md5':
    case 'hash': {
      const type = isHex(value) ? HASH_KINDS[value.length] : undefined;
      if (type && (kind === 'hash' || kind === type)) return { type, value: value.toLowerCase() };
      return { value, reason: kind === 'sha256' ? REASONS.sha256 : CONTEXT_REASONS.hash };
    }
    case 'ip':
      // STIX and MISP files say "ip" for both families; CTIM types them apart.
      if (isIP(value) === 6) return { type: 'ipv6', value: value.toLowerCase() };
      return isIP(value) === 4 ? { type: 'ip', value } : { value, reason: value === '' ? REASONS.empty : REASONS.ipv4 };
    case 'ipv6':
      return isIP(value) === 6 ? { type: 'ipv6', value: value.toLowerCase() } : { value, reason: CONTEXT_REASONS.ipv6 };
    case 'domain':
      return fromValidate('domain');
    case 'url':
      return fromValidate('url');
    case 'email':
      return classifyEmail(value);
    case 'any':
      return /^[^@\s/]+@[^@\s/]+$/.test(value) ? classifyEmail(value) : fromValidate();
  }
}

function classifyEmail(value: string): Classified {
  const at = value.lastIndexOf('@');
  if (at <= 0 || /\s/.test(value)) return { value, reason: CONTEXT_REASONS.email };
  const host = classifyIndicator(value.slice(at + 1), 'domain');
  return host.ok && host.observable.type === 'domain' ? { type: 'email', value: `${value.slice(0, at)}@${host.observable.value}` } : { value, reason: CONTEXT_REASONS.email };
}

function isHex(value: string): boolean {
  return value.length > 0 && /^[0-9a-fA-F]+$/.test(value);
}
