import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HttpClient } from '../../../src/clients/http.js';
import { TalosFetcher } from '../../../src/clients/talos/fetcher.js';
import type { Config } from '../../../src/config/load.js';
import { NotFoundError, UpstreamError, UriRefusedError, ValidationError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { TalosEmulator } from '../../../src/emulators/talos/server.js';
import { talosConfigFor } from '../../support/talos-config.js';
import { TALOS_ROUNDUPS_DIR } from '../../support/fixtures.js';

const emulator = new TalosEmulator({ fixturesDir: TALOS_ROUNDUPS_DIR });
let base = '';

beforeAll(async () => {
  base = (await emulator.start()).url;
});
afterAll(() => emulator.stop());
beforeEach(() => {
  emulator.requests.length = 0;
});

function talos(over: Partial<Config['talos']> = {}): Config['talos'] {
  return talosConfigFor(emulator, over);
}

function fetcher(over: Partial<Config['talos']> = {}): TalosFetcher {
  const http = new HttpClient({ service: 'Talos', retry: { retries: 2, minTimeoutMs: 1, maxTimeoutMs: 2 } });
  return new TalosFetcher({ talos: talos(over), logger: silentLogger, http });
}

const paths = () => emulator.requests.map((r) => `${r.status} ${r.path}`);

describe('TalosFetcher.findWeek, GitHub layout', () => {
  it('finds a Friday-named file on the first try', async () => {
    const result = await fetcher().findWeek('2021-07-23');
    expect(result).toMatchObject({ status: 'found', uri: `${base}/Cisco-Talos/Threat-Round-Up/master/2021/0723.json` });
    expect(paths()).toEqual(['200 /Cisco-Talos/Threat-Round-Up/master/2021/0723.json']);
  });

  it('finds the Thursday-named 2021/0617 for Friday 2021-06-18', async () => {
    const result = await fetcher().findWeek('2021-06-18');
    expect(result.status).toBe('found');
    expect(result.status === 'found' && result.uri.endsWith('/2021/0617.json')).toBe(true);
    expect(result.status === 'found' && JSON.parse(result.text).info.publication_date).toBe('2021-06-18T19:09:54+00:00');
    expect(paths()).toEqual(['404 /Cisco-Talos/Threat-Round-Up/master/2021/0618.json', '200 /Cisco-Talos/Threat-Round-Up/master/2021/0617.json']);
  });

  it('reports not_published with every address tried (Friday, Thursday, Saturday)', async () => {
    const result = await fetcher().findWeek('2021-07-30');
    expect(result).toEqual({
      status: 'not_published',
      tried: ['0730', '0729', '0731'].map((d) => `${base}/Cisco-Talos/Threat-Round-Up/master/2021/${d}.json`),
    });
  });

  it('finds a week once it is published at run time, and loses it when unpublished', async () => {
    expect((await fetcher().findWeek('2024-01-05')).status).toBe('not_published');
    emulator.publish('2024-01-05', '2021/1203.json');
    try {
      expect((await fetcher().findWeek('2024-01-05')).status).toBe('found');
    } finally {
      emulator.unpublish('2024-01-05');
    }
    expect((await fetcher().findWeek('2024-01-05')).status).toBe('not_published');
  });

  it('retries a transient 503 and then finds the file', async () => {
    emulator.failNext(1, 503);
    expect((await fetcher().findWeek('2021-07-23')).status).toBe('found');
    expect(emulator.requests.map((r) => r.status)).toEqual([503, 200]);
  });

  it('throws UpstreamError when the host keeps failing (not "not published")', async () => {
    emulator.failNext(3, 502);
    await expect(fetcher().findWeek('2021-07-23')).rejects.toMatchObject({ name: 'UpstreamError', status: 502 });
  });

  it('throws UpstreamError when the host does not answer in time', async () => {
    // undici checks its timeouts on a coarse (about 1 s) tick, so the latency must clearly exceed that.
    emulator.setLatency(2500);
    try {
      const http = new HttpClient({ service: 'Talos', defaultTimeoutMs: 100, retry: { retries: 0 } });
      const slow = new TalosFetcher({ talos: talos(), logger: silentLogger, http });
      const err = await slow.findWeek('2021-07-23').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UpstreamError);
      expect((err as UpstreamError).status).toBeUndefined();
    } finally {
      emulator.setLatency(0);
    }
  });

  it('refuses a template whose host is not allow-listed before sending anything', async () => {
    await expect(fetcher({ allowedHosts: ['raw.githubusercontent.com'] }).findWeek('2021-07-23')).rejects.toBeInstanceOf(UriRefusedError);
    expect(emulator.requests).toEqual([]);
  });
});

