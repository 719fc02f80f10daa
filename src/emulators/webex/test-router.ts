/**
 * The emulator's test API (tests and the sandbox web page use it). No auth: the
 * emulator listens on 127.0.0.1 only. Bodies are JSON; errors are `{message, errors, trackingId}`.
 *
 *   GET  /_emulator/people                      → { items: EmuPerson[] }  (bot first, then analysts)
 *   GET  /_emulator/rooms                       → { items: (EmuRoom & { members: string[] })[] }
 *   POST /_emulator/rooms                       { title, members: string[] } → 201 EmuRoom
 *        (members[0] creates the room; every member and the bot are added)
 *   GET  /_emulator/rooms/:roomId/messages      → { items: EmuMessage[] } oldest first, everyone's
 *   POST /_emulator/rooms/:roomId/messages      { personEmail, text, mentionBot?: boolean } → 201 EmuMessage
 *        (adds the person to the room if needed; mentionBot puts the bot's display name
 *         first in `text` and the bot in `mentionedPeople`, like Webex does)
 *   POST /_emulator/direct                      { personEmail, text } → 201 EmuMessage (1:1 with the bot)
 *   POST /_emulator/actions                     { personEmail, messageId, inputs } → 201 EmuAction (card click)
 *   GET  /_emulator/events                      Server-Sent Events: `event: room|membership|message|action`,
 *                                               `data: {"room"|"membership"|"message"|"action": …, "actorId": …}`
 *   POST /_emulator/faults                      { pathPattern, method?, status, count, retryAfterSeconds? } → 204
 *        (pathPattern is a regular expression tested against the path, e.g. "^/v1/messages$")
 *   DELETE /_emulator/faults                    → 204 (clears faults)
 *   GET  /_emulator/messages?since=<cursor>     → { items: EmuMessage[], cursor } every room's messages after the cursor
 *                                               (0 or absent: all), oldest first; ask again with the cursor returned
 *   GET  /_emulator/refused?since=<cursor>      → { items: {seq, at, status, personEmail?, body, answer}[], cursor }:
 *                                               every POST /v1/messages answered with an error (faults included)
 *   GET  /_emulator/idle?quietMs=500&timeoutMs=10000 → 200 { idleForMs } once no REST call has been seen for
 *                                               quietMs; 408 when the bot kept calling until timeoutMs
 *   DELETE /_emulator/messages/:id              → 204 (a moderator deletes it; replies to it then get Webex's
 *                                               400 "Parent message not found in this room.")
 *   DELETE /_emulator/rooms/:roomId/members/:personEmail → 204 (e.g. the bot removed: its posts there get 404)
 *   DELETE /_emulator/rooms/:roomId             → 204 (the room is deleted)
 *   /_emulator/websocket/…                      websocket fault switches and stats (websocket/test-routes.ts)
 *   GET  /_emulator/stats                       → { messagesPosted: {roomId: n}, tooManyRequests, requests,
 *                                                   webhooks: {sent, failed} }
 */
import express, { type Router } from 'express';
import { z } from 'zod';
import type { FaultSpec } from './faults.js';
import { WebexHttpError } from './http-error.js';
import { webexErrors } from './rest-router.js';
import type { WebexEmulator } from './emulator.js';

const faultSchema = z.object({
  pathPattern: z.string().min(1),
  method: z.string().optional(),
  status: z.number().int().min(100).max(599),
  count: z.number().int().min(1),
  retryAfterSeconds: z.number().min(0).optional(),
});

function parse<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new WebexHttpError(400, parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
  return parsed.data;
}

export function createTestRouter(emu: WebexEmulator): Router {
  const r = express.Router();
  r.use(express.json({ limit: '1mb' }));

  r.get('/people', (_req, res) => void res.json({ items: emu.people() }));
  r.get('/rooms', (_req, res) => void res.json({ items: emu.rooms() }));
  r.post('/rooms', (req, res) => {
    const body = parse(z.object({ title: z.string().min(1), members: z.array(z.string().min(3)).min(1) }), req.body);
    res.status(201).json(emu.createRoomAsPerson(body.title, body.members));
  });
  r.get('/rooms/:roomId/messages', (req, res) => void res.json({ items: emu.messages(req.params['roomId'] ?? '') }));
  r.post('/rooms/:roomId/messages', (req, res) => {
    const body = parse(z.object({ personEmail: z.string().min(3), text: z.string().min(1), mentionBot: z.boolean().optional() }), req.body);
    res.status(201).json(emu.postAsPerson(body.personEmail, req.params['roomId'] ?? '', body.text, { mentionBot: body.mentionBot }));
  });
  r.post('/direct', (req, res) => {
    const body = parse(z.object({ personEmail: z.string().min(3), text: z.string().min(1) }), req.body);
    res.status(201).json(emu.postDirect(body.personEmail, body.text));
  });
  r.post('/actions', (req, res) => {
    const body = parse(z.object({ personEmail: z.string().min(3), messageId: z.string(), inputs: z.record(z.string(), z.unknown()).default({}) }), req.body);
    res.status(201).json(emu.clickCard(body.personEmail, body.messageId, body.inputs));
  });
  r.post('/faults', (req, res) => {
    emu.injectFault(parse(faultSchema, req.body) as FaultSpec);
    res.status(204).end();
  });
  r.delete('/faults', (_req, res) => {
    emu.clearFaults();
    res.status(204).end();
  });
  const cursorOf = (query: unknown) => parse(z.object({ since: z.coerce.number().int().min(0).default(0) }), query).since;
  r.get('/messages', (req, res) => void res.json(emu.messagesSince(cursorOf(req.query))));
  r.get('/refused', (req, res) => void res.json(emu.traffic.refused(cursorOf(req.query))));
  r.get('/idle', async (req, res) => {
    const q = parse(z.object({ quietMs: z.coerce.number().int().min(1).max(600_000).default(500), timeoutMs: z.coerce.number().int().min(1).max(600_000).default(10_000) }), req.query);
    try {
      res.json({ idleForMs: await emu.traffic.waitForIdle(q.quietMs, q.timeoutMs) });
    } catch (err) {
      throw new WebexHttpError(408, (err as Error).message);
    }
  });
  r.delete('/messages/:id', (req, res) => {
    emu.deleteMessage(req.params['id'] ?? '');
    res.status(204).end();
  });
  r.delete('/rooms/:roomId/members/:personEmail', (req, res) => {
    emu.removeFromRoom(req.params['roomId'] ?? '', req.params['personEmail'] ?? '');
    res.status(204).end();
  });
  r.delete('/rooms/:roomId', (req, res) => {
    emu.deleteRoom(req.params['roomId'] ?? '');
    res.status(204).end();
  });
  r.get('/stats', (_req, res) => void res.json(emu.stats()));

  r.get('/events', (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.write(': connected\n\n');
    const names = ['room', 'membership', 'message', 'action'] as const;
    const listeners = names.map((name) => {
      const listener = (payload: unknown) => res.write(`event: ${name}\ndata: ${JSON.stringify(payload)}\n\n`);
      emu.events.on(name, listener);
      return [name, listener] as const;
    });
    req.on('close', () => {
      for (const [name, listener] of listeners) emu.events.off(name, listener);
    });
  });

  r.use(webexErrors);
  return r;
}
