import { open } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifySightingsRequest } from '../src/transport/http/sightings/auth.js';

/**
 * The machine's floor for a durable 202: the least a sightings endpoint can do and
 * still keep its promise. node:http, the same HMAC check, JSON.parse, a two-field
 * check, and a group-committed append + fdatasync to one file before answering.
 * Nothing of the bot (no express, no zod, no correlation, no logging): every ingest
 * figure of ours is also reported as a ratio to this one, measured in the same run.
 */
export async function startFloorIngest(opts: { file: string; secret: string }): Promise<{ url: string; close(): Promise<void> }> {
  const fd = await open(opts.file, 'a');
  let pending: Array<{ line: string; done: () => void; fail: (e: unknown) => void }> = [];
  let flushing = false;

  // Group commit: while one write+fdatasync runs, later lines wait and go in the next one.
  const flush = async (): Promise<void> => {
    if (flushing || pending.length === 0) return;
    flushing = true;
    const batch = pending;
    pending = [];
    try {
      await fd.write(batch.map((b) => b.line).join(''));
      await fd.datasync();
      for (const b of batch) b.done();
    } catch (err) {
      for (const b of batch) b.fail(err);
    } finally {
      flushing = false;
      void flush();
    }
  };
  const append = (line: string) =>
    new Promise<void>((done, fail) => {
      pending.push({ line, done, fail });
      void flush();
    });

  const answer = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const auth = verifySightingsRequest(
        { hmacSecret: opts.secret },
        { signature: req.headers['x-sightline-signature'] as string | undefined, timestamp: req.headers['x-sightline-timestamp'] as string | undefined },
        raw,
        new Date(),
      );
      if (!auth.ok) return answer(res, 401, { error: auth.reason });
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
      } catch {
        return answer(res, 400, { error: 'not JSON' });
      }
      if (typeof body['target_value'] !== 'string' || typeof body['ioc_value'] !== 'string') return answer(res, 422, { error: 'target_value and ioc_value are required' });
      append(`${raw.toString('utf8')}\n`).then(
        () => answer(res, 202, { accepted: 1 }),
        () => answer(res, 503, { error: 'journal write failed' }),
      );
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await fd.close();
    },
  };
}
