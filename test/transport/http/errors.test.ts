import type { AddressInfo } from 'node:net';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { NotFoundError, SightlineError, ValidationError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { httpErrorHandler, toHttpResponse } from '../../../src/transport/http/errors.js';

describe('toHttpResponse', () => {
  it('renders a SightlineError with its status, code and sentence', () => {
    expect(toHttpResponse(new NotFoundError('No such incident: check the id.'))).toEqual({
      status: 404,
      body: { error: 'not_found', message: 'No such incident: check the id.' },
    });
  });

  it('includes problems when the error has them', () => {
    const err = new ValidationError('Fix these.', [{ path: 'a', message: 'is required' }]);
    expect(toHttpResponse(err).body).toEqual({ error: 'validation_failed', message: 'Fix these.', problems: [{ path: 'a', message: 'is required' }] });
  });

  it('never leaks the detail or cause of an error', () => {
    const err = new SightlineError('upstream_failed', 'XDR failed: try later.', { httpStatus: 502, detail: 'token=abc at /secret/path' });
    expect(JSON.stringify(toHttpResponse(err))).not.toContain('secret');
    expect(toHttpResponse(new Error('ECONNREFUSED /var/lib/secret'))).toEqual({
      status: 500,
      body: { error: 'internal', message: expect.stringContaining('log') },
    });
  });

  it('maps body-parser errors by type', () => {
    expect(toHttpResponse(Object.assign(new Error('too large'), { type: 'entity.too.large', status: 413, limit: 100 })).status).toBe(413);
    expect(toHttpResponse(Object.assign(new Error('bad'), { type: 'encoding.unsupported', status: 415 })).status).toBe(415);
    expect(toHttpResponse(Object.assign(new Error('x'), { status: 418, expose: true })).status).toBe(418);
  });
});

describe('httpErrorHandler', () => {
  it('renders thrown errors as JSON over real HTTP', async () => {
    const app = express();
    app.get('/known', () => {
      throw new SightlineError('busy', 'Sightline is busy: retry in a minute.', { httpStatus: 503 });
    });
    app.get('/unknown', async () => {
      throw new Error('internal detail');
    });
    app.use(httpErrorHandler(silentLogger));
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const known = await fetch(`${base}/known`);
      expect(known.status).toBe(503);
      expect(await known.json()).toEqual({ error: 'busy', message: 'Sightline is busy: retry in a minute.' });
      const unknown = await fetch(`${base}/unknown`);
      expect(unknown.status).toBe(500);
      expect(await unknown.text()).not.toContain('internal detail');
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
