import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { XdrHttpClient } from '../../src/clients/xdr/client.js';
import { FakeClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { XdrEmulator, endpointTarget } from '../../src/emulators/xdr/index.js';
import { Investigator } from '../../src/services/investigator.js';
import { ResponseActionDesk } from '../../src/services/response-actions.js';
import { LowdbStore } from '../../src/store/lowdb-store.js';

/** The investigator against the XDR emulator over real HTTP: what it asks XDR, and how often. */
const ips = (n: number) => Array.from({ length: n }, (_, i) => `198.51.${Math.floor(i / 250)}.${(i % 250) + 1}`);

describe('investigator against the XDR emulator', () => {
  let xdr: XdrEmulator;
  let dir: string;
  let store: LowdbStore;
  let clock: FakeClock;
  let investigator: Investigator;
  const count = (endpoint: string) => xdr.calls.filter((c) => c.path === `/iroh/iroh-enrich/${endpoint}/observables`).length;

  beforeAll(async () => {
    xdr = new XdrEmulator({
      maxObservablesPerRequest: 50,
      scenario: {
        verdicts: [
          { observable: { type: 'ip', value: '198.51.0.1' }, module: 'Talos Intelligence', disposition: 1 },
          { observable: { type: 'ip', value: '198.51.0.2' }, module: 'Secure Endpoint', disposition: 2 },
        ],
        sightings: [
          { observable: { type: 'ip', value: '198.51.0.2' }, module: 'Secure Endpoint', targets: [endpointTarget({ hostname: 'HOST-7', guid: 'g-7' }, '2026-11-30T10:00:00Z')] },
        ],
        responseActions: [{ id: 'amp-start-isolation-amp-computer-guid', title: 'Isolate host', module: 'Secure Endpoint', observableTypes: ['amp_computer_guid'] }],
      },
    });
    await xdr.start();
    dir = await mkdtemp(path.join(tmpdir(), 'sightline-investigator-'));
    store = await LowdbStore.open(path.join(dir, 'state.json'));
  });
  afterAll(async () => {
    await store?.close();
    await xdr?.stop();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    xdr.calls.length = 0;
    clock = new FakeClock('2026-12-01T10:00:00Z');
    const client = new XdrHttpClient({ xdr: xdr.xdrConfig({ batchSize: 50 }), logger: silentLogger, httpOptions: { retry: { retries: 0 } } });
    investigator = new Investigator({
      xdr: client,
      desk: new ResponseActionDesk({ store, xdr: client, clock, logger: silentLogger }),
      clock,
      logger: silentLogger,
      maxObservables: 200,
      cacheSeconds: 300,
      batchSize: 50,
      excludedModules: ['Talos Intelligence'],
      cleanRule: 'unless-malicious',
    });
  });

  it('200 observables: one deliberate and at most one observe call per batch of XDR_BATCH_SIZE', async () => {
    const outcome = await investigator.investigate(ips(200).join('\n'), 'alice@example.com');
    expect(outcome.kind).toBe('report');
    expect(count('deliberate')).toBe(4);
    expect(count('observe')).toBeLessThanOrEqual(4);
    if (outcome.kind === 'report') expect(outcome.calls).toMatchObject({ deliberate: 4, observe: 4 });
  });

  it('does not observe what is Clean, and offers the sighted host its response action', async () => {
    const outcome = await investigator.investigate('198[.]51[.]0[.]1 and 198[.]51[.]0[.]2', 'alice@example.com');
    if (outcome.kind !== 'report') throw new Error('expected a report');
    const observed = xdr.calls.filter((c) => c.path.endsWith('/observe/observables'));
    expect(observed).toHaveLength(1);
    expect(outcome.report.targets.map((t) => t.label)).toEqual(['HOST-7']);
    expect(outcome.report.targets[0]!.actions.map((a) => a.title)).toEqual(['Isolate host']);
    expect(outcome.report.observables.map((o) => o.verdict)).toEqual(['Malicious', 'Clean']);
  });

  it("shows a sighted target's open incident from an asynchronous lookup (PostgreSQL), and answers without it when the lookup fails", async () => {
    const client = new XdrHttpClient({ xdr: xdr.xdrConfig({ batchSize: 50 }), logger: silentLogger, httpOptions: { retry: { retries: 0 } } });
    const make = (incidentFor: (key: string) => Promise<{ id: string; count: number } | undefined>) =>
      new Investigator({
        xdr: client,
        desk: new ResponseActionDesk({ store, xdr: client, clock, logger: silentLogger }),
        clock,
        logger: silentLogger,
        maxObservables: 200,
        cacheSeconds: 300,
        batchSize: 50,
        excludedModules: ['Talos Intelligence'],
        cleanRule: 'unless-malicious',
        incidentFor,
      });
    const asked: string[] = [];
    const found = await make(async (key) => {
      asked.push(key);
      await new Promise((r) => setImmediate(r));
      return { id: 'inc-9', count: 4 };
    }).investigate('198.51.0.2', 'a@example.com');
    if (found.kind !== 'report') throw new Error('expected a report');
    expect(asked).toEqual([found.report.targets[0]!.key]);
    expect(found.report.targets[0]!.incident).toEqual({ id: 'inc-9', count: 4 });
    const failed = await make(async () => {
      throw new Error('database gone');
    }).investigate('198.51.0.2', 'a@example.com');
    if (failed.kind !== 'report') throw new Error('expected a report');
    expect(failed.report.targets.map((t) => t.label)).toEqual(['HOST-7']);
    expect(failed.report.targets[0]!.incident).toBeUndefined();
  });

  it('more than the limit is refused before any XDR call', async () => {
    await expect(investigator.investigate(ips(201).join(' '), 'alice@example.com')).rejects.toThrow(/201 observables; I investigate at most 200/);
    expect(xdr.calls).toHaveLength(0);
  });

  it('text without IOCs makes no call', async () => {
    expect(await investigator.investigate('can you look at the thing from yesterday?', 'a@example.com')).toEqual({ kind: 'none', rejected: [] });
    expect(xdr.calls).toHaveLength(0);
  });

  it('refer or respond failing still answers, with the card saying what is missing', async () => {
    const remove = xdr.faults.add({ match: '/iroh/iroh-response/respond/observables', status: 400 });
    try {
      const outcome = await investigator.investigate('198.51.0.2', 'a@example.com');
      if (outcome.kind !== 'report') throw new Error('expected a report');
      expect(outcome.report.observables[0]!.verdict).toBe('Malicious');
      expect(outcome.report.moduleErrors.join(' ')).toMatch(/XDR response/);
    } finally {
      remove();
    }
  });

  it('XDR failing becomes one sentence that says what to do', async () => {
    const remove = xdr.faults.add({ match: '/iroh/iroh-enrich/deliberate', status: 500 });
    try {
      await expect(investigator.investigate('203.0.113.77', 'a@example.com')).rejects.toMatchObject({
        userMessage: expect.stringMatching(/^I couldn't look up that observable in XDR: .* Try again in a few minutes\.$/),
      });
    } finally {
      remove();
    }
  });
});
