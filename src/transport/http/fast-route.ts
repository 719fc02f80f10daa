import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Router } from 'express';

/**
 * A route that the HTTP server may serve straight from node:http, before express, when a
 * request's path is exactly `path` (query string allowed). Its router serves the same
 * handler through express for everything else (other spellings of the path, tests that
 * mount the router alone), so both doors give the same answers.
 */
export interface FastRoute {
  path: string;
  handle(req: IncomingMessage, res: ServerResponse): void;
}

const FAST_ROUTE = Symbol('sightline.fastRoute');

export function withFastRoute<T extends Router>(router: T, route: FastRoute): T {
  return Object.assign(router, { [FAST_ROUTE]: route });
}

export function fastRouteOf(router: Router): FastRoute | undefined {
  return (router as Router & { [FAST_ROUTE]?: FastRoute })[FAST_ROUTE];
}

/** The path part of a request URL: what express calls `req.path`. */
export function pathOf(url: string | undefined): string {
  const u = url ?? '/';
  const q = u.indexOf('?');
  return q === -1 ? u : u.slice(0, q);
}
