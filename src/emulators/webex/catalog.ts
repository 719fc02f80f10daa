import express, { type Router } from 'express';
import { sendWebexError } from './http-error.js';

/**
 * The u2c service catalog the SDK fetches for `a_b_orgId`-shaped tokens (webex.md §2.1):
 * `limited/catalog` without auth, `catalog` with it. Only hydra is listed, which is all
 * webhook mode needs; websocket mode (wdm, mercury) is deliberately not emulated (§2.3).
 */
export function createCatalogRouter(tokens: Map<string, string>): Router {
  const r = express.Router();
  const catalog = (origin: string) => ({
    serviceLinks: { hydra: `${origin}/v1` },
    hostCatalog: {},
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
