import { addDays, daysBetween, endOfMonth, type IsoDate } from '../dates';
import { reviewPointUnder } from '../effects';
import { type ReviewPoint } from '../effects/effect';
import { type RuleSet } from '../rules';
import { type CaseEvent, type CaseFacts, type Deadline, type PolicyRevision, type Timeline } from '../types';
import { type Ctx, push } from './deadline';

/**
 * T12: benefit counted from F + employer period; limit exceeded on benefit day 155; review point is the last
 * day of that month. Policies may move the review point by whole months (lov 275/2020).
 */
export function reviewPointFor(facts: CaseFacts, policies: readonly PolicyRevision[], ruleSet: RuleSet): { benefitStartsOn: IsoDate; point: ReviewPoint } {
  const r = ruleSet.rules;
  const employerPeriod = facts.employerPeriodDays ?? r.employerPeriodDays.value[facts.employment];
  const benefitStartsOn = addDays(facts.firstAbsenceDay, employerPeriod);
  const original = endOfMonth(addDays(benefitStartsOn, r.durationLimitBenefitDay.value - 1));
  const point = reviewPointUnder(policies, {
    original,
    date: original,
    reasons: [`Ydelsesdag ${r.durationLimitBenefitDay.value} regnet fra ${benefitStartsOn}; revurdering senest ved månedens udgang (${r.durationLimitBenefitDay.ref})`],
    movedBy: [],
  });
  return { benefitStartsOn, point };
}

/** T12-T14: a decision by the review point, then by the end of each extension. */
export function reassessmentDeadlines(ctx: Ctx, out: Deadline[], sorted: CaseEvent[], benefitStartsOn: IsoDate, point: ReviewPoint, ruleSet: RuleSet): Timeline['extension'] {
  const decisions = sorted.filter((e) => e.type === 'reassessment-decided');
  let anchor = benefitStartsOn;
  let due = point.date;
  let original = point.original;
  let reasons = point.reasons;
  let extension: Timeline['extension'] = null;
  for (let i = 0; ; i++) {
    const decision = decisions[i];
    const deadline = push(ctx, out, {
      id: `reassessment-${i + 1}`,
      kind: 'reassessment',
      anchor,
      days: daysBetween(anchor, due),
      originalDueDate: original,
      met: decision?.occurredOn ?? null,
      reasons,
      policyIds: i === 0 ? point.movedBy : [],
    });
    if (!deadline || !decision || decision.type !== 'reassessment-decided' || decision.outcome !== 'extension') return extension;
    extension = { ground: decision.ground, until: decision.until };
    anchor = decision.occurredOn;
    due = decision.until;
    original = decision.until;
    reasons = [
      `Forlænget efter ${ruleSet.rules.extensionGrounds.ref}, nr. ${decision.ground} (${ruleSet.rules.extensionGrounds.value[decision.ground].title}) til ${decision.until}`,
    ];
  }
}
