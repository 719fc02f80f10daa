import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { createHash } from 'node:crypto';
import { gzipSync, deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import express from 'express';
import { toHttpResponse } from '../../../../src/transport/http/errors.js';
import { createBodyReader } from '../../../../src/transport/http/sightings/read-body.js';

const LIMIT = 1024;

/** Answers what a reader made of the body: its size and hash, or the error as the API renders it. */
function serve(read: (req: IncomingMessage, res: ServerResponse) => Promise<Buffer>): Server {
  return createServer((req, res) => {
    read(req, res).then(
      (body) => res.end(JSON.stringify({ bytes: body.length, sha: createHash('sha256').update(body).digest('hex') })),
      (err: unknown) => {
        const r = toHttpResponse(err);
        res.statusCode = r.status;
        res.end(JSON.stringify(r.body));
      },
    );
  });
}

const bodyParser = express.raw({ type: '*/*', limit: LIMIT });
const servers = {
  ours: serve(createBodyReader(LIMIT)),
  // The reference: what the express route read bodies with before the fast path.
  bodyParser: serve(
    (req, res) =>
      new Promise((resolve, reject) =>
        bodyParser(req as express.Request, res as express.Response, (err?: unknown) => (err ? reject(err) : resolve(((req as { body?: Buffer }).body as Buffer) ?? Buffer.alloc(0)))),
      ),
  ),
};
const urls: Record<string, string> = {};

beforeAll(async () => {
  for (const [name, s] of Object.entries(servers)) {
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
    urls[name] = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  }
});
afterAll(async () => {
  for (const s of Object.values(servers)) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

async function answer(url: string, body: Buffer | string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  return { status: res.status, body: await res.json() };
}

describe('createBodyReader reads what body-parser read, and refuses what it refused', () => {
  const big = Buffer.alloc(LIMIT + 1, 0x20);
  const cases: Array<[string, Buffer | string, Record<string, string>?]> = [
    ['a small body', '{"a":1}'],
    ['exactly the limit', Buffer.alloc(LIMIT, 0x20)],
    ['one byte over (Content-Length)', big],
    ['far over the limit', Buffer.alloc(LIMIT * 64, 0x20)],
    ['an empty body', ''],
    ['gzip', gzipSync('{"zipped":true}'), { 'content-encoding': 'gzip' }],
    ['deflate', deflateSync('{"deflated":true}'), { 'content-encoding': 'deflate' }],
    ['gzip inflating past the limit', gzipSync(big), { 'content-encoding': 'gzip' }],
    ['a gzip header on plain bytes', '{"a":1}', { 'content-encoding': 'gzip' }],
    ['an unknown coding', '{"a":1}', { 'content-encoding': 'snappy' }],
    ['identity spelled out', '{"a":1}', { 'content-encoding': 'Identity' }],
  ];
  for (const [name, body, headers] of cases) {
    it(name, async () => {
      const ours = await answer(urls['ours']!, body, headers);
      expect(ours).toEqual(await answer(urls['bodyParser']!, body, headers));
    });
  }

  it('reads a chunked body over the limit off to its end and answers 413 on the same connection', async () => {
    const port = Number(new URL(urls['ours']!).port);
    const socket = connect(port, '127.0.0.1');
    const chunk = 'x'.repeat(600);
    const one = `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${(600).toString(16)}\r\n${chunk}\r\n${(600).toString(16)}\r\n${chunk}\r\n0\r\n\r\n`;
    const two = `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}`;
    let got = '';
    socket.on('data', (d) => (got += d.toString()));
    socket.write(one + two);
    await expect.poll(() => (got.match(/HTTP\/1\.1 /g) ?? []).length, { timeout: 5000 }).toBe(2);
    socket.destroy();
    expect(got).toMatch(/^HTTP\/1\.1 413 /);
    expect(got).toMatch(/HTTP\/1\.1 200 [\s\S]*"bytes":2/);
  });
});
