import { Router } from 'express';
import { z } from 'zod';
import { identifier, policyRevisionSchema } from '../../workflows/domain/schemas';
import { allow } from '../auth';
import { parse } from '../errors';
import { type PolicyService } from '../policy-service';
import { type Reports } from '../reports';
import { sendReport } from './reports';

const policyIdParam = z.object({ policyId: identifier('policyId') });

/** Operations publish, lift (a revision with effectiveTo) and re-send policy changes. */
export function policyChangesRouter(policies: PolicyService, reports: Reports): Router {
  const router = Router();

  router.post('/', allow('ops'), async (req, res) => {
    const policy = parse(policyRevisionSchema, req.body);
    // 201: stored and its fan-out started; 200: this revision was stored before and its fan-out is started;
    // 202: stored (now or before), but Temporal could not be reached, so its fan-out is still pending and will be
    // started by whoever notices first. A first publication, a new revision and the same one again alike.
    const { created, started, policy: view } = await policies.publish(policy, req.municipalities);
    res.status(started ? (created ? 201 : 200) : 202).json(view);
  });

  router.get('/', allow('ops', 'reader'), async (req, res) => {
    res.json({ policies: await policies.list(req.municipalities) });
  });

  router.get('/:policyId', allow('ops', 'reader'), async (req, res) => {
    const { policyId } = parse(policyIdParam, req.params, 'path');
    res.json(await policies.get(policyId, req.municipalities));
  });

  router.get('/:policyId/impact', allow('ops', 'reader'), async (req, res) => {
    const { policyId } = parse(policyIdParam, req.params, 'path');
    await policies.requirePublished(policyId, req.municipalities);
    sendReport(req, res, await reports.policyImpact(policyId, req.municipalities));
  });

  router.post('/:policyId/resend', allow('ops'), async (req, res) => {
    const { policyId } = parse(policyIdParam, req.params, 'path');
    // 202 either way: the re-send's fan-out runs, or, if Temporal could not be reached, its row shows it pending.
    const { workflowId, policy } = await policies.resend(policyId, req.municipalities);
    res.status(202).json({ fanoutWorkflowId: workflowId, ...policy });
  });

  return router;
}
