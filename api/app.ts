import express, { type Express } from 'express';
import { type Client } from '@temporalio/client';
import { type ApiKey, type TemporalSettings } from '../platform/config';
import { type Db } from '../platform/db';
import { type Logger } from '../platform/logger';
import { authenticate, rateLimit, refuseCprNumbers } from './auth';
import { jsonBodies } from './bodies';
import { createCaseService } from './case-service';
import { errorMiddleware, notFoundRoute } from './errors';
import { createPolicyRegistry } from '../policies/registry';
import { createPolicyService, type PolicyService } from './policy-service';
import { createMetrics, metricsRouter, requestLogging } from './observability';
import { docsPage } from './openapi/docs-page';
import { openApiDocument } from './openapi/document';
import { methodNotAllowed } from './openapi/method-not-allowed';
import { OPERATIONS } from './openapi/operations';
import { createOpsService } from './ops/service';
import { createReports } from './reports';
import { casesRouter } from './routes/cases';
import { reportsRouter } from './routes/reports';
import { policyChangesRouter } from './routes/policy-changes';
import { healthRouter } from './routes/health';
import { opsRouter } from './routes/ops';
import { timelineRouter } from './routes/timeline';
import { caseworkerRouter } from './routes/caseworker';
import { codecServer } from './codec-server';
import { type Keyring } from '../platform/payload-codec';

export interface AppDeps {
  client: Client;
  db: Db;
  temporal: TemporalSettings;
  logger: Logger;
  /** At least one; every /api/v1 route needs a key (see api/auth.ts for the roles). */
  apiKeys: ApiKey[];
  writeRatePerSecond?: number;
  /** Reads (GET) per key a second, in all (API_READ_RATE_PER_SECOND). */
  readRatePerSecond?: number;
  /**
   * Which proxies in front of the API to believe about the client's address and scheme (API_TRUST_PROXY,
   * Express' `trust proxy`: e.g. `loopback`, a subnet, or a hop count). Behind a TLS-terminating proxy it makes
   * the codec session cookie Secure; unset, X-Forwarded-* headers are ignored, so no client can forge them.
   */
  trustProxy?: string | number;
  /** API processes behind one address: each takes this share of the rates (API_INSTANCES). */
  apiInstances?: number;
  fanoutSignalsPerSecond?: number;
  /** Most Updates in flight when ops repair applies a revision (FANOUT_MAX_IN_FLIGHT, as the worker's fan-out pages). */
  fanoutMaxInFlight?: number;
  /** The fan-out's bound on visibility lag (tests shorten it); its own default otherwise. */
  fanoutVisibilityLagMs?: number;
  /** New cases inherit from a registry copy at most this old (INHERITED_POLICIES_MAX_AGE_MS). */
  registryCopyMaxAgeMs?: number;
  /** The API's address as caseworkers' browsers reach it (API_PUBLIC_URL), for links to caseworker pages. */
  publicUrl?: string;
  /** When set, /metrics answers only `Authorization: Bearer <metricsKey>` (METRICS_KEY). */
  metricsKey?: string;
  /** The codec server for the Temporal UI and CLI (/codec): the payload keys and the UI origins it answers. */
  codec?: { keyring: Keyring; corsOrigins: string[] };
}

/** The app and its policy service (the API process starts pending fan-outs with it). */
export interface Api {
  app: Express;
  policies: PolicyService;
}

/** Builds the HTTP API from explicit dependencies; server.ts (main.ts) only listens. */
export function createApp(deps: AppDeps): Express {
  return createApi(deps).app;
}

export function createApi({ client, db, temporal, logger, apiKeys, writeRatePerSecond = 100, readRatePerSecond = 500, apiInstances = 1, trustProxy, fanoutSignalsPerSecond = 2_000, fanoutMaxInFlight, fanoutVisibilityLagMs, registryCopyMaxAgeMs, publicUrl, codec, metricsKey }: AppDeps): Api {
  if (apiKeys.length === 0) throw new Error('no API keys: the API does not run open (set API_KEYS)');
  const registry = createPolicyRegistry(db, { copyMaxAgeMs: registryCopyMaxAgeMs });
  const policies = createPolicyService({ client, db, registry, temporal, logger, signalsPerSecond: fanoutSignalsPerSecond, maxInFlight: fanoutMaxInFlight, visibilityLagMs: fanoutVisibilityLagMs });
  const app = express();
  const metrics = createMetrics(db, { caseCounts: metricsKey !== undefined });
  app.disable('x-powered-by');
  if (trustProxy !== undefined) app.set('trust proxy', trustProxy);
  // Responses are answers to one request (a case, a report as of a date), not cacheable documents:
  // no ETag, so no hash of every response body.
  app.disable('etag');
  app.use(requestLogging(logger, metrics));
  // One limiter for every keyed route, so a key's rate is one rate wherever it calls.
  const rateLimited = rateLimit({ writesPerSecond: writeRatePerSecond, readsPerSecond: readRatePerSecond, instances: apiInstances });
  if (codec) app.use('/codec', codecServer({ ...codec, namespace: temporal.namespace, keys: apiKeys, rateLimited }));
  // A method a documented path does not have is a 405 naming those it has, before any key is asked for.
  app.use(methodNotAllowed(OPERATIONS));
  app.use(metricsRouter(metrics, metricsKey));
  app.use(
    healthRouter({
      temporal: async () => {
        await client.workflowService.getSystemInfo({});
      },
      postgres: () => db.ping(),
    }, logger),
  );
  app.get('/api/v1/openapi.json', (req, res) => {
    res.json(openApiDocument(`${req.protocol}://${req.get('host')}`));
  });
  app.get('/api/v1/docs', (_req, res) => {
    res.type('html').send(docsPage());
  });
  const cases = createCaseService(client, temporal, registry, publicUrl);
  // Caseworkers open this page from a case's details in the Temporal UI: the key comes as HTTP Basic (see the router).
  app.use('/caseworker', caseworkerRouter(cases, apiKeys, rateLimited));
  // Bodies are read only after the key is known and its rate is counted, each at its route's own limit.
  app.use('/api/v1', authenticate(apiKeys), rateLimited, jsonBodies(OPERATIONS), refuseCprNumbers);
  app.use('/api/v1/cases', casesRouter(cases, metrics));
  const reports = createReports(db);
  app.use('/api/v1/policy-changes', policyChangesRouter(policies, reports));
  app.use('/api/v1/ops', opsRouter(createOpsService({ client, db, registry, policies })));
  app.use('/api/v1/reports', reportsRouter(reports));
  app.use('/api/v1/timeline', timelineRouter());
  app.use(notFoundRoute);
  app.use(errorMiddleware(logger));
  return { app, policies };
}
