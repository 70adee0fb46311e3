import { Router } from 'express';
import { z } from 'zod';
import { caseEventSchema, caseStartSchema, identifier } from '../../workflows/domain/schemas';
import { type CaseService } from '../case-service';
import { allow } from '../auth';
import { parse } from '../errors';
import { type Metrics } from '../observability';
import { CASEWORKER_CSP } from '../caseworker-page';
import { timelineSvg } from '../timeline-svg';

const caseIdParam = z.object({ caseId: identifier('caseId') });

/** Case systems start cases and report events; readers read a case's timeline. */
export function casesRouter(cases: CaseService, metrics: Metrics): Router {
  const router = Router();

  router.post('/', allow('case-system'), async (req, res) => {
    const facts = parse(caseStartSchema, req.body);
    const { created, case: view } = await cases.openCase(facts, req.municipalities);
    if (created) metrics.casesStarted.inc();
    res.status(created ? 201 : 200).json(view);
  });

  router.get('/:caseId', allow('case-system', 'reader'), async (req, res) => {
    const { caseId } = parse(caseIdParam, req.params, 'path');
    res.json(await cases.getCase(caseId, req.municipalities));
  });

  router.get('/:caseId/timeline.svg', allow('case-system', 'reader'), async (req, res) => {
    const { caseId } = parse(caseIdParam, req.params, 'path');
    const view = await cases.getCase(caseId, req.municipalities);
    res.set({ 'Content-Security-Policy': CASEWORKER_CSP, 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' });
    res.type('image/svg+xml').send(timelineSvg(view));
  });

  router.post('/:caseId/events', allow('case-system'), async (req, res) => {
    const { caseId } = parse(caseIdParam, req.params, 'path');
    const event = parse(caseEventSchema, req.body);
    const { applied, case: view } = await cases.reportEvent(caseId, event, req.municipalities);
    res.status(200).json({ applied, ...view });
  });

  return router;
}
