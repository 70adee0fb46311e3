import { addDays, type IsoDate } from './dates';
import { type RuleSet } from './rules';
import { schemas } from './shared-schemas';
import { computeTimeline } from './timeline';
import { type CaseEvent, type CaseFacts, type PolicyRevision, type Timeline } from './types';

/**
 * The most a case holds, so that one case system cannot make a case whose every task costs the shared worker
 * more and more CPU, and whose payloads (each update's answer and each read-model snapshot carry the whole
 * timeline) grow towards Temporal's size limits.
 *
 * maxEventsPerCase: a case runs to the review point at benefit day 155 (22 weeks) and, extended under SDL § 27,
 * at most 134 more weeks under nr. 3, or without a limit under nr. 1 and 4-7, where the case is reassessed
 * instead. A case reports about four events in four weeks (a conversation held, a certificate asked for and
 * received, a visitation, a meeting or decision now and then): some 160 for the longest limited case, some
 * 260 for one running five years. 500 is twice that.
 *
 * maxDeadlinesPerCase: each event makes at most one deadline (a certificate, its renewal, the next
 * conversation, a rehabilitation team, the next reassessment), and a conversation held with category 3
 * possibly two; a case also has the information form, the first conversation and the first reassessment, and
 * a policy's waiver can add a conversation deadline. 600 leaves those room above 500 events.
 *
 * Neither stops a case from ending: the event that ends it (recovered, benefit-stopped, a transfer to job
 * clarification) and, after a transfer, the rehabilitation team meeting are accepted past them, and nothing
 * is accepted after those, so a case holds at most two events more than maxEventsPerCase.
 */
export const CASE_LIMITS = { maxEventsPerCase: 500, maxDeadlinesPerCase: 600 } as const;
export type CaseLimit = keyof typeof CASE_LIMITS;

export interface Rejection {
  /**
   * closed: the case has ended and takes no more events; rejected: this event is wrong for this case; limit:
   * the case is full (CASE_LIMITS).
   */
  code: 'closed' | 'rejected' | 'limit';
  reason: string;
  /** For code limit: which limit, and its value. */
  limit?: { name: CaseLimit; max: number };
}

const refuse = (reason: string): Rejection => ({ code: 'rejected', reason });

const LIMIT_NOUNS: Record<CaseLimit, string> = { maxEventsPerCase: 'events', maxDeadlinesPerCase: 'deadlines' };

/** The case is full: the reason names the limit, its value and where the case stands. */
const full = (name: CaseLimit, stands: string): Rejection => ({
  code: 'limit',
  reason: `the case ${stands}; a case holds at most ${CASE_LIMITS[name]} ${LIMIT_NOUNS[name]} (${name}), so the event is not applied`,
  limit: { name, max: CASE_LIMITS[name] },
});

/** Events that may end the case: the limits never stop a case from ending (CASE_LIMITS). */
const mayEndCase = (e: CaseEvent) =>
  e.type === 'recovered' || e.type === 'benefit-stopped' || e.type === 'rehabilitation-team-held' || (e.type === 'reassessment-decided' && e.outcome === 'job-clarification');

/**
 * Why an event cannot be applied to a case, or null when it can. The same check runs in the workflow's
 * update validator and in the API's what-if endpoint. Backdated events are accepted (case systems import
 * running cases); events in the future, before the first day of absence or after the case ended are not.
 * With `limits` (the default), an event that would take the case past CASE_LIMITS is refused too.
 *
 * O(n log n) in the case's events: the engine's timeline before the event, and, with limits, after it.
 */
export function rejectEvent(
  facts: CaseFacts,
  events: readonly CaseEvent[],
  policies: readonly PolicyRevision[],
  ruleSet: RuleSet,
  candidate: unknown,
  today: IsoDate,
  options: { limits?: boolean } = {},
): Rejection | null {
  const verdict = checkEvent(facts, events, policies, ruleSet, candidate, today, options);
  return 'rejected' in verdict ? verdict.rejected : null;
}

/** rejectEvent's check, with the event as parsed when it is accepted. */
export function checkEvent(
  facts: CaseFacts,
  events: readonly CaseEvent[],
  policies: readonly PolicyRevision[],
  ruleSet: RuleSet,
  candidate: unknown,
  today: IsoDate,
  { limits = true }: { limits?: boolean } = {},
): { accepted: CaseEvent } | { rejected: Rejection } {
  const { caseEventSchema, issuesMessage } = schemas();
  const parsed = caseEventSchema.safeParse(candidate);
  if (!parsed.success) return { rejected: refuse(issuesMessage(parsed.error)) };
  const rejection = rejectParsed(facts, events, policies, ruleSet, parsed.data, today, limits);
  return rejection ? { rejected: rejection } : { accepted: parsed.data };
}

/** rejectEvent's checks of an event that has its message's shape. */
function rejectParsed(
  facts: CaseFacts,
  events: readonly CaseEvent[],
  policies: readonly PolicyRevision[],
  ruleSet: RuleSet,
  event: CaseEvent,
  today: IsoDate,
  limits: boolean,
): Rejection | null {
  const F = facts.firstAbsenceDay;

  // Before the timeline is computed: an event past the limit costs the worker no more than this count.
  const atEventLimit = limits && events.length >= CASE_LIMITS.maxEventsPerCase;
  if (atEventLimit && !mayEndCase(event)) return full('maxEventsPerCase', `holds ${events.length} events`);

  if (event.occurredOn > today) return refuse(`occurredOn ${event.occurredOn} is in the future (today is ${today} in Copenhagen)`);
  if (event.occurredOn < F) return refuse(`occurredOn ${event.occurredOn} is before the first day of absence ${F}`);

  const timeline = computeTimeline(facts, events, policies, ruleSet, today);
  const rejection = rejectOnTimeline(facts, events, timeline, ruleSet, event);
  if (rejection || !limits) return rejection;

  // Accepted so far. What ends the case is accepted past the limits; in job clarification only the meeting
  // that ends it got this far.
  const endsCase = timeline.status === 'job-clarification' || (event.type !== 'rehabilitation-team-held' && mayEndCase(event));
  if (endsCase) return null;
  if (atEventLimit) return full('maxEventsPerCase', `holds ${events.length} events`);
  const deadlines = computeTimeline(facts, [...events, event], policies, ruleSet, today).deadlines.length;
  if (deadlines > CASE_LIMITS.maxDeadlinesPerCase && deadlines > timeline.deadlines.length) {
    return full('maxDeadlinesPerCase', `would hold ${deadlines} deadlines after this event (${timeline.deadlines.length} before it)`);
  }
  return null;
}

/** The checks of rejectEvent against the case's timeline before the event, limits aside. */
function rejectOnTimeline(facts: CaseFacts, events: readonly CaseEvent[], timeline: Timeline, ruleSet: RuleSet, event: CaseEvent): Rejection | null {
  const r = ruleSet.rules;
  const F = facts.firstAbsenceDay;
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
      let firstHeld: IsoDate | undefined;
      for (const e of events) if (e.type === 'conversation-held' && (firstHeld === undefined || e.occurredOn < firstHeld)) firstHeld = e.occurredOn;
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