describe('TalosFetcher.findWeek, S3 {urlId} layout', () => {
  it('probes cursor+1… and returns the url id it found (597 for 2021-07-23)', async () => {
    const result = await fetcher({ urlTemplate: emulator.s3Template }).findWeek('2021-07-23', 590);
    expect(result).toMatchObject({ status: 'found', urlId: 597 });
    expect(emulator.requests.map((r) => r.path.split('/')[7])).toEqual(['591', '592', '593', '594', '595', '596', '597']);
  });

  it('finds 20210617-tru.json.txt at id 584 after missing every id for the Friday', async () => {
    const result = await fetcher({ urlTemplate: emulator.s3Template, urlIdProbeMax: 10 }).findWeek('2021-06-18', 580);
    expect(result).toMatchObject({ status: 'found', urlId: 584 });
    expect(result.status === 'found' && result.uri.endsWith('/584/original/20210617-tru.json.txt')).toBe(true);
    expect(emulator.requests).toHaveLength(10 + 4);
  });

  it('starts from TALOS_URL_ID_START when no cursor is stored, and gives up after the probe max per date', async () => {
    const result = await fetcher({ urlTemplate: emulator.s3Template, urlIdStart: 597, urlIdProbeMax: 3 }).findWeek('2021-07-30');
    expect(result.status === 'not_published' && result.tried.map((u) => u.slice(base.length).split('/').slice(7, 10).join('/'))).toEqual([
      '598/original/20210730-tru.json.txt',
      '599/original/20210730-tru.json.txt',
      '600/original/20210730-tru.json.txt',
      '598/original/20210729-tru.json.txt',
      '599/original/20210729-tru.json.txt',
      '600/original/20210729-tru.json.txt',
      '598/original/20210731-tru.json.txt',
      '599/original/20210731-tru.json.txt',
      '600/original/20210731-tru.json.txt',
    ]);
  });
});

describe('TalosFetcher.fetchUri', () => {
  const file = (p: string) => `${base}/Cisco-Talos/Threat-Round-Up/master/${p}`;

  it('downloads and parses a roundup', async () => {
    const { uri, roundup } = await fetcher().fetchUri(file('2021/1203.json'));
    expect(uri).toBe(file('2021/1203.json'));
    expect(roundup.threats).toHaveLength(8);
    expect(roundup.source).toBe(uri);
  });

  it('follows a redirect to an allow-listed address, relative or absolute', async () => {
    const rel = await fetcher().fetchUri(`${base}/redirect?to=${encodeURIComponent('/Cisco-Talos/Threat-Round-Up/master/2021/1203.json')}`);
    expect(rel.uri).toBe(file('2021/1203.json'));
    const abs = await fetcher().fetchUri(`${base}/redirect?to=${encodeURIComponent(file('2021/1203.json'))}`);
    expect(abs.roundup.threats).toHaveLength(8);
  });

  it.each([
    ['a foreign host', 'https://evil.example/x.json', /not on the Talos allow-list/],
    ['the cloud metadata address', 'http://169.254.169.254/latest/meta-data', /given as an IP/],
    ['localhost on the same port', 'LOCALHOST', /localhost addresses are refused/],
  ])('refuses a redirect to %s without fetching it', async (_, to, message) => {
    const target = to === 'LOCALHOST' ? `http://localhost:${new URL(base).port}/Cisco-Talos/Threat-Round-Up/master/2021/1203.json` : to;
    await expect(fetcher().fetchUri(`${base}/redirect?to=${encodeURIComponent(target)}`)).rejects.toThrow(message);
    expect(emulator.requests).toHaveLength(1);
  });

  it('stops after 3 redirect hops', async () => {
    let uri = file('2021/1203.json');
    for (let i = 0; i < 4; i++) uri = `${base}/redirect?to=${encodeURIComponent(uri)}`;
    await expect(fetcher().fetchUri(uri)).rejects.toThrow(/redirected more than 3 times/);
    expect(emulator.requests).toHaveLength(4);
  });

  it('turns a 404 into NotFoundError', async () => {
    await expect(fetcher().fetchUri(file('2021/0730.json'))).rejects.toBeInstanceOf(NotFoundError);
  });

  it('turns garbage into a ValidationError that says it is not JSON', async () => {
    emulator.publish('2030-01-04', { body: '<html>Rate limited</html>' });
    try {
      const err = await fetcher().fetchUri(file('2030/0104.json')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).userMessage).toMatch(/is not valid JSON.*HTML page/);
    } finally {
      emulator.unpublish('2030-01-04');
    }
  });

  it('refuses a file bigger than TALOS_MAX_FILE_BYTES', async () => {
    const err = await fetcher({ maxFileBytes: 100_000 }).fetchUri(file('2021/0723.json')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).status).toBe(413);
    expect((err as UpstreamError).userMessage).toMatch(/larger than TALOS_MAX_FILE_BYTES \(100000 bytes\)/);
    expect(emulator.requests).toHaveLength(1);
  });
});
