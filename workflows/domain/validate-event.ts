import { addDays, type IsoDate } from './dates';
import { type RuleSet } from './rules';
import { schemas } from './shared-schemas';
import { computeTimeline } from './timeline';
import { type CaseEvent, type CaseFacts, type PolicyRevision } from './types';

export interface Rejection {
  /** closed: the case has ended and takes no more events; rejected: this event is wrong for this case. */
  code: 'closed' | 'rejected';
  reason: string;
}

const refuse = (reason: string): Rejection => ({ code: 'rejected', reason });

/**
 * Why an event cannot be applied to a case, or null when it can. The same check runs in the workflow's
 * update validator and in the API's what-if endpoint. Backdated events are accepted (case systems import
 * running cases); events in the future, before the first day of absence or after the case ended are not.
 */
export function rejectEvent(
  facts: CaseFacts,
  events: readonly CaseEvent[],
  policies: readonly PolicyRevision[],
  ruleSet: RuleSet,
  candidate: unknown,
  today: IsoDate,
): Rejection | null {
  const { caseEventSchema, issuesMessage } = schemas();
  const parsed = caseEventSchema.safeParse(candidate);
  if (!parsed.success) return refuse(issuesMessage(parsed.error));
  const event = parsed.data as CaseEvent;
  const r = ruleSet.rules;
  const F = facts.firstAbsenceDay;

  if (event.occurredOn > today) return refuse(`occurredOn ${event.occurredOn} is in the future (today is ${today} in Copenhagen)`);
  if (event.occurredOn < F) return refuse(`occurredOn ${event.occurredOn} is before the first day of absence ${F}`);

  const timeline = computeTimeline(facts, events, policies, ruleSet, today);
  if (timeline.status === 'closed') return { code: 'closed', reason: `the case closed on ${timeline.closedOn} (${timeline.closedReason})` };
  if (timeline.status === 'job-clarification') {
    const since = events.find((e) => e.type === 'reassessment-decided' && e.outcome === 'job-clarification')?.occurredOn;
    if (event.type !== 'rehabilitation-team-held') return refuse(`the case moved to job clarification on ${since}; only rehabilitation-team-held can be reported`);
    if (since && event.occurredOn < since) return refuse(`occurredOn ${event.occurredOn} is before the transfer to job clarification on ${since}`);
    return null;
  }

  const endsCase = event.type === 'recovered' || event.type === 'benefit-stopped' || (event.type === 'reassessment-decided' && event.outcome === 'job-clarification');
  if (endsCase) {
    const later = events.filter((e) => e.occurredOn > event.occurredOn);
    if (later.length > 0) return refuse(`the case cannot end on ${event.occurredOn}: ${later.length} event(s) are recorded after that date (first: ${later[0]!.type} on ${later[0]!.occurredOn})`);
  }

  switch (event.type) {
    case 'fast-track-requested': {
      const firstHeld = events.filter((e) => e.type === 'conversation-held').map((e) => e.occurredOn).sort()[0];
      if (firstHeld && firstHeld <= event.occurredOn) return refuse(`the first conversation was already held on ${firstHeld}`);
      // SDL § 13 b, stk. 2: the employer may ask within the first 5 weeks of the absence.
      const lastDay = addDays(F, r.fastTrackEmployerRequestWithinDays.value - 1);
      if (event.requestedBy === 'employer' && event.occurredOn > lastDay) {
        return refuse(`an employer may request the fast track only within the first ${r.fastTrackEmployerRequestWithinDays.value / 7} weeks (until ${lastDay}; ${r.fastTrackEmployerRequestWithinDays.ref})`);
      }
      return null;
    }
    case 'certificate-received':
      if (event.validUntil && event.validUntil < event.occurredOn) return refuse(`validUntil ${event.validUntil} is before occurredOn ${event.occurredOn}`);
      return null;
    case 'reassessment-decided': {
      if (event.outcome !== 'extension') return null;
      if (event.until <= event.occurredOn) return refuse(`until ${event.until} must be after the decision on ${event.occurredOn}`);
      const ground = r.extensionGrounds.value[event.ground];
      if (ground.maxWeeks !== null) {
        const limit = addDays(timeline.reviewPoint, ground.maxWeeks * 7);
        if (event.until > limit) {
          return refuse(`an extension under ${r.extensionGrounds.ref}, nr. ${event.ground} lasts at most ${ground.maxWeeks} weeks from the review point ${timeline.reviewPoint} (until ${limit})`);
        }
      }
      return null;
    }
    default:
      return null;
  }
}
