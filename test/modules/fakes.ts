import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { XdrPort } from '../../src/domain/ports/xdr.js';
import type { IncomingSighting, SightingIntake } from '../../src/domain/correlation/intake.js';
import type { Disposition, ModuleSighting, Observable, SightingTarget } from '../../src/domain/types.js';
import { LowdbStore } from '../../src/store/lowdb-store.js';

/** Test doubles shared by the module tests: a scripted XDR and an intake that records what it was given. */
export const HASH = '8fda14f91e27afec5c1b1f71d708775c9b6e2af31e8331bbf26751bc0583dc7e';
export const OTHER_HASH = 'b'.repeat(64);

const key = (o: Observable) => `${o.type}|${o.value.toLowerCase()}`;

export interface FakeWorld {
  verdicts?: { observable: Observable; module: string; disposition: Disposition }[];
  sightings?: ModuleSighting[];
  inspect?: (content: string) => Observable[];
}

export type FakeXdr = Pick<XdrPort, 'deliberate' | 'observe' | 'inspect'> & {
  calls: { deliberate: Observable[][]; observe: Observable[][]; inspect: string[] };
  failNext?: Error;
};

export function fakeXdr(world: FakeWorld): FakeXdr {
  const calls: FakeXdr['calls'] = { deliberate: [], observe: [], inspect: [] };
  const xdr: FakeXdr = {
    calls,
    async deliberate(observables) {
      calls.deliberate.push(observables);
      if (xdr.failNext) {
        const err = xdr.failNext;
        xdr.failNext = undefined;
        throw err;
      }
      const asked = new Set(observables.map(key));
      return { verdicts: (world.verdicts ?? []).filter((v) => asked.has(key(v.observable))), errors: [], calls: 1 };
    },
    async observe(observables) {
      calls.observe.push(observables);
      const asked = new Set(observables.map(key));
      const sightings = (world.sightings ?? []).filter((s) => (s.sighting.observables ?? []).some((o) => asked.has(key(o))));
      // Fresh transient ids on every answer, like IROH.
      return { sightings: sightings.map((s) => ({ ...s, sighting: { ...s.sighting, id: `transient:${Math.random()}` } })), errors: [], calls: 1 };
    },
    async inspect(content) {
      calls.inspect.push(content);
      return world.inspect?.(content) ?? [];
    },
  };
  return xdr;
}

export function endpoint(hostname: string, seenAt: string): SightingTarget {
  return {
    type: 'endpoint',
    observables: [
      { type: 'hostname', value: hostname },
      { type: 'ip', value: '10.1.2.3' },
    ],
    observed_time: { start_time: seenAt, end_time: seenAt },
  };
}

export function sightingOn(module: string, ioc: Observable, target: SightingTarget | undefined, extra: Partial<ModuleSighting['sighting']> = {}): ModuleSighting {
  return {
    module,
    sighting: {
      type: 'sighting',
      source: module,
      internal: target ? true : undefined,
      observables: [ioc],
      targets: target ? [target] : undefined,
      observed_time: target?.observed_time,
      title: 'Threat Detected',
      ...extra,
    },
  };
}

export class RecordingIntake implements SightingIntake {
  readonly batches: IncomingSighting[][] = [];
  private readonly keys = new Set<string>();
  failNext?: Error;

  async accept(items: IncomingSighting[]): Promise<{ accepted: number; duplicates: number }> {
    if (this.failNext) {
      const err = this.failNext;
      this.failNext = undefined;
      throw err;
    }
    this.batches.push(items);
    let accepted = 0;
    for (const it of items) {
      if (this.keys.has(it.dedupeKey)) continue;
      this.keys.add(it.dedupeKey);
      accepted++;
    }
    return { accepted, duplicates: items.length - accepted };
  }

  get all(): IncomingSighting[] {
    return this.batches.flat();
  }
}

export async function tempStorePath(): Promise<string> {
  return path.join(await mkdtemp(path.join(tmpdir(), 'sightline-modules-')), 'state.json');
}

export async function tempStore(): Promise<{ store: LowdbStore; file: string }> {
  const file = await tempStorePath();
  return { store: await LowdbStore.open(file), file };
}
