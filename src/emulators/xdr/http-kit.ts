import { randomUUID } from 'node:crypto';

/** The tiny routing vocabulary the XDR emulator is written in (node:http, no framework). */
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface RouteContext {
  method: string;
  url: URL;
  /** Decoded regex capture groups of the route pattern. */
  params: string[];
  body: unknown;
}

export type Handler = (ctx: RouteContext) => Reply | Promise<Reply>;

export interface Route {
  method: string;
  pattern: RegExp;
  handler: Handler;
}

export function route(method: string, pattern: RegExp, handler: Handler): Route {
  return { method, pattern, handler };
}

export function json(status: number, body?: unknown, headers?: Record<string, string>): Reply {
  return { status, body, headers };
}

/** IROH's NormalizedError shape (xdr-api.md §2). */
export function irohError(status: number, error: string, description: string): Reply {
  return json(status, { error, error_description: description, trace_id: randomUUID() });
}

export function matchRoute(routes: Route[], method: string, path: string): { route: Route; params: string[] } | 'method' | undefined {
  let pathMatched = false;
  for (const r of routes) {
    const m = r.pattern.exec(path);
    if (!m) continue;
    pathMatched = true;
    if (r.method !== method) continue;
    return { route: r, params: m.slice(1).map((p) => (p === undefined ? '' : safeDecode(p))) };
  }
  return pathMatched ? 'method' : undefined;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
