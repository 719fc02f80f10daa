import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Low } from 'lowdb';
import { JSONFile } from 'lowdb/node';
import { verifySightingsRequest } from '../src/transport/http/sightings/auth.js';
import { hostOf, iocOf, SOURCE, type StoreSize } from './prepopulate.js';

/**
 * The design we compare against: what a straightforward port of the seed
 * correlator looks like — an express route that, for every sighting, reads the
 * whole lowdb file, finds or opens the target's incident, appends the sighting,
 * and writes the whole file back before answering. Same payload, same HMAC
 * check, same store sizes as our endpoint.
 */
interface NaiveIncident {
  id: string;
  target: string;
  status: string;
  count: number;
  lastSeen: string;
}

interface NaiveSighting {
  target: string;
  ioc_type: string;
  ioc_value: string;
  source: string;
  observed: string;
  sighting_json?: string;
}

interface NaiveDb {
  incidents: NaiveIncident[];
  sightings: NaiveSighting[];
}

export async function writeNaiveStore(file: string, size: StoreSize): Promise<{ openHosts: string[] }> {
  const out = createWriteStream(file);
  const w = async (s: string) => {
    if (!out.write(s)) await once(out, 'drain');
  };
  const per = Math.max(1, Math.floor(size.sightings / size.incidents));
  const openHosts: string[] = [];
  await w('{"incidents":[');
  for (let i = 0; i < size.incidents; i++) {
    openHosts.push(hostOf(i));
    await w(`${i ? ',' : ''}${JSON.stringify({ id: `inc-${i}`, target: hostOf(i), status: 'Open', count: per, lastSeen: '2026-01-05T08:00:00.000Z' })}`);
  }
  await w('],"sightings":[');
  for (let s = 0; s < size.incidents * per; s++) {
    const ioc = iocOf(s);
    const row: NaiveSighting = { target: hostOf(Math.floor(s / per)), ioc_type: ioc.type, ioc_value: ioc.value, source: SOURCE, observed: '2026-01-05T08:00:00.000Z' };
    await w(`${s ? ',' : ''}${JSON.stringify(row)}`);
  }
  await w(']}');
  out.end();
  await once(out, 'finish');
  return { openHosts };
}

export async function startNaiveIngest(opts: { file: string; secret: string; port?: number }): Promise<{ url: string; close(): Promise<void> }> {
  const db = new Low<NaiveDb>(new JSONFile<NaiveDb>(opts.file), { incidents: [], sightings: [] });
  const app = express();
  app.post('/api/v1/sightings', express.raw({ type: '*/*', limit: '5mb' }), async (req, res) => {
    const body = req.body as Buffer;
    const auth = verifySightingsRequest(
      { hmacSecret: opts.secret },
      { signature: req.get('x-sightline-signature'), timestamp: req.get('x-sightline-timestamp') },
      body,
      new Date(),
    );
    if (!auth.ok) return void res.status(401).json({ error: auth.reason });
    const p = JSON.parse(body.toString('utf8')) as Record<string, string>;
    await db.read();
    const data = db.data;
    let inc = data.incidents.find((i) => i.target === p['target_value'] && i.status !== 'Closed');
    if (!inc) {
      inc = { id: `inc-${data.incidents.length}`, target: p['target_value']!, status: 'New', count: 0, lastSeen: '' };
      data.incidents.push(inc);
    }
    inc.count++;
    inc.lastSeen = p['target_observed_time'] ?? new Date().toISOString();
    data.sightings.push({
      target: p['target_value']!,
      ioc_type: p['ioc_type']!,
      ioc_value: p['ioc_value']!,
      source: p['event_source']!,
      observed: inc.lastSeen,
      ...(p['sighting_json'] ? { sighting_json: p['sighting_json'] } : {}),
    });
    await db.write();
    res.status(202).json({ accepted: 1, incident: inc.id });
  });
  const server = app.listen(opts.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
