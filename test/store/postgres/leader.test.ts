import { createServer, connect, type Socket } from 'node:net';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LeaderElector } from '../../../src/store/postgres/leader.js';
import { createTestDatabase, testPostgres, type TestDatabase } from '../../support/postgres.js';

const server = await testPostgres();
const POLL_MS = 250;

/** Waits (bounded) until `check` is true; returns how long it took. */
async function until(check: () => boolean, what: string, limitMs = 10_000): Promise<number> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > limitMs) throw new Error(`gave up waiting for ${what} after ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - t0;
}

describe.skipIf(!server)('leader election on one database', () => {
  let db: TestDatabase;
  let admin: pg.Client;
  const electors: LeaderElector[] = [];
  /** Who leads, kept by the callbacks; the most ever leading at once, seen when one is elected. */
  let leaders = new Set<string>();
  let mostAtOnce = 0;
  const demotions: Array<{ name: string; reason: string }> = [];
  let sampler: NodeJS.Timeout | undefined;
  let mostSampled = 0;
  let sampleNow: () => void = () => undefined;

  beforeAll(async () => {
    db = await createTestDatabase(server!);
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
  });
  afterEach(async () => {
    clearInterval(sampler);
    await Promise.all(electors.splice(0).map((e) => e.stop()));
  });
  afterAll(async () => {
    await admin?.end();
    await db?.drop();
  });

  function elector(name: string): LeaderElector {
    const e = new LeaderElector({
      url: db.url,
      pollMs: POLL_MS,
      applicationName: `elector-${name}`,
      onElected: () => {
        leaders.add(name);
        mostAtOnce = Math.max(mostAtOnce, leaders.size);
      },
      onDemoted: (reason) => {
        leaders.delete(name);
        demotions.push({ name, reason });
      },
    });
    electors.push(e);
    return e;
  }

  function twoElectors(): { a: LeaderElector; b: LeaderElector; leader: () => LeaderElector; follower: () => LeaderElector } {
    leaders = new Set();
    mostAtOnce = 0;
    mostSampled = 0;
    demotions.length = 0;
    const a = elector('a');
    const b = elector('b');
    const sample = () => (mostSampled = Math.max(mostSampled, Number(a.isLeader) + Number(b.isLeader)));
    sampler = setInterval(sample, 5);
    // Also sampled whenever a test looks: on a loaded machine the 5 ms timer may not fire during a short test.
    sampleNow = sample;
    a.start();
    b.start();
    return { a, b, leader: () => (a.isLeader ? a : b), follower: () => (a.isLeader ? b : a) };
  }

  it('elects exactly one of two, and keeps it', async () => {
    const { a, b } = twoElectors();
    await until(() => a.isLeader || b.isLeader, 'a leader');
    await new Promise((r) => setTimeout(r, 4 * POLL_MS));
    expect(Number(a.isLeader) + Number(b.isLeader)).toBe(1);
    expect(leaders.size).toBe(1);
    expect(mostAtOnce).toBe(1);
    sampleNow();
    expect(mostSampled).toBe(1);
  });

  it('hands over when the leader backend is killed: the old leader demotes at once, the other takes over', async () => {
    const { a, b, leader, follower } = twoElectors();
    await until(() => a.isLeader || b.isLeader, 'a leader');
    const old = leader();
    const next = follower();
    const name = old === a ? 'a' : 'b';
    const killedAt = Date.now();
    await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1", [`elector-${name}`]);
    await until(() => !old.isLeader, 'the old leader to demote');
    const demotedIn = Date.now() - killedAt;
    await until(() => next.isLeader, 'the other to lead');
    const takeover = Date.now() - killedAt;
    console.log(`leader killed: demoted after ${demotedIn} ms, the other led after ${takeover} ms (poll ${POLL_MS} ms)`);
    expect(demotions.find((d) => d.name === name)?.reason).toMatch(/connection/);
    // The killed one reconnects and campaigns again, as a follower.
    await new Promise((r) => setTimeout(r, 3 * POLL_MS));
    expect(next.isLeader).toBe(true);
    expect(old.isLeader).toBe(false);
    expect(mostAtOnce).toBe(1);
    sampleNow();
    expect(mostSampled).toBe(1);
    // Takeover is bounded by the poll interval (plus a shared machine's slack), not by a timeout of minutes.
    expect(takeover).toBeLessThan(10 * POLL_MS);
  });

  it('hands over when the leader stops, and the stopped one says why', async () => {
    const { a, b, leader, follower } = twoElectors();
    await until(() => a.isLeader || b.isLeader, 'a leader');
    const old = leader();
    const next = follower();
    await old.stop();
    expect(demotions.at(-1)?.reason).toBe('stopped');
    await until(() => next.isLeader, 'the other to lead');
    expect(mostAtOnce).toBe(1);
    sampleNow();
    expect(mostSampled).toBe(1);
  });

  it('gives leadership up when starting the leader work fails, and campaigns again', async () => {
    let failures = 1;
    const reasons: string[] = [];
    let elections = 0;
    const e = new LeaderElector({
      url: db.url,
      pollMs: POLL_MS,
      applicationName: 'elector-flaky',
      onElected: () => {
        elections++;
        if (failures-- > 0) throw new Error('the schedule could not be armed');
      },
      onDemoted: (reason) => void reasons.push(reason),
    });
    electors.push(e);
    e.start();
    await until(() => elections === 2 && e.isLeader, 'a second, successful election');
    expect(reasons).toEqual(['starting the leader work failed']);
  });

  it('a leader cut off by the network demotes itself before the other is elected', async () => {
    leaders = new Set();
    mostAtOnce = 0;
    demotions.length = 0;
    const proxy = await tcpProxy(new URL(db.url));
    try {
      const url = new URL(db.url);
      url.port = String(proxy.port);
      const cutOff = new LeaderElector({
        url: url.toString(),
        pollMs: POLL_MS,
        applicationName: 'elector-cut',
        onElected: () => void leaders.add('cut'),
        onDemoted: (reason) => void (leaders.delete('cut'), demotions.push({ name: 'cut', reason })),
      });
      electors.push(cutOff);
      cutOff.start();
      await until(() => cutOff.isLeader, 'the proxied elector to lead');
      const other = elector('other');
      other.start();
      let both = false;
      sampler = setInterval(() => (both ||= cutOff.isLeader && other.isLeader), 2);
      // The network stops carrying anything, both ways; no connection is closed.
      proxy.freeze();
      const cutAt = Date.now();
      await until(() => other.isLeader, 'the other to lead after the server ended the silent session');
      expect(cutOff.isLeader).toBe(false);
      expect(demotions.find((d) => d.name === 'cut')).toBeDefined();
      expect(both).toBe(false);
      console.log(`network cut: the other led ${Date.now() - cutAt} ms after the cut (poll ${POLL_MS} ms, server ends a silent session after ${3 * POLL_MS} ms)`);
    } finally {
      proxy.close();
    }
  });
});

/** A loopback TCP proxy to the database whose freeze() stops all traffic without closing anything: a network partition. */
async function tcpProxy(target: URL): Promise<{ port: number; freeze(): void; close(): void }> {
  const sockets: Socket[] = [];
  let frozen = false;
  const srv = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    sockets.push(client, upstream);
    client.on('data', (d) => void (frozen || upstream.write(d)));
    upstream.on('data', (d) => void (frozen || client.write(d)));
    // Once frozen, a side that closes is not told to the other: nothing crosses a partition.
    const end = () => void (frozen || (client.destroy(), upstream.destroy()));
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as { port: number }).port,
    freeze: () => void (frozen = true),
    close: () => {
      srv.close();
      for (const s of sockets) s.destroy();
    },
  };
}
