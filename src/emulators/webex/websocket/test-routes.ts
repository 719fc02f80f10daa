import express, { type Router } from 'express';
import { z } from 'zod';
import { sendWebexError } from '../http-error.js';
import type { MercuryServer } from './mercury.js';

/**
 * The websocket fault switches over HTTP, under /_emulator/websocket (REST faults use the
 * existing POST /_emulator/faults, which covers /wdm, /u2c and /metrics too):
 *
 *   GET  /_emulator/websocket/stats          → { connections, openSockets, devices, framesSent, … }
 *   POST /_emulator/websocket/close          { code, reason? } → { closed: n }  (1006: drop without a close frame)
 *   POST /_emulator/websocket/refuse         { on: boolean } → 204
 *   POST /_emulator/websocket/drop           { count } → 204  (the next `count` activity frames are lost)
 */
export function createWebsocketTestRouter(mercury: MercuryServer, stats: () => unknown): Router {
  const r = express.Router();
  r.use(express.json());
  const body = <T extends z.ZodType>(schema: T, raw: unknown): z.output<T> | undefined => {
    const parsed = schema.safeParse(raw);
    return parsed.success ? parsed.data : undefined;
  };
  r.get('/stats', (_req, res) => void res.json(stats()));
  r.post('/close', (req, res) => {
    const b = body(z.object({ code: z.number().int().refine((c) => c === 1006 || (c >= 1000 && c <= 1014 && c !== 1004 && c !== 1005) || (c >= 3000 && c <= 4999)), reason: z.string().max(123).default('') }), req.body);
    if (!b) return sendWebexError(res, 400, 'code must be a websocket close code (1000-1014 except 1004/1005, 1006 to drop, or 3000-4999)');
    res.json({ closed: mercury.closeSockets(b.code, b.reason) });
  });
  r.post('/refuse', (req, res) => {
    const b = body(z.object({ on: z.boolean() }), req.body);
    if (!b) return sendWebexError(res, 400, 'on must be true or false');
    mercury.refuseSockets(b.on);
    res.status(204).end();
  });
  r.post('/drop', (req, res) => {
    const b = body(z.object({ count: z.number().int().min(1).max(10_000) }), req.body);
    if (!b) return sendWebexError(res, 400, 'count must be a whole number from 1');
    mercury.dropFrames(b.count);
    res.status(204).end();
  });
  return r;
}
