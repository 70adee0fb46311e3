import express, { type Express } from 'express';
import { type Client } from '@temporalio/client';
import { type TemporalSettings } from '../platform/config';
import { type Db } from '../platform/db';
import { type Logger } from '../platform/logger';
import { createCaseService } from './case-service';
import { errorMiddleware, notFoundRoute } from './errors';
import { casesRouter } from './routes/cases';
import { healthRouter } from './routes/health';
import { timelineRouter } from './routes/timeline';

export interface AppDeps {
  client: Client;
  db: Db;
  temporal: TemporalSettings;
  logger: Logger;
}

/** Builds the HTTP API from explicit dependencies; server.ts (main.ts) only listens. */
export function createApp({ client, db, temporal, logger }: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '256kb' }));
  app.use(
    healthRouter({
      temporal: async () => {
        await client.workflowService.getSystemInfo({});
      },
      postgres: () => db.ping(),
    }),
  );
  app.use('/api/v1/cases', casesRouter(createCaseService(client, temporal)));
  app.use('/api/v1/timeline', timelineRouter());
  app.use(notFoundRoute);
  app.use(errorMiddleware(logger));
  return app;
}
