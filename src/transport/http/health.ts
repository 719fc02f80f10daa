import { Router } from 'express';

/** One readiness check: a name and whether it passes, with a reason when not. */
export type ReadinessCheck = () => Promise<{ ok: boolean; detail?: string }> | { ok: boolean; detail?: string };

/**
 * `/healthz`: the process answers (liveness). `/readyz`: every dependency the
 * bot needs works now — store writable, Webex and XDR reachable, schedule armed.
 * 503 lists what is not ready, so the operator knows where to look.
 */
export function createHealthRouter(checks: Record<string, ReadinessCheck>): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', uptimeSeconds: Math.round(process.uptime()) });
  });
  router.get('/readyz', async (_req, res) => {
    const results: Record<string, { ok: boolean; detail?: string }> = {};
    await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        try {
          results[name] = await withTimeout(Promise.resolve(check()), 5000);
        } catch (err) {
          results[name] = { ok: false, detail: (err as Error).message };
        }
      }),
    );
    const ready = Object.values(results).every((r) => r.ok);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks: results });
  });
  return router;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
