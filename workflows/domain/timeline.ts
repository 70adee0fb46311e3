import { compareCodeUnits, compareNatural } from './compare';
import { addDays, addMonths, daysBetween, endOfMonth, type IsoDate, maxDate } from './dates';
import { revisionFor } from './policy-scope';
import { type ConversationMode, type RuleSet } from './rules';
import {
  type CaseEvent,
  type CaseFacts,
  type Category,
  type ClosedReason,
  type Deadline,
  type DeadlineKind,
  type PolicyOnCase,
  type PolicyRevision,
  type Timeline,
} from './types';

/**
 * The timeline engine: (case facts, events, policies, rule set, asOf) -> timeline. Pure: no I/O, no
 * clock, no randomness. The case workflow, the API's what-if endpoint and the tests all call it, and
 * the workflow recomputes the whole timeline after every change.
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

  // T12: benefit counted from F + employer period; limit exceeded on benefit day 155; review point is the
  // last day of that month. Policies may move the review point by whole months (lov 275/2020).
  const employerPeriod = facts.employerPeriodDays ?? r.employerPeriodDays.value[facts.employment];
  const benefitStartsOn = addDays(F, employerPeriod);
  const originalReviewPoint = endOfMonth(addDays(benefitStartsOn, r.durationLimitBenefitDay.value - 1));
  let reviewPoint = originalReviewPoint;
  const reviewPointMovedBy: string[] = [];
  const reviewReasons = [
    `Ydelsesdag ${r.durationLimitBenefitDay.value} regnet fra ${benefitStartsOn}; revurdering senest ved månedens udgang (${r.durationLimitBenefitDay.ref})`,
  ];
  for (const p of current) {
    for (const effect of p.effects) {
      if (effect.type !== 'extendBenefitPeriod') continue;
      if (originalReviewPoint >= effect.reviewPointsFrom && originalReviewPoint <= effect.reviewPointsTo) {
        reviewPoint = endOfMonth(addMonths(reviewPoint, effect.months));
        reviewPointMovedBy.push(p.policyId);
        reviewReasons.push(`Forlænget ${effect.months} måneder af ${p.title} (${p.policyId} rev. ${p.revision})`);
      }
    }
  }
  const extension = reassessmentDeadlines(ctx, deadlines, caseEvents, benefitStartsOn, reviewPoint, originalReviewPoint, reviewReasons, reviewPointMovedBy, ruleSet);

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
    reviewPoint,
    originalReviewPoint,
    certificateValidUntil: lastCertificateValidUntil(deadlines),
    extension,
    deadlines,
    policies: policyView,
    nextChangeOn: status === 'closed' ? null : nextChange(deadlines, current, asOf),
  };
}

/** The Danish term a caseworker uses for each kind of deadline, as shown in the Temporal UI. */
export const DEADLINE_TITLES: Record<DeadlineKind, string> = {
  'information-form': 'Oplysningsskema',
  'first-conversation': 'Første opfølgningssamtale',
  'follow-up-conversation': 'Opfølgningssamtale',
  certificate: 'Lægeattest (LÆ 285)',
  'certificate-renewal': 'Ny lægeattest',
  'rehabilitation-team': 'Rehabiliteringsteam',
  reassessment: 'Revurdering',
};

// ---------------------------------------------------------------------------------------------------
// Policies

interface Window {
  from: IsoDate;
  /** Inclusive; null while open-ended. */
  to: IsoDate | null;
  label: string;
  policyIds: string[];
}

interface PolicyWindows {
  pause: Map<DeadlineKind | '*', Window[]>;
  waive: Map<DeadlineKind | '*', Window[]>;
  mode: (Window & { mode: 'phone' | 'video'; consentRequired: boolean })[];
}

/**
 * The newest revision of each policy, as it applies to the case (policy-scope.ts: within its scope, or
 * ending on its endedFor date); a newest revision that does not reach the case ends the policy for it.
 * Earlier revisions are history.
 */
