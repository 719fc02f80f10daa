import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ResponseAction } from '../../src/domain/ports/xdr.js';
import { FakeClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { ResponseActionDesk } from '../../src/services/response-actions.js';
import { LowdbStore } from '../../src/store/lowdb-store.js';

const block: ResponseAction = { id: 'block', title: 'Block this domain', module: 'Umbrella', moduleInstanceId: 'mi-1', observable: { type: 'domain', value: 'evil.example' } };

describe('response actions from investigation cards', () => {
  let dir: string;
  let store: LowdbStore;
  let clock: FakeClock;
  let triggered: { action: ResponseAction; value: string }[];
  let answer: () => Promise<{ status: string }>;
  let desk: ResponseActionDesk;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sightline-desk-'));
    store = await LowdbStore.open(path.join(dir, 'state.json'));
    clock = new FakeClock('2026-12-01T10:00:00Z');
    triggered = [];
    answer = async () => ({ status: 'success' });
    const xdr = {
      triggerResponseAction: async (action: ResponseAction, o: { value: string }) => {
        triggered.push({ action, value: o.value });
        return answer();
      },
    };
    desk = new ResponseActionDesk({ store, xdr, clock, logger: silentLogger });
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function offerId(): Promise<string> {
    const offered = await desk.offer([block, { ...block, observable: undefined }]);
    expect([...offered.values()].flat()).toHaveLength(1); // an action XDR did not tie to an observable cannot be offered
    return offered.get('domain:evil.example')![0]!.offerId;
  }

  it('runs once, even when Confirm is clicked twice at the same moment, and records who, what, when, result', async () => {
    const { confirmation } = await desk.ask(await offerId(), 'alice@example.com');
    expect(triggered).toHaveLength(0);
    const [a, b] = await Promise.all([desk.confirm(confirmation.id, 'alice@example.com'), desk.confirm(confirmation.id, 'alice@example.com')]);
    expect([a.kind, b.kind].sort()).toEqual(['already', 'ran']);
    expect(triggered).toEqual([{ action: expect.objectContaining({ id: 'block', moduleInstanceId: 'mi-1' }), value: 'evil.example' }]);
    expect(desk.list(1, 10)).toEqual({
      total: 1,
      items: [expect.objectContaining({ title: 'Block this domain', requestedBy: 'alice@example.com', confirmedBy: 'alice@example.com', at: '2026-12-01T10:00:00.000Z', result: 'success' })],
    });
  });

  it('only the admin who asked can confirm, and only within the time allowed', async () => {
    const id = await offerId();
    const { confirmation } = await desk.ask(id, 'alice@example.com');
    await expect(desk.confirm(confirmation.id, 'bob@example.com')).rejects.toThrow(/Only alice@example.com/);
    await clock.sleep(11 * 60_000);
    await expect(desk.confirm(confirmation.id, 'alice@example.com')).rejects.toThrow(/expired/);
    expect(triggered).toHaveLength(0);
  });

  it('a cancelled action never runs; an unknown offer is refused with what to do', async () => {
    const { confirmation } = await desk.ask(await offerId(), 'alice@example.com');
    expect((await desk.cancel(confirmation.id, 'alice@example.com')).cancelled).toBe(true);
    expect(await desk.confirm(confirmation.id, 'alice@example.com')).toMatchObject({ kind: 'already', status: 'cancelled' });
    await expect(desk.ask('no-such-offer', 'alice@example.com')).rejects.toThrow(/investigate/);
    expect(triggered).toHaveLength(0);
  });

  it('records a failed call as an error with its sentence, without retrying it', async () => {
    answer = async () => {
      throw new Error('socket hang up');
    };
    const { confirmation } = await desk.ask(await offerId(), 'alice@example.com');
    const outcome = await desk.confirm(confirmation.id, 'alice@example.com');
    expect(outcome).toMatchObject({ kind: 'ran', record: { result: 'error' } });
    expect(triggered).toHaveLength(1);
  });

  it('lists newest first, page by page', async () => {
    const id = await offerId();
    for (let i = 0; i < 12; i++) {
      const { confirmation } = await desk.ask(id, 'alice@example.com');
      await clock.sleep(1000);
      await desk.confirm(confirmation.id, 'alice@example.com');
    }
    const first = desk.list(1, 10);
    expect(first.total).toBe(12);
    expect(first.items[0]!.at > first.items[9]!.at).toBe(true);
    expect(desk.list(2, 10).items).toHaveLength(2);
  });
});
