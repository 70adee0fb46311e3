import { Router } from 'express';
import { type Logger } from '../../platform/logger';
import { within } from '../../platform/within';

export interface ReadinessChecks {
  temporal: () => Promise<void>;
  postgres: () => Promise<void>;
}

/**
 * /healthz: the process is up. /readyz: Temporal and Postgres answer (503 naming what does not). It is open to
 * anyone, so it says only which check failed; why (an address, a user name, a server's own words) goes to
 * the log (issue #23).
 */
export function healthRouter(checks: ReadinessChecks, logger: Logger): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const results = await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        try {
          await within(2_000, check());
          return [name, { ok: true }] as const;
        } catch (err) {
          logger.warn('readiness check failed', { check: name, error: err instanceof Error ? err.message : String(err) });
          return [name, { ok: false }] as const;
        }
      }),
    );
    const ready = results.every(([, r]) => r.ok);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not-ready', checks: Object.fromEntries(results) });
  });
  return router;
}
