import type { IncomingSighting } from '../../../src/domain/correlation/intake.js';

/** A sighting of evil.example on an endpoint named `host`, as the intake hands it to a store; `over` changes any field. */
export function hostSighting(id: string, host: string, over: Partial<IncomingSighting> = {}): IncomingSighting {
  return {
    dedupeKey: id,
    target: { type: 'endpoint', observables: [{ type: 'hostname', value: host }] },
    ioc: { type: 'domain', value: 'evil.example' },
    source: 'webhook',
    observedAt: '2026-11-30T10:00:00.000Z',
    ...over,
  };
}
