import { Router } from 'express';
import { z } from 'zod';
import { allow, nationalKeyOnly } from '../auth';
import { parse } from '../errors';
import { type OpsService } from '../ops/service';

export const rebuildSchema = z
  .object({
    pageToken: z.string().max(4_096).nullable().optional(),
    pageSize: z.number().int().min(1).max(1_000).optional(),
  })
  .strict();
export const verifyQuerySchema = z
  .object({
    graceSeconds: z.coerce
      .number()
      .int('must be a whole number of seconds')
      .min(0)
      .max(86_400, 'at most 86400 (a day)')
      .optional(),
  })
  .strict();
export const repairSchema = z.object({ limit: z.number().int().min(1).max(10_000).optional() }).strict();

/** Verify and repair convergence, for operations (README, Verify and repair); they span every municipality, so national keys only. */
export function opsRouter(ops: OpsService): Router {
  const router = Router();
  router.get('/verify', allow('ops'), nationalKeyOnly, async (req, res) => {
    res.json(await ops.verify(parse(verifyQuerySchema, req.query, 'query')));
  });
  router.post('/repair', allow('ops'), nationalKeyOnly, async (req, res) => {
    const { limit } = parse(repairSchema, req.body);
    res.json(await ops.repair(limit));
  });
  router.post('/read-model/rebuild', allow('ops'), nationalKeyOnly, async (req, res) => {
    const { pageToken, pageSize } = parse(rebuildSchema, req.body);
    res.json(await ops.rebuildPage(pageToken ?? null, pageSize));
  });
  return router;
}
