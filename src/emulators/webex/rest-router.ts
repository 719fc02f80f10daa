import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { sendWebexError, WebexHttpError } from './http-error.js';
import { checkNewMessage, newMessageSchema } from './message-rules.js';
import type { EmuPerson } from './model.js';
import { sendPage } from './paging.js';
import type { FaultBook } from './faults.js';
import type { WebexWorld } from './world.js';

/**
 * The Webex REST API under /v1: what our WebexHttpApi and webex-node-bot-framework
 * 2.3.14 in webhook mode call (webex.md §2.2), with Webex's status codes and bodies.
 */
export interface RestDeps {
  world: WebexWorld;
  faults: FaultBook;
  /** Bearer token → person id. */
  tokens: Map<string, string>;
  onTooManyRequests: () => void;
  onBotPost: (roomId: string) => void;
}

const caller = (res: Response): EmuPerson => res.locals['person'] as EmuPerson;

export function createRestRouter(deps: RestDeps): Router {
  const { world } = deps;
  const r = express.Router();
  r.use(express.json({ limit: '1mb' }));
  r.use(authenticate(deps));

  r.get('/people/me', (_req, res) => void res.json(caller(res)));
  r.get('/people', (req, res) => {
    const ids = typeof req.query['id'] === 'string' ? req.query['id'].split(',').filter(Boolean) : undefined;
    const email = typeof req.query['email'] === 'string' ? req.query['email'] : undefined;
    if (!ids && !email) throw new WebexHttpError(400, 'Either id or email must be specified.');
    const people = world.allPeople().filter((p) => (ids ? ids.includes(p.id) : p.emails.includes(email!.toLowerCase())));
    sendPage(req, res, people);
  });
  r.get('/people/:id', (req, res) => {
    const person = world.personById(req.params['id'] ?? '');
    if (!person) throw new WebexHttpError(404, 'The requested resource could not be found.');
    res.json(person);
  });

  r.get('/rooms', (req, res) => {
    const type = req.query['type'];
    const rooms = [...world.rooms.values()].filter((room) => world.isMember(room.id, caller(res).id) && (!type || room.type === type));
    sendPage(req, res, rooms);
  });
  r.post('/rooms', (req, res) => {
    const { title } = parse(z.object({ title: z.string().min(1) }), req.body);
    res.json(world.createRoom(title, caller(res)));
  });
  r.get('/rooms/:id', (req, res) => {
    const room = world.room(req.params['id'] ?? '');
    if (!world.isMember(room.id, caller(res).id)) throw new WebexHttpError(404, 'The requested resource could not be found.');
    res.json(room);
  });

  r.get('/memberships', (req, res) => {
    const { roomId, personId, personEmail } = req.query as Record<string, string | undefined>;
    if ((personId || personEmail) && !roomId) throw new WebexHttpError(400, 'personId and personEmail require roomId.');
    const me = caller(res);
    const items = world.memberships.filter((m) =>
      roomId ? m.roomId === roomId && world.isMember(roomId, me.id) && (!personId || m.personId === personId) && (!personEmail || m.personEmail === personEmail.toLowerCase()) : m.personId === me.id,
    );
    sendPage(req, res, items);
  });
  r.post('/memberships', (req, res) => {
    const body = parse(z.object({ roomId: z.string(), personId: z.string().optional(), personEmail: z.string().optional(), isModerator: z.boolean().optional() }), req.body);
    const person = body.personId ? world.personById(body.personId) : body.personEmail ? world.personOrInvite(body.personEmail) : undefined;
    if (!person) throw new WebexHttpError(400, 'personId or personEmail must identify a person.');
    if (!world.isMember(body.roomId, caller(res).id)) throw new WebexHttpError(404, 'Could not find a room with provided ID.');
    res.json(world.addMembership(body.roomId, person, caller(res)));
  });

  r.get('/messages', (req, res) => {
    const roomId = String(req.query['roomId'] ?? '');
    const me = caller(res);
    const room = world.room(roomId);
    if (!world.isMember(roomId, me.id)) throw new WebexHttpError(404, 'Could not find a room with provided ID.');
    // A bot sees only messages that mention it (and its own) in group rooms (webex.md §3.9).
    const visible = world.messages.filter((m) => m.roomId === roomId && (room.type === 'direct' || me.type !== 'bot' || m.personId === me.id || m.mentionedPeople?.includes(me.id)));
    sendPage(req, res, visible.reverse(), 50);
  });
  r.post('/messages', (req, res) => {
    const body = parse(newMessageSchema, req.body);
    const { cards } = checkNewMessage(body);
    const me = caller(res);
    const wait = deps.faults.rateLimited(String(res.locals['token']));
    if (wait !== undefined) {
      deps.onTooManyRequests();
      throw new WebexHttpError(429, 'Too many requests have been sent; try again later.', wait);
    }
    const target = body.toPersonEmail ? world.personOrInvite(body.toPersonEmail) : body.toPersonId ? world.personById(body.toPersonId) : undefined;
    if ((body.toPersonEmail || body.toPersonId) && !target) throw new WebexHttpError(404, 'Could not find a person with provided ID.');
    const roomId = target ? world.directRoom(target).id : (body.roomId ?? '');
    const { text, markdown, html, parentId } = body;
    const message = world.postMessage(me, roomId, { text, markdown, html, parentId, attachments: cards.length ? cards : undefined });
    if (me.id === world.bot.id) deps.onBotPost(roomId);
    res.json(message);
  });
  r.get('/messages/:id', (req, res) => {
    const message = world.message(req.params['id'] ?? '');
    if (!world.isMember(message.roomId, caller(res).id)) throw new WebexHttpError(404, 'The requested resource could not be found.');
    res.json(message);
  });

  r.get('/attachment/actions/:id', (req, res) => void res.json(world.action(req.params['id'] ?? '')));
  r.post('/attachment/actions', (req, res) => {
    const body = parse(z.object({ type: z.literal('submit'), messageId: z.string(), inputs: z.record(z.string(), z.unknown()).default({}) }), req.body);
    res.json(world.submitAction(caller(res), body.messageId, body.inputs));
  });

  r.get('/webhooks', (req, res) => sendPage(req, res, [...world.webhooks.values()].filter((w) => w.createdBy === caller(res).id)));
  r.post('/webhooks', (req, res) => {
    const body = parse(
      z.object({ name: z.string().min(1), targetUrl: z.url(), resource: z.string().min(1), event: z.string().min(1), filter: z.string().optional(), secret: z.string().optional() }),
      req.body,
    );
    res.json(world.createWebhook(caller(res), body));
  });
  r.get('/webhooks/:id', (req, res) => {
    const hook = world.webhooks.get(req.params['id'] ?? '');
    if (!hook) throw new WebexHttpError(404, 'The requested resource could not be found.');
    res.json(hook);
  });
  r.delete('/webhooks/:id', (req, res) => {
    world.deleteWebhook(req.params['id'] ?? '');
    res.status(204).end();
  });

  r.use(webexErrors);
  return r;
}

function authenticate(deps: RestDeps) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const token = /^Bearer (.+)$/i.exec(req.get('authorization') ?? '')?.[1];
    const personId = token ? deps.tokens.get(token) : undefined;
    const person = personId ? deps.world.personById(personId) : undefined;
    if (!token || !person) return sendWebexError(res, 401, 'The request requires a valid access token set in the Authorization request header.');
    res.locals['person'] = person;
    res.locals['token'] = token;
    next();
  };
}

function parse<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new WebexHttpError(400, `Invalid request: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'} ${i.message}`).join('; ')}`);
  return parsed.data;
}

/** Turns thrown errors into Webex error bodies; express.json parse failures become 400. */
export function webexErrors(err: unknown, _req: Request, res: Response, _next: NextFunction): void {
  if (err instanceof WebexHttpError) return sendWebexError(res, err.status, err.message, err.retryAfterSeconds);
  const status = (err as { status?: number }).status;
  if (status && status >= 400 && status < 500) return sendWebexError(res, status, (err as Error).message);
  sendWebexError(res, 500, `Internal emulator error: ${(err as Error).message}`);
}
