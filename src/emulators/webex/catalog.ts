import express, { type Router } from 'express';
import { sendWebexError } from './http-error.js';
import { websocketHostCatalog, websocketServiceLinks } from './websocket/catalog-links.js';

/**
 * The u2c service catalog the SDK fetches for `a_b_orgId`-shaped tokens (webex.md §2.1):
 * `limited/catalog` without auth, `catalog` with it. Hydra for webhook mode; wdm, metrics
 * and conversation for websocket mode (webex-websocket.md §1, served by ./websocket).
 */
export function createCatalogRouter(tokens: Map<string, string>): Router {
  const r = express.Router();
  const catalog = (origin: string) => ({
    serviceLinks: { hydra: `${origin}/v1`, ...websocketServiceLinks(origin) },
    hostCatalog: websocketHostCatalog(origin),
    format: 'hostmap',
    timestamp: String(Date.now()),
  });
  r.get('/limited/catalog', (req, res) => void res.json(catalog(`${req.protocol}://${req.get('host')}`)));
  r.get('/catalog', (req, res) => {
    const token = /^Bearer (.+)$/i.exec(req.get('authorization') ?? '')?.[1];
    if (!token || !tokens.has(token)) return sendWebexError(res, 401, 'The request requires a valid access token set in the Authorization request header.');
    res.json(catalog(`${req.protocol}://${req.get('host')}`));
  });
  return r;
}