function currentRevisions(policies: readonly PolicyRevision[], municipality: string) {
  const latest = new Map<string, PolicyRevision>();
  for (const p of policies) {
    const seen = latest.get(p.policyId);
    if (!seen || p.revision > seen.revision) latest.set(p.policyId, p);
  }
  const current = [...latest.values()]
    .map((p) => revisionFor(p, municipality))
    .filter((p): p is PolicyRevision => p !== null)
    .sort((a, b) => compareCodeUnits(a.effectiveFrom, b.effectiveFrom) || compareCodeUnits(a.policyId, b.policyId));
  const history = [...new Map(policies.map((p) => [`${p.policyId}#${p.revision}`, p])).values()].filter(
    (p) => latest.get(p.policyId)!.revision !== p.revision,
  );
  return { current, history };
}

function policyWindows(current: readonly PolicyRevision[]): PolicyWindows {
  const w: PolicyWindows = { pause: new Map(), waive: new Map(), mode: [] };
  const add = (map: Map<DeadlineKind | '*', Window[]>, kinds: DeadlineKind[] | undefined, window: Window) => {
    for (const k of kinds && kinds.length > 0 ? kinds : (['*'] as const)) map.set(k, [...(map.get(k) ?? []), window]);
  };
  for (const p of current) {
    const window = { from: p.effectiveFrom, to: p.effectiveTo ?? null, label: `${p.title} (${p.policyId} rev. ${p.revision})`, policyIds: [p.policyId] };
    if (window.to !== null && window.to < window.from) continue;
    for (const effect of p.effects) {
      if (effect.type === 'pauseDeadlines') add(w.pause, effect.kinds, window);
      if (effect.type === 'waiveDeadlines') add(w.waive, effect.kinds, window);
      if (effect.type === 'switchConversationMode') w.mode.push({ ...window, mode: effect.mode, consentRequired: effect.consentRequired ?? false });
    }
  }
  return w;
}

function windowsFor(map: Map<DeadlineKind | '*', Window[]>, kind: DeadlineKind): Window[] {
  return [...(map.get('*') ?? []), ...(map.get(kind) ?? [])];
}

/** The pauses of each kind, merged once per timeline rather than once per deadline. */
function mergedPauses(windows: PolicyWindows): (kind: DeadlineKind) => Window[] {
  const merged = new Map<DeadlineKind, Window[]>();
  return (kind) => {
    let pauses = merged.get(kind);
    if (!pauses) merged.set(kind, (pauses = mergeWindows(windowsFor(windows.pause, kind))));
    return pauses;
  };
}

/** Overlapping or touching windows become one, so each paused day is skipped once. */
function mergeWindows(windows: Window[]): Window[] {
  const sorted = [...windows].sort((a, b) => compareCodeUnits(a.from, b.from));
  const merged: Window[] = [];
  for (const w of sorted) {
    const last = merged[merged.length - 1];
    if (last && (last.to === null || addDays(last.to, 1) >= w.from)) {
      last.to = last.to === null || w.to === null ? null : maxDate(last.to, w.to);
      last.label = last.label === w.label ? last.label : `${last.label}; ${w.label}`;
      last.policyIds = [...new Set([...last.policyIds, ...w.policyIds])];
    } else {
      merged.push({ ...w });
    }
  }
  return merged;
}

const inWindow = (w: Window, date: IsoDate) => date >= w.from && (w.to === null || date <= w.to);

function modeSwitchOn(windows: PolicyWindows, date: IsoDate) {
  // The latest-starting switch wins when two overlap.
  return [...windows.mode].reverse().find((w) => inWindow(w, date));
}

function describePolicies(current: PolicyRevision[], history: PolicyRevision[], asOf: IsoDate): PolicyOnCase[] {
  const view = (p: PolicyRevision, state: PolicyOnCase['state']): PolicyOnCase => ({
    policyId: p.policyId,
    revision: p.revision,
    title: p.title,
    effectiveFrom: p.effectiveFrom,
    effectiveTo: p.effectiveTo ?? null,
    state,
    effects: p.effects,
  });
  const stateOf = (p: PolicyRevision): PolicyOnCase['state'] =>
    asOf < p.effectiveFrom ? 'scheduled' : p.effectiveTo != null && asOf > p.effectiveTo ? 'ended' : 'active';
  return [
    ...current.map((p) => view(p, stateOf(p))),
    ...history.map((p) => view(p, 'superseded')),
  ].sort((a, b) => compareCodeUnits(a.policyId, b.policyId) || b.revision - a.revision);
}

