import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { type RequestHandler, Router } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { type Db } from '../platform/db';
import { type Logger } from '../platform/logger';
import { CPR_LIKE, looksLikeCpr } from '../workflows/domain/schemas';
import { ApiError } from './errors';
import { createReports } from './reports';

/**
 * The API's Prometheus metrics; one registry per app, so tests can build several apps in one process. The
 * figures counted from cases (cases started, missed deadlines, fan-out progress) are national figures: they are served only
 * when /metrics needs a key (`caseCounts`), so an open /metrics tells no one how many cases anyone has.
 */
export function createMetrics(db: Db, { caseCounts = true }: { caseCounts?: boolean } = {}) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const casesStarted = new Counter({ name: 'cases_started_total', help: 'Cases started through the API', registers: caseCounts ? [registry] : [] });
  if (caseCounts) registerCaseCounts(registry, db);
  return { registry, httpDuration, casesStarted };
}

function registerCaseCounts(registry: Registry, db: Db): void {
  const reports = createReports(db);
  new Gauge({
    name: 'deadlines_missed',
    help: 'Missed deadlines of open cases, by kind (from the read model)',
    labelNames: ['kind'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [kind, n] of Object.entries(await reports.missedByKind())) this.set({ kind }, n);
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
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * GET /metrics. With a key (METRICS_KEY) it answers only `Authorization: Bearer <key>` (Prometheus'
 * `authorization` setting), compared in constant time; without one it is open.
 */
export function metricsRouter(metrics: Metrics, key?: string): Router {
  const router = Router();
  const expected = key === undefined ? undefined : createHash('sha256').update(key).digest();
  router.get('/metrics', async (req, res) => {
    if (expected) {
      const presented = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '')?.[1];
      if (!presented || !timingSafeEqual(expected, createHash('sha256').update(presented).digest())) {
        res.set('WWW-Authenticate', 'Bearer realm="metrics"');
        throw new ApiError(401, 'unauthenticated', 'The metrics need the metrics key as Authorization: Bearer <key>');
      }
    }
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  return router;
}

/** What a request id may be: short, plain, and never a CPR number (it is logged with every line of the request). */
const REQUEST_ID = /^[\w.-]{1,64}$/;
/**
 * A request id is an identifier, not text: six digits and four with any one separator that is neither a
 * letter nor a digit ('_' and '.' included, which the request-id alphabet allows) read as a CPR number.
 */
const REQUEST_ID_CPR_LIKE = /(^|\D)\d{6}[^\p{L}\d]?\d{4}(\D|$)/u;
const CASE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;

/**
 * One structured log line per request, with a request id (taken from X-Request-Id or made), the route
 * pattern and the case id when the path has one; never a body, a key or personal data. An X-Request-Id
 * that looks like a CPR number is refused (400 naming the header) and logged under a made id instead.
 */
export function requestLogging(logger: Logger, metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const given = req.get('x-request-id') ?? '';
    const refused = CPR_LIKE.test(given) || REQUEST_ID_CPR_LIKE.test(given.normalize('NFKC'));
    const requestId = !refused && REQUEST_ID.test(given) ? given : randomUUID();
    res.set('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = req.route ? `${req.baseUrl}${req.route.path as string}` : 'unmatched';
      metrics.httpDuration.observe({ method: req.method, route, status: String(res.statusCode) }, seconds);
      const caseId = req.params?.caseId;
      logger.info('request', {
        requestId,
        method: req.method,
        route,
        status: res.statusCode,
        durationMs: Math.round(seconds * 1000),
        // Only what has the shape of a case id: a refused path may hold anything.
        ...(typeof caseId === 'string' && CASE_ID.test(caseId) && !looksLikeCpr(caseId) ? { caseId } : {}),
        ...(req.role ? { role: req.role } : {}),
      });
    });
    if (refused) {
      next(
        new ApiError(400, 'cpr-number-refused', 'The X-Request-Id header looks like a CPR number (DDMMYY-XXXX, DDMMYY XXXX or ten digits); send an id without personal data', [
          { field: 'header X-Request-Id', problem: 'looks like a CPR number; use an id without personal data' },
        ]),
      );
      return;
    }
    next();
  };
}
