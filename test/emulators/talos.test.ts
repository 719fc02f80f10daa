import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TalosEmulator } from '../../src/emulators/talos/server.js';
import { TALOS_ROUNDUPS_DIR } from '../support/fixtures.js';

const emulator = new TalosEmulator({ fixturesDir: TALOS_ROUNDUPS_DIR });
let base = '';
beforeAll(async () => {
  base = (await emulator.start()).url;
});
afterAll(() => emulator.stop());

async function get(path: string) {
  const res = await request(`${base}${path}`);
  return { status: res.statusCode, type: res.headers['content-type'], location: res.headers.location, text: await res.body.text() };
}

describe('TalosEmulator', () => {
  it('listens on 127.0.0.1 with a random port', () => {
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(emulator.hostPort).toBe(base.slice('http://'.length));
  });

  it('serves the real fixture bytes in the GitHub layout, as GitHub raw does', async () => {
    const { readFileSync } = await import('node:fs');
    const res = await get('/Cisco-Talos/Threat-Round-Up/master/2021/1203.json');
    expect(res.status).toBe(200);
    expect(res.type).toBe('text/plain; charset=utf-8');
    expect(res.text).toBe(readFileSync(`${emulator.fixturesDir}/2021/1203.json`, 'utf8'));
  });

  it('serves the S3 layout by url id, and only under the matching file name', async () => {
    expect((await get('/talos-intelligence-site/production/document_files/files/000/095/584/original/20210617-tru.json.txt')).status).toBe(200);
    expect((await get('/talos-intelligence-site/production/document_files/files/000/095/597/original/20210723-tru.json.txt')).status).toBe(200);
    expect((await get('/talos-intelligence-site/production/document_files/files/000/095/585/original/20210617-tru.json.txt')).status).toBe(404);
    expect((await get('/talos-intelligence-site/production/document_files/files/000/095/584/original/20210618-tru.json.txt')).status).toBe(404);
  });

  it('answers 404 for a missing week, and publishes/unpublishes at run time', async () => {
    const path = '/Cisco-Talos/Threat-Round-Up/master/2025/0103.json';
    expect(await get(path)).toMatchObject({ status: 404, text: '404: Not Found' });
    emulator.publish('2025-01-03', { body: '{"signatures":[]}' });
    expect(await get(path)).toMatchObject({ status: 200, text: '{"signatures":[]}' });
    emulator.publishS3(900, '2025-01-03', '2021/1203.json');
    expect((await get('/talos-intelligence-site/production/document_files/files/000/095/900/original/20250103-tru.json.txt')).status).toBe(200);
    emulator.unpublish('2025-01-03');
    expect((await get(path)).status).toBe(404);
    expect((await get('/talos-intelligence-site/production/document_files/files/000/095/900/original/20250103-tru.json.txt')).status).toBe(404);
  });

  it('injects failures for the next n requests, then recovers', async () => {
    emulator.failNext(2, 500);
    const path = '/Cisco-Talos/Threat-Round-Up/master/2021/1203.json';
    expect((await get(path)).status).toBe(500);
    expect((await get(path)).status).toBe(500);
    expect((await get(path)).status).toBe(200);
  });

  it('redirects on /redirect?to= and logs every request', async () => {
    emulator.requests.length = 0;
    const res = await get('/redirect?to=https%3A%2F%2Fevil.example%2Fx');
    expect(res).toMatchObject({ status: 302, location: 'https://evil.example/x' });
    expect(emulator.requests).toEqual([{ method: 'GET', path: '/redirect?to=https%3A%2F%2Fevil.example%2Fx', status: 302 }]);
  });

  it('refuses other methods', async () => {
    const res = await request(`${base}/Cisco-Talos/Threat-Round-Up/master/2021/1203.json`, { method: 'POST', body: 'x' });
    expect(res.statusCode).toBe(405);
    await res.body.dump();
  });
});
