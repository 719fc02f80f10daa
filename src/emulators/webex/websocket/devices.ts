import { randomUUID } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import { sendWebexError } from '../http-error.js';

/** A WDM device: what the SDK registers before it may open the Mercury websocket (webex-websocket.md §2). */
export interface EmuDevice {
  id: string;
  url: string;
  webSocketUrl: string;
  personId: string;
  name: string;
  deviceType: string;
  created: string;
}

export class DeviceRegistry {
  private readonly devices = new Map<string, EmuDevice>();
  readonly counts = { registered: 0, deleted: 0, metricsPosts: 0 };

  get(id: string): EmuDevice | undefined {
    return this.devices.get(id);
  }

  all(): EmuDevice[] {
    return [...this.devices.values()];
  }

  register(personId: string, origin: string, body: Record<string, unknown>): EmuDevice {
    const id = randomUUID();
    const wsOrigin = origin.replace(/^http/, 'ws');
    const device: EmuDevice = {
      id,
      url: `${origin}/wdm/api/v1/devices/${id}`,
      webSocketUrl: `${wsOrigin}/mercury/devices/${id}/messages`,
      personId,
      name: typeof body['name'] === 'string' ? body['name'] : 'unnamed',
      deviceType: typeof body['deviceType'] === 'string' ? body['deviceType'] : 'WEB',
      created: new Date().toISOString(),
    };
    this.devices.set(id, device);
    this.counts.registered++;
    return device;
  }

  delete(id: string): boolean {
    const gone = this.devices.delete(id);
    if (gone) this.counts.deleted++;
    return gone;
  }

  deleteAllOf(personId: string): EmuDevice[] {
    const mine = this.all().filter((d) => d.personId === personId);
    for (const d of mine) this.delete(d.id);
    return mine;
  }
}

/** The body WDM answers with: the device plus the services and feature toggles the SDK reads. */
function deviceBody(d: EmuDevice): Record<string, unknown> {
  return {
    url: d.url,
    webSocketUrl: d.webSocketUrl,
    deviceType: d.deviceType,
    name: d.name,
    services: {},
    features: { developer: [], entitlement: [], user: [] },
    creationTime: d.created,
    modificationTime: d.created,
  };
}

/** Bearer token → person id, or a 401 answer. */
function personOf(tokens: Map<string, string>, req: Request, res: Response): string | undefined {
  const token = /^Bearer (.+)$/i.exec(req.get('authorization') ?? '')?.[1];
  const personId = token ? tokens.get(token) : undefined;
  if (!personId) sendWebexError(res, 401, 'The request requires a valid access token set in the Authorization request header.');
  return personId;
}

/**
 * WDM under /wdm/api/v1 and client metrics under /metrics/api/v1. `onDeleted` lets the
 * Mercury side close a deleted device's socket, as the cloud does.
 */
export function createDeviceRouters(registry: DeviceRegistry, tokens: Map<string, string>, onDeleted: (d: EmuDevice) => void): { wdm: Router; metrics: Router } {
  const wdm = express.Router();
  wdm.use(express.json({ limit: '256kb' }));
  const origin = (req: Request) => `${req.protocol}://${req.get('host')}`;
  wdm.post('/devices', (req, res) => {
    const personId = personOf(tokens, req, res);
    if (!personId) return;
    res.json(deviceBody(registry.register(personId, origin(req), (req.body ?? {}) as Record<string, unknown>)));
  });
  const mine = (req: Request, res: Response): EmuDevice | undefined => {
    const personId = personOf(tokens, req, res);
    if (!personId) return undefined;
    const device = registry.get(String(req.params['id']));
    if (!device || device.personId !== personId) return void sendWebexError(res, 404, 'The requested device could not be found.');
    return device;
  };
  wdm.get('/devices/:id', (req, res) => {
    const device = mine(req, res);
    if (device) res.json(deviceBody(device));
  });
  // device.refresh(): the SDK PUTs its registration to renew it.
  wdm.put('/devices/:id', (req, res) => {
    const device = mine(req, res);
    if (device) res.json(deviceBody(device));
  });
  wdm.delete('/devices/:id', (req, res) => {
    const device = mine(req, res);
    if (!device) return;
    registry.delete(device.id);
    onDeleted(device);
    res.status(204).end();
  });
  // removeDeviceRegistrationsOnStart: every device of the token.
  wdm.delete('/devices', (req, res) => {
    const personId = personOf(tokens, req, res);
    if (!personId) return;
    for (const d of registry.deleteAllOf(personId)) onDeleted(d);
    res.status(204).end();
  });

  const metrics = express.Router();
  metrics.use(express.json({ limit: '1mb' }));
  metrics.post('/clientmetrics', (_req, res) => {
    registry.counts.metricsPosts++;
    res.status(204).end();
  });
  return { wdm, metrics };
}
