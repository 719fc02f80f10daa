import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { LEADER_DEMOTED_MSG, LEADER_ELECTED_MSG, leadershipOf, parseLogLine } from '../../src/sandbox/instance.js';
import { clusterSettings, PostgresMissingError } from '../../src/sandbox/postgres-cluster.js';
import { startRoundRobinProxy, type RoundRobinProxy } from '../../src/sandbox/round-robin-proxy.js';
import { freePort } from '../../src/sandbox/free-port.js';

describe('leadership from the log', () => {
  it('reads the election and demotion lines, and nothing else', () => {
    expect(leadershipOf(parseLogLine(JSON.stringify({ level: 30, msg: LEADER_ELECTED_MSG }))!)).toBe(true);
    expect(leadershipOf(parseLogLine(JSON.stringify({ level: 30, msg: LEADER_DEMOTED_MSG }))!)).toBe(false);
    expect(leadershipOf(parseLogLine('{"level":30,"msg":"listening"}')!)).toBeUndefined();
    // LeaderElector's own lines (src/store/postgres/leader.ts).
    expect(leadershipOf({ msg: 'elected leader: this instance runs the schedule, status sync and module polling' })).toBe(true);
    expect(leadershipOf({ msg: 'no longer the leader', reason: 'lost connection' })).toBe(false);
    expect(leadershipOf({ msg: 'not elected leader yet' })).toBeUndefined();
    expect(parseLogLine('    at startApp (src/app.ts:12)')).toBeUndefined();
    expect(parseLogLine('{not json')).toBeUndefined();
  });
});

describe('throwaway cluster settings', () => {
  it('is loopback-only on the given port, fsync off unless durable', () => {
    const quick = clusterSettings(5433);
    expect(quick).toContain('listen_addresses=127.0.0.1');
    expect(quick).toContain('port=5433');
    expect(quick).toContain('fsync=off');
    expect(clusterSettings(5433, { durable: true })).not.toContain('fsync=off');
  });

  it('says how to install PostgreSQL when its binaries are missing', () => {
    expect(new PostgresMissingError().message).toMatch(/apt-get install postgresql/);
  });
});

describe('round-robin proxy', () => {
  const servers: Server[] = [];
  let proxy: RoundRobinProxy;
  let deadPort: number;
  const backend = (name: string) =>
    new Promise<string>((resolve) => {
      const s = createServer((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ name, path: req.url, body })));
      });
      servers.push(s);
      s.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(s.address() as AddressInfo).port}`));
    });

  beforeAll(async () => {
    deadPort = await freePort();
    proxy = await startRoundRobinProxy([await backend('a'), await backend('b'), `http://127.0.0.1:${deadPort}`]);
  });
  afterAll(async () => {
    await proxy.stop();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  const post = async (body: string) => {
    const res = await request(`${proxy.url}/api/v1/sightings?x=1`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    return { status: res.statusCode, json: (await res.body.json()) as { name: string; path: string; body: string } };
  };

  it('sends requests to each instance in turn, body and path intact, skipping one that refuses', async () => {
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await post(`{"n":${i}}`));
    expect(answers.every((a) => a.status === 202)).toBe(true);
    expect(answers.map((a) => a.json.body)).toEqual([0, 1, 2, 3, 4, 5].map((i) => `{"n":${i}}`));
    expect(answers[0]!.json.path).toBe('/api/v1/sightings?x=1');
    // The third backend refuses: its turns go to the next one, so both live ones take requests.
    const names = answers.map((a) => a.json.name);
    expect(names.filter((n) => n === 'a').length).toBeGreaterThan(0);
    expect(names.filter((n) => n === 'b').length).toBeGreaterThan(0);
    expect(proxy.served.get(`http://127.0.0.1:${deadPort}`)).toBe(0);
  });

  it('answers 502 with a sentence when no instance is up, and says what became of each request', async () => {
    const outcomes: string[] = [];
    const lone = await startRoundRobinProxy([`http://127.0.0.1:${deadPort}`], { onOutcome: (body, backend, outcome) => outcomes.push(`${body.toString()} ${backend} ${outcome}`) });
    try {
      const res = await request(`${lone.url}/healthz`, { method: 'POST', body: 'ping' });
      expect(res.statusCode).toBe(502);
      expect(((await res.body.json()) as { message: string }).message).toMatch(/No Sightline instance answered/);
      expect(outcomes).toEqual([`ping http://127.0.0.1:${deadPort} ECONNREFUSED`]);
    } finally {
      await lone.stop();
    }
  });

  it('opens a connection per request (an idle one the instance closes cannot swallow a request), and reports each answer', async () => {
    let connections = 0;
    const outcomes: (number | string)[] = [];
    const counted = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    });
    counted.on('connection', () => connections++);
    await new Promise<void>((r) => counted.listen(0, '127.0.0.1', () => r()));
    const one = await startRoundRobinProxy([`http://127.0.0.1:${(counted.address() as AddressInfo).port}`], { onOutcome: (_b, _backend, outcome) => outcomes.push(outcome) });
    try {
      for (let i = 0; i < 3; i++) await (await request(`${one.url}/webex/webhook`, { method: 'POST', body: '{}' })).body.text();
      expect(connections).toBe(3);
      expect(outcomes).toEqual([200, 200, 200]);
    } finally {
      await one.stop();
      await new Promise((r) => counted.close(r));
    }
  });
});
