import { randomUUID } from 'node:crypto';
import { type RequestHandler, Router } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { type Db } from '../platform/db';
import { type Logger } from '../platform/logger';

/** The API's Prometheus metrics; one registry per app, so tests can build several apps in one process. */
export function createMetrics(db: Db) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const casesStarted = new Counter({ name: 'cases_started_total', help: 'Cases started through the API', registers: [registry] });
  new Gauge({
    name: 'deadlines_missed',
    help: 'Missed deadlines of open cases, by kind (from the read model)',
    labelNames: ['kind'],
    registers: [registry],
    async collect() {
      this.reset();
      const rows = await db.query<{ kind: string; n: string }>(
        `SELECT kind, count(*) AS n FROM deadlines WHERE status = 'missed' AND case_open GROUP BY kind`,
      );
      for (const r of rows) this.set({ kind: r.kind }, Number(r.n));
    },
  });
  new Gauge({
    name: 'policy_fanout_cases',
    help: 'Progress of policy fan-outs started in the last day: cases matched, signalled, failed (closed meanwhile), missing (open cases in scope lacking the revision at the last count)',
    labelNames: ['policy_id', 'revision', 'fanout', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      const rows = await db.query<{ workflow_id: string; policy_id: string; revision: number; matched: number; signalled: number; failed: number; missing: number | null }>(
        `SELECT workflow_id, policy_id, revision, matched, signalled, failed, missing FROM policy_fanouts WHERE started_at > now() - interval '1 day'`,
      );
      for (const r of rows) {
        for (const state of ['matched', 'signalled', 'failed', 'missing'] as const) {
          const value = r[state];
          if (value !== null) this.set({ policy_id: r.policy_id, revision: String(r.revision), fanout: r.workflow_id, state }, value);
        }
      }
    },
  });
  return { registry, httpDuration, casesStarted };
}

export type Metrics = ReturnType<typeof createMetrics>;

export function metricsRouter(metrics: Metrics): Router {
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  return router;
}

/**
 * One structured log line per request, with a request id (taken from X-Request-Id or made), the route
 * pattern and the case id when the path has one; never a body, a key or personal data.
 */
export function requestLogging(logger: Logger, metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const requestId = /^[\w.-]{1,64}$/.test(req.get('x-request-id') ?? '') ? req.get('x-request-id')! : randomUUID();
    res.set('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = req.route ? `${req.baseUrl}${req.route.path as string}` : 'unmatched';
      metrics.httpDuration.observe({ method: req.method, route, status: String(res.statusCode) }, seconds);
      logger.info('request', {
        requestId,
        method: req.method,
        route,
        status: res.statusCode,
        durationMs: Math.round(seconds * 1000),
        ...(typeof req.params?.caseId === 'string' ? { caseId: req.params.caseId } : {}),
        ...(req.role ? { role: req.role } : {}),
      });
    });
    next();
  };
}
