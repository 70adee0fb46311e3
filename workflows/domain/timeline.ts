import { compareCodeUnits } from './compare';
import { addDays, type IsoDate, maxDate } from './dates';
import { categoryIndex, categoryTimeline } from './engine/categories';
import { certificateDeadlines, lastCertificateValidUntil } from './engine/certificates';
import { conversationChain } from './engine/conversations';
import { type Ctx, push } from './engine/deadline';
import { currentRevisions, describePolicies, mergedPauses, modeSwitchOn, policyWindows } from './engine/policies';
import { reassessmentDeadlines, reviewPointFor } from './engine/reassessment';
import { rehabilitationTeamDeadlines } from './engine/rehabilitation-team';
import { type RuleSet } from './rules';
import { type CaseEvent, type CaseFacts, type ClosedReason, type Deadline, type PolicyRevision, type Timeline } from './types';

export { categoryIndex, type CategoryChange, type CategoryIndex } from './engine/categories';
export { countDays, DEADLINE_TITLES, type Scheduled } from './engine/deadline';

/**
 * The timeline engine: (case facts, events, policies, rule set, asOf) -> timeline. Pure: no I/O, no
 * clock, no randomness. The case workflow, the API's what-if endpoint and the tests all call it, and
 * the workflow recomputes the whole timeline after every change.
 *
 * This function keeps the order: events sorted, the policies the case follows and their windows, then each
 * chain of deadlines (engine/), the case's end, and the view. What each policy effect does is in its module
 * (effects/); the engine asks them where effects/effect.ts says.
 */
export function computeTimeline(
  facts: CaseFacts,
  events: readonly CaseEvent[],
  policies: readonly PolicyRevision[],
  ruleSet: RuleSet,
  asOf: IsoDate,
): Timeline {
  const r = ruleSet.rules;
  const F = facts.firstAbsenceDay;
  const sorted = sortEvents(events);
  const { current, history } = currentRevisions(policies, facts.municipality);
  const windows = policyWindows(current);

  const end = findEnd(sorted);
  const caseEvents = end ? sorted.filter((e) => e.occurredOn <= end.on) : sorted;
  const deadlines: Deadline[] = [];
  const ctx: Ctx = { windows, pauses: mergedPauses(windows), asOf, closesOn: end?.on ?? null };

  // T3: information form, 8 days after it was sent.
  if (facts.informationFormSentOn) {
    const received = caseEvents.find((e) => e.type === 'information-form-received');
    push(ctx, deadlines, {
      id: 'information-form',
      kind: 'information-form',
      anchor: facts.informationFormSentOn,
      days: r.informationFormDays.value,
      met: received?.occurredOn ?? null,
      reasons: [`Sendt ${facts.informationFormSentOn}; svar inden ${r.informationFormDays.value} dage (${r.informationFormDays.ref})`],
    });
  }

  const categoryChanges = categoryTimeline(facts, caseEvents);
  const categories = categoryIndex(categoryChanges);
  conversationChain(ctx, deadlines, facts, caseEvents, categories, ruleSet);
  certificateDeadlines(ctx, deadlines, caseEvents, current, ruleSet);
  rehabilitationTeamDeadlines(ctx, deadlines, caseEvents, categoryChanges, ruleSet);

  // T12-T14: the review point, as the policies' effects leave it, and the decisions on it.
  const { benefitStartsOn, point } = reviewPointFor(facts, current, ruleSet);
  const extension = reassessmentDeadlines(ctx, deadlines, caseEvents, benefitStartsOn, point, ruleSet);

  // T15/T16: how and when the case ends.
  let status: Timeline['status'] = 'open';
  let closedOn: IsoDate | null = null;
  let closedReason: ClosedReason | null = null;
  if (end) {
    if (end.reason === 'job-clarification') {
      const team = sorted.find((e) => e.type === 'rehabilitation-team-held' && e.occurredOn >= end.on);
      const jc = push({ ...ctx, closesOn: null }, deadlines, {
        id: 'job-clarification-rehabilitation-team',
        kind: 'rehabilitation-team',
        anchor: end.on,
        days: r.jobClarificationRehabilitationTeamDays.value,
        met: team?.occurredOn ?? null,
        reasons: [`Jobafklaringsforløb fra ${end.on}; rehabiliteringsteam inden 4 uger (${r.jobClarificationRehabilitationTeamDays.ref})`],
      });
      status = 'job-clarification';
      if (jc?.status === 'met' || jc?.status === 'missed' || jc?.status === 'waived') {
        status = 'closed';
        closedOn = jc.metOn ?? maxDate(end.on, jc.dueDate ?? end.on);
        closedReason = 'job-clarification';
      }
    } else {
      status = 'closed';
      closedOn = end.on;
      closedReason = end.reason;
    }
  }

  deadlines.sort((a, b) => compareCodeUnits(a.dueDate ?? '9999', b.dueDate ?? '9999') || compareCodeUnits(a.id, b.id));
  const policyView = describePolicies(current, history, asOf);
  const modeNow = modeSwitchOn(windows, asOf);
  const nextConversation = deadlines.find(
    (d) => (d.kind === 'first-conversation' || d.kind === 'follow-up-conversation') && (d.status === 'pending' || d.status === 'paused'),
  );
  return {
    caseId: facts.caseId,
    municipality: facts.municipality,
    firstAbsenceDay: F,
    employment: facts.employment,
    ruleSetId: ruleSet.id,
    asOf,
    status,
    closedOn,
    closedReason,
    category: categories.at(asOf),
    conversationMode: modeNow?.mode ?? nextConversation?.mode ?? 'in-person',
    consentRequired: modeNow?.consentRequired ?? false,
    benefitStartsOn,
    reviewPoint: point.date,
    originalReviewPoint: point.original,
    certificateValidUntil: lastCertificateValidUntil(deadlines),
    extension,
    deadlines,
    policies: policyView,
    nextChangeOn: status === 'closed' ? null : nextChange(deadlines, current, asOf),
  };
}

function sortEvents(events: readonly CaseEvent[]): CaseEvent[] {
  return events
    .map((e, i) => ({ e, i }))
    .sort((a, b) => compareCodeUnits(a.e.occurredOn, b.e.occurredOn) || a.i - b.i)
    .map(({ e }) => e);
}

function findEnd(sorted: CaseEvent[]): { on: IsoDate; reason: ClosedReason } | null {
  for (const e of sorted) {
    if (e.type === 'recovered') return { on: e.occurredOn, reason: 'recovered' };
    if (e.type === 'benefit-stopped') return { on: e.occurredOn, reason: 'benefit-stopped' };
    if (e.type === 'reassessment-decided' && e.outcome === 'job-clarification') return { on: e.occurredOn, reason: 'job-clarification' };
  }
  return null;
}

function nextChange(deadlines: Deadline[], policies: PolicyRevision[], asOf: IsoDate): IsoDate | null {
  const candidates: IsoDate[] = [];
  for (const d of deadlines) if ((d.status === 'pending' || d.status === 'paused') && d.dueDate) candidates.push(addDays(d.dueDate, 1));
  for (const p of policies) {
    candidates.push(p.effectiveFrom);
    if (p.effectiveTo) candidates.push(addDays(p.effectiveTo, 1));
  }
  const later = candidates.filter((c) => c > asOf).sort();
  return later[0] ?? null;
}