// ---------------------------------------------------------------------------------------------------
// Counting days under pauses

export interface Scheduled {
  /** Null while a pause without an end holds the count. */
  due: IsoDate | null;
  original: IsoDate;
  pausedBy: Window[];
}

/**
 * "Within N days after A" under clock-stop pauses (domain.md section 3): count A+1, A+2, ... skipping
 * every paused day; due on the day the count reaches N. An open pause reached before the count holds it.
 * Pauses that start after `ignoreAfter` (the day a deadline was met) did not affect it.
 */
export function countDays(anchor: IsoDate, days: number, pauses: Window[], ignoreAfter: IsoDate | null = null): Scheduled {
  return countDaysMerged(anchor, days, mergeWindows(pauses), ignoreAfter);
}

/** countDays on pauses already merged (mergeWindows): in date order, none touching another. */
function countDaysMerged(anchor: IsoDate, days: number, merged: readonly Window[], ignoreAfter: IsoDate | null): Scheduled {
  const original = addDays(anchor, days);
  let remaining = days;
  let cursor = anchor;
  const pausedBy: Window[] = [];
  for (const w of merged) {
    if (ignoreAfter !== null && w.from > ignoreAfter) break;
    if (w.to !== null && w.to <= cursor) continue;
    const start = maxDate(w.from, addDays(cursor, 1));
    const countable = daysBetween(cursor, start) - 1;
    if (remaining <= countable) break;
    remaining -= countable;
    pausedBy.push(w);
    if (w.to === null) return { due: null, original, pausedBy };
    cursor = w.to;
  }
  return { due: addDays(cursor, remaining), original, pausedBy };
}

// ---------------------------------------------------------------------------------------------------
// Building deadlines

interface Ctx {
  windows: PolicyWindows;
  /** The merged pauses that apply to a kind of deadline. */
  pauses: (kind: DeadlineKind) => Window[];
  asOf: IsoDate;
  /** The day the case ended: deadlines not yet due by then are no longer owed. */
  closesOn: IsoDate | null;
}

interface DeadlineSpec {
  id: string;
  kind: DeadlineKind;
  anchor: IsoDate;
  days: number;
  /** The closed form when it differs from anchor + days (a review point moved by policy). */
  originalDueDate?: IsoDate;
  met: IsoDate | null;
  mode?: (due: IsoDate | null) => ConversationMode;
  metMode?: ConversationMode;
  reasons: string[];
  /** Policies that moved this deadline other than by pause or waiver (certificate validity, benefit period). */
  policyIds?: string[];
}

