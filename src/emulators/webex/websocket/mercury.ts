import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { DeviceRegistry, EmuDevice } from './devices.js';

/**
 * The Mercury websocket (webex-websocket.md §3): the client authorizes with its bearer
 * token, gets `mercury.buffer_state`, then receives `conversation.activity` frames.
 * Every server frame carries an id the client acks; client pings get pongs.
 *
 * Fault switches: refuse new sockets, stall their authorization, close live ones with any
 * code and reason (1006 = the connection simply dies), drop the next n activity frames.
 */
export interface MercuryStats {
  connections: number;
  openSockets: number;
  framesSent: number;
  framesDropped: number;
  acks: number;
  pings: number;
  refusedUpgrades: number;
}

interface LiveSocket {
  ws: WebSocket;
  device: EmuDevice;
  sequence: number;
}

const PATH = /^\/mercury\/devices\/([^/]+)\/messages$/;

export class MercuryServer {
  readonly events = new EventEmitter<{ open: [EmuDevice]; close: [EmuDevice, number] }>();
  readonly stats: MercuryStats = { connections: 0, openSockets: 0, framesSent: 0, framesDropped: 0, acks: 0, pings: 0, refusedUpgrades: 0 };
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly live = new Set<LiveSocket>();
  private refusing = false;
  private stalling = false;
  private dropNext = 0;

  constructor(
    private readonly devices: DeviceRegistry,
    private readonly tokens: Map<string, string>,
  ) {}

  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
  }

  /** Refuse (503) every new websocket until switched off; live sockets are untouched. */
  refuseSockets(on: boolean): void {
    this.refusing = on;
  }

  /** Accept sockets but never answer their authorization (the client's connect() then never resolves). */
  stallAuthorization(on: boolean): void {
    this.stalling = on;
  }

  /** Closes every live socket with this code and reason; 1006 drops the TCP connection without a close frame. */
  closeSockets(code: number, reason = ''): number {
    const n = this.live.size;
    for (const s of [...this.live]) {
      if (code === 1006) s.ws.terminate();
      else s.ws.close(code, reason);
    }
    return n;
  }

  /** The next `n` activity frames are lost (the client never sees them). */
  dropFrames(n: number): void {
    this.dropNext += n;
  }

  /** Person ids with at least one authorized live socket. */
  listeners(): { personId: string; send: (data: Record<string, unknown>) => boolean }[] {
    return [...this.live].map((s) => ({ personId: s.device.personId, send: (data) => this.sendActivity(s, data) }));
  }

  async close(): Promise<void> {
    for (const s of this.live) s.ws.terminate();
    this.live.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = new URL(req.url ?? '/', 'http://emulator').pathname;
    const device = this.devices.get(PATH.exec(path)?.[1] ?? '');
    if (this.refusing || !device) {
      this.stats.refusedUpgrades++;
      socket.end(`HTTP/1.1 ${this.refusing ? '503 Service Unavailable' : '404 Not Found'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, device));
  }

  private accept(ws: WebSocket, device: EmuDevice): void {
    let entry: LiveSocket | undefined;
    // The client must authorize promptly; a socket that never does is closed.
    const authTimer = setTimeout(() => ws.close(4401, 'authorization timeout'), 10_000);
    authTimer.unref();
    ws.on('message', (raw) => {
      let frame: { id?: unknown; type?: unknown; data?: { token?: unknown } };
      try {
        frame = JSON.parse(String(raw)) as typeof frame;
      } catch {
        return void ws.close(1003, 'not json');
      }
      if (frame.type === 'authorization' && !entry) {
        clearTimeout(authTimer);
        if (this.stalling) return;
        const token = /^Bearer (.+)$/.exec(String(frame.data?.token ?? ''))?.[1];
        if (!token || this.tokens.get(token) !== device.personId) return void ws.close(4401, 'unauthorized');
        entry = { ws, device, sequence: 0 };
        this.live.add(entry);
        this.stats.connections++;
        this.stats.openSockets = this.live.size;
        this.send(entry, { data: { eventType: 'mercury.buffer_state' } });
        this.events.emit('open', device);
      } else if (frame.type === 'ping') {
        this.stats.pings++;
        ws.send(JSON.stringify({ type: 'pong', id: frame.id }));
      } else if (frame.type === 'ack') {
        this.stats.acks++;
      }
    });
    ws.on('close', (code) => {
      clearTimeout(authTimer);
      if (!entry) return;
      this.live.delete(entry);
      this.stats.openSockets = this.live.size;
      this.events.emit('close', device, code);
    });
    ws.on('error', () => undefined);
  }

  private sendActivity(s: LiveSocket, activity: Record<string, unknown>): boolean {
    if (this.dropNext > 0) {
      this.dropNext--;
      this.stats.framesDropped++;
      return false;
    }
    this.send(s, { data: { eventType: 'conversation.activity', activity } });
    return true;
  }

  private send(s: LiveSocket, frame: Record<string, unknown>): void {
    s.sequence++;
    this.stats.framesSent++;
    s.ws.send(JSON.stringify({ id: randomUUID(), sequenceNumber: s.sequence, ...frame }));
  }
}
