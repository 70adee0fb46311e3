import { Router } from 'express';
import { z } from 'zod';
import { copenhagenDate } from '../../workflows/domain/dates';
import { ruleSetById, ruleSetFor, RULE_SETS } from '../../workflows/domain/rules';
import { caseStartSchema, isoDate, policyRevisionSchema } from '../../workflows/domain/schemas';
import { computeTimeline } from '../../workflows/domain/timeline';
import { type CaseEvent } from '../../workflows/domain/types';
import { checkEvent } from '../../workflows/domain/validate-event';
import { allow } from '../auth';
import { ApiError, parse } from '../errors';
import { CASEWORKER_CSP } from '../caseworker-page';
import { timelineSvg } from '../timeline-svg';

/**
 * Bounds of one what-if. The engine checks each event against the timeline of those before it, so the work
 * grows with events squared times the policies' effects. These bounds keep the worst request small, where an
 * unbounded one could hold a core for minutes (docs/capacity.md, What-if requests).
 */
export const SIMULATE_LIMITS = { events: 50, policies: 20, effects: 20 } as const;

export const simulateSchema = z
  .object({
    facts: caseStartSchema,
    events: z.array(z.unknown()).max(SIMULATE_LIMITS.events, `at most ${SIMULATE_LIMITS.events} events in a what-if`).default([]),
    policies: z.array(policyRevisionSchema).max(SIMULATE_LIMITS.policies, `at most ${SIMULATE_LIMITS.policies} policies in a what-if`).default([]),
    asOf: isoDate.optional(),
    ruleSetId: z.enum(RULE_SETS.map((r) => r.id) as [string, ...string[]]).optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    const effects = (body.policies ?? []).reduce((n, p) => n + (p.effects?.length ?? 0), 0);
    if (effects > SIMULATE_LIMITS.effects) {
      ctx.addIssue({ code: 'custom', path: ['policies'], message: `${effects} effects in all; at most ${SIMULATE_LIMITS.effects} in a what-if` });
    }
  });

/**
 * What-if answers: the same engine as the workflows, on facts, events and policies given in the body. JSON, or
 * the timeline picture with `Accept: image/svg+xml`.
 */
export function timelineRouter(now: () => number = Date.now): Router {
  const router = Router();
  router.post('/simulate', allow('case-system', 'reader'), (req, res) => {
    const { facts, policies, ...body } = parse(simulateSchema, req.body);
    const asOf = body.asOf ?? copenhagenDate(now());
    const ruleSet = body.ruleSetId ? ruleSetById(body.ruleSetId) : ruleSetFor(facts.firstAbsenceDay);
    const events: CaseEvent[] = [];
    const eventIds = new Set<string>();
    body.events.forEach((candidate, index) => {
      // A what-if holds far fewer events than a case may (SIMULATE_LIMITS against CASE_LIMITS), so the case
      // limits cannot be reached here and their second timeline per event is not computed.
      const verdict = checkEvent(facts, events, policies, ruleSet, candidate, asOf, { limits: false });
      if ('rejected' in verdict) {
        const { reason } = verdict.rejected;
        throw new ApiError(400, 'event-rejected', `events.${index}: ${reason}`, [{ field: `events.${index}`, problem: reason }]);
      }
      const event = verdict.accepted;
      if (!eventIds.has(event.eventId)) {
        eventIds.add(event.eventId);
        events.push(event);
      }
    });
    const timeline = computeTimeline(facts, events, policies, ruleSet, asOf);
    if (req.accepts(['application/json', 'image/svg+xml']) === 'image/svg+xml') {
      res.set({ 'Content-Security-Policy': CASEWORKER_CSP, 'X-Content-Type-Options': 'nosniff' });
      res.type('image/svg+xml').send(timelineSvg(timeline));
      return;
    }
    res.json(timeline);
  });
  return router;
}