/** Resolves one deadline under pauses, waivers and the case's end, and adds it; returns it, or null when dropped. */
function push(ctx: Ctx, out: Deadline[], spec: DeadlineSpec): (Deadline & { waivedUntil?: IsoDate | null }) | null {
  const scheduled = countDaysMerged(spec.anchor, spec.days, ctx.pauses(spec.kind), spec.met);
  const { due } = scheduled;
  const reasons = [...spec.reasons];
  if (due !== null && due !== scheduled.original) {
    reasons.push(`Udskudt ${daysBetween(scheduled.original, due)} dage af ${scheduled.pausedBy.map((w) => w.label).join('; ')}`);
  }
  if (due === null) reasons.push(`Sat i bero af ${scheduled.pausedBy.map((w) => w.label).join('; ')} indtil en slutdato kendes`);

  const waiver = due === null ? undefined : windowsFor(ctx.windows.waive, spec.kind).find((w) => inWindow(w, due));
  const metInTime = spec.met !== null && (due === null || spec.met <= due);
  if (ctx.closesOn !== null && !spec.met && (due === null || due >= ctx.closesOn)) return null;

  let status: Deadline['status'];
  let daysLate: number | null = null;
  if (waiver && !metInTime) {
    status = 'waived';
    reasons.push(`Frafaldet af ${waiver.label}`);
  } else if (spec.met !== null) {
    status = 'met';
    daysLate = due === null ? 0 : Math.max(0, daysBetween(due, spec.met));
  } else if (due === null) {
    status = 'paused';
  } else if (ctx.asOf > due) {
    status = 'missed';
    daysLate = daysBetween(due, ctx.asOf);
  } else if (scheduled.pausedBy.some((w) => inWindow(w, ctx.asOf))) {
    status = 'paused';
  } else {
    status = 'pending';
  }
  const deadline: Deadline & { waivedUntil?: IsoDate | null } = {
    id: spec.id,
    kind: spec.kind,
    title: DEADLINE_TITLES[spec.kind],
    dueDate: due,
    originalDueDate: spec.originalDueDate ?? scheduled.original,
    status,
    metOn: status === 'met' ? spec.met : null,
    daysLate,
    reasons,
    policyIds: [
      ...new Set([...(spec.policyIds ?? []), ...scheduled.pausedBy.flatMap((w) => w.policyIds), ...(status === 'waived' && waiver ? waiver.policyIds : [])]),
    ].sort(),
  };
  if (spec.mode) deadline.mode = status === 'met' && spec.metMode ? spec.metMode : spec.mode(due);
  out.push(deadline);
  return status === 'waived' ? { ...deadline, waivedUntil: waiver?.to ?? null } : deadline;
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

export type CategoryChange = { on: IsoDate; category: Category };

/** T4: visitation at the start, when categorized, and at every conversation. */
function categoryTimeline(facts: CaseFacts, sorted: CaseEvent[]): CategoryChange[] {
  const changes: CategoryChange[] = facts.category ? [{ on: facts.firstAbsenceDay, category: facts.category }] : [];
  for (const e of sorted) {
    if (e.type === 'categorized' || (e.type === 'conversation-held' && e.category)) {
      changes.push({ on: e.occurredOn, category: e.category! });
    }
  }
  return changes;
}

export interface CategoryIndex {
  /** The category on a date: the last change (in the changes' order) dated on or before it. */
  at(date: IsoDate): Category | null;
  /** The first change (in the changes' order) into category 2 or 3 dated after the date. */
  revisitedAfter(date: IsoDate): CategoryChange | undefined;
}

/**
 * Answers both questions by bisection, O(log n) each instead of a scan of every change: the conversation chain
 * asks them for each conversation, so a scan would make a case's work grow with its conversations squared.
 * The changes are in date order except a category given at the start, which an earlier-dated event can follow,
 * so the bisection runs on running extremes that are ordered whatever the changes are:
 * - earliestFrom[i], the earliest date of changes i..end, never falls as i grows; the last change dated on or
 *   before a date is the one before the first i whose earliestFrom[i] is after it;
 * - latestUpTo[i], the latest date of the changes into 2 or 3 up to i, never falls either; the first of them
 *   dated after a date is the first i whose latestUpTo[i] is after it.
 * Exported for its unit test, which holds it to those scans.
 */
export function categoryIndex(changes: readonly CategoryChange[]): CategoryIndex {
  const earliestFrom = changes.map((c) => c.on);
  for (let i = earliestFrom.length - 2; i >= 0; i--) if (earliestFrom[i + 1]! < earliestFrom[i]!) earliestFrom[i] = earliestFrom[i + 1]!;
  const outOfOne = changes.filter((c) => c.category !== 1);
  const latestUpTo = outOfOne.map((c) => c.on);
  for (let i = 1; i < latestUpTo.length; i++) if (latestUpTo[i - 1]! > latestUpTo[i]!) latestUpTo[i] = latestUpTo[i - 1]!;
  return {
    at(date) {
      const i = firstAfter(earliestFrom, date);
      return i === 0 ? null : changes[i - 1]!.category;
    },
    revisitedAfter(date) {
      return outOfOne[firstAfter(latestUpTo, date)];
    },
  };
}

/** The first index of a non-decreasing list of dates whose date is after `date` (the list's length if none is). */
function firstAfter(dates: readonly IsoDate[], date: IsoDate): number {
  let lo = 0;
  let hi = dates.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (dates[mid]! <= date) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** T5-T8: the first conversation (or the fast track), then the category-dependent cadence. */
function conversationChain(
  ctx: Ctx,
  out: Deadline[],
  facts: CaseFacts,
  sorted: CaseEvent[],
  categories: CategoryIndex,
  ruleSet: RuleSet,
) {
  const r = ruleSet.rules;
  const F = facts.firstAbsenceDay;
  const held = sorted.filter((e) => e.type === 'conversation-held');
  const cadence = facts.followUpCadence ?? r.followUpCadence.value;
  const inPersonUntil = addMonths(F, r.conversationMode.value.inPersonMonths);
  const ruleMode = (index: number) => (due: IsoDate | null): ConversationMode => {
    const policy = modeSwitchOn(ctx.windows, due ?? ctx.asOf);
    if (policy) return policy.mode;
    if (index > 0 && r.conversationMode.value.onlyFirstInPerson) return 'citizen-choice';
    return due === null || due <= inPersonUntil ? 'in-person' : 'citizen-choice';
  };

  // T5, or T6 when a fast track was requested before the first conversation and makes it earlier.
  let anchor = F;
  let days = r.firstConversationDays.value;
  let reasons = [`Senest ved udgangen af uge 8 regnet fra første fraværsdag ${F} (${r.firstConversationDays.ref})`];
  const fastTrack = sorted.find((e) => e.type === 'fast-track-requested' && (!held[0] || e.occurredOn <= held[0].occurredOn));
  if (fastTrack && addDays(fastTrack.occurredOn, r.fastTrackDays.value) < addDays(F, days)) {
    anchor = fastTrack.occurredOn;
    days = r.fastTrackDays.value;
    reasons = [`Tidlig opfølgning anmodet ${fastTrack.occurredOn}; samtale inden ${days} dage (${r.fastTrackDays.ref})`];
  }

  let next = 0;
  for (let index = 0; index < 1000; index++) {
    const candidate = held[next];
    const deadline = push(ctx, out, {
      id: index === 0 ? 'first-conversation' : `follow-up-conversation-${index}`,
      kind: index === 0 ? 'first-conversation' : 'follow-up-conversation',
      anchor,
      days,
      met: candidate && candidate.type === 'conversation-held' ? candidate.occurredOn : null,
      metMode: candidate && candidate.type === 'conversation-held' ? candidate.mode : undefined,
      mode: ruleMode(index),
      reasons,
    });
    if (!deadline) return;
    if (deadline.status === 'waived') {
      // The duty did not apply in the window; the next conversation counts from the window's end.
      if (!deadline.waivedUntil) return;
      anchor = deadline.waivedUntil;
    } else if (deadline.status === 'met') {
      next++;
      anchor = deadline.metOn!;
    } else {
      return;
    }
    // T7: later conversations for categories 2 and 3 (and while not yet visited); category 1 is expected
    // back within 8 weeks, until a re-visitation says otherwise.
    if (categories.at(anchor) === 1) {
      const revisited = categories.revisitedAfter(anchor);
      if (!revisited) return;
      anchor = revisited.on;
    }
    days = followUpInterval(cadence, ruleSet, F, anchor, index + 1);
    reasons =
      cadence === 'every-4-weeks'
        ? [`Hver 4. uge efter seneste samtale ${anchor} (${r.followUpIntervalDays.ref})`]
        : [`Mindst ${r.fourInSixMonths.value.conversations} samtaler inden for de første ${r.fourInSixMonths.value.months} måneder; næste fordelt fra ${anchor} (${r.fourInSixMonths.ref})`];
  }
}

function followUpInterval(cadence: string, ruleSet: RuleSet, F: IsoDate, anchor: IsoDate, done: number): number {
  const r = ruleSet.rules;
  if (cadence === 'four-in-six-months') {
    const sixMonthsEnd = addMonths(F, r.fourInSixMonths.value.months);
    const left = r.fourInSixMonths.value.conversations - done;
    const span = daysBetween(anchor, sixMonthsEnd);
    if (left > 0 && span > 0) return Math.max(1, Math.floor(span / left));
  }
  return r.followUpIntervalDays.value;
}

/** T10, T11: requested certificates, and a renewal when a received certificate's validity runs out. */
function certificateDeadlines(ctx: Ctx, out: Deadline[], sorted: CaseEvent[], policies: PolicyRevision[], ruleSet: RuleSet) {
  const r = ruleSet.rules;
  const received = sorted.filter((e) => e.type === 'certificate-received');
  let next = 0;
  sorted
    .filter((e) => e.type === 'certificate-requested')
    .forEach((request, i) => {
      while (received[next] && received[next]!.occurredOn < request.occurredOn) next++;
      const answer = received[next];
      if (answer) next++;
      push(ctx, out, {
        id: `certificate-${i + 1}`,
        kind: 'certificate',
        anchor: request.occurredOn,
        days: r.certificateDueDays.value,
        met: answer?.occurredOn ?? null,
        reasons: [`Anmodet ${request.occurredOn}; frist ${r.certificateDueDays.value} dage (${r.certificateDueDays.ref})`],
      });
    });

  received.forEach((certificate, i) => {
    if (certificate.type !== 'certificate-received') return;
    const stated = certificate.validUntil;
    const original = stated ?? addDays(certificate.occurredOn, r.certificateValidityDays.value);
    let validUntil = original;
    const extendedBy: string[] = [];
    const reasons = [
      stated
        ? `Attest modtaget ${certificate.occurredOn}, gyldig til ${stated}`
        : `Attest modtaget ${certificate.occurredOn}; gyldig ${r.certificateValidityDays.value} dage (${r.certificateValidityDays.ref})`,
    ];
    for (const p of policies) {
      for (const effect of p.effects) {
        if (effect.type !== 'extendCertificateValidity') continue;
        // Certificates valid on, or expiring within, the window.
        if (original >= p.effectiveFrom && (p.effectiveTo == null || certificate.occurredOn <= p.effectiveTo)) {
          validUntil = effect.months ? addMonths(validUntil, effect.months) : addDays(validUntil, effect.days ?? 0);
          extendedBy.push(p.policyId);
          reasons.push(`Gyldighed forlænget af ${p.title} (${p.policyId} rev. ${p.revision})`);
        }
      }
    }
    const renewal = received[i + 1];
    push(ctx, out, {
      id: `certificate-renewal-${i + 1}`,
      kind: 'certificate-renewal',
      anchor: certificate.occurredOn,
      days: daysBetween(certificate.occurredOn, validUntil),
      originalDueDate: original,
      met: renewal?.occurredOn ?? null,
      reasons,
      policyIds: extendedBy,
    });
  });
}

function lastCertificateValidUntil(deadlines: Deadline[]): IsoDate | null {
  const renewals = deadlines.filter((d) => d.kind === 'certificate-renewal');
  const last = renewals.sort((a, b) => compareNatural(a.id, b.id))[renewals.length - 1];
  return last ? last.dueDate : null;
}

/** T9: category 3 goes before the rehabilitation team within 28 days after each visitation into it. */
function rehabilitationTeamDeadlines(ctx: Ctx, out: Deadline[], sorted: CaseEvent[], categories: CategoryChange[], ruleSet: RuleSet) {
  const r = ruleSet.rules;
  const meetings = sorted.filter((e) => e.type === 'rehabilitation-team-held');
  let previous: Category | null = null;
  let n = 0;
  let next = 0;
  for (const change of categories) {
    if (change.category === 3 && previous !== 3) {
      while (meetings[next] && meetings[next]!.occurredOn < change.on) next++;
      const meeting = meetings[next];
      if (meeting) next++;
      n++;
      push(ctx, out, {
        id: `rehabilitation-team-${n}`,
        kind: 'rehabilitation-team',
        anchor: change.on,
        days: r.rehabilitationTeamDays.value,
        met: meeting?.occurredOn ?? null,
        reasons: [`Visiteret til kategori 3 ${change.on}; rehabiliteringsteam inden ${r.rehabilitationTeamDays.value} dage (${r.rehabilitationTeamDays.ref})`],
      });
    }
    previous = change.category;
  }
}

/** T12-T14: a decision by the review point, then by the end of each extension. */
function reassessmentDeadlines(
  ctx: Ctx,
  out: Deadline[],
  sorted: CaseEvent[],
  benefitStartsOn: IsoDate,
  reviewPoint: IsoDate,
  originalReviewPoint: IsoDate,
  reasons: string[],
  movedBy: string[],
  ruleSet: RuleSet,
): Timeline['extension'] {
  const decisions = sorted.filter((e) => e.type === 'reassessment-decided');
  let anchor = benefitStartsOn;
  let due = reviewPoint;
  let original = originalReviewPoint;
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
      policyIds: i === 0 ? movedBy : [],
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
