import express, { type Request, type Response, type Router } from 'express';
import { withFastRoute } from '../fast-route.js';
import { createSightingsHandler } from './handler.js';
import { SIGHTINGS_PATH, type SightingsRouterOptions } from './options.js';

export { DEFAULT_BODY_LIMIT_BYTES, SIGHTINGS_PATH, type SightingsAccepted, type SightingsRouterOptions } from './options.js';
export { jsonErrorPosition } from './json-body.js';

/**
 * `POST /api/v1/sightings` as an express router (handler.ts has the endpoint itself).
 * The router also carries the handler as a fast route: startHttpServer serves requests for
 * exactly this path from node:http before express, and this router takes the rest (other
 * spellings express matches, e.g. a trailing slash) with the same handler and answers.
 */
export function createSightingsRouter(opts: SightingsRouterOptions): Router {
  const handle = createSightingsHandler(opts);
  const router = express.Router();
  router.all(SIGHTINGS_PATH, (req: Request, res: Response) => handle(req, res));
  return withFastRoute(router, { path: SIGHTINGS_PATH, handle });
}
