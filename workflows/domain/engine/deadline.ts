import { addDays, daysBetween, type IsoDate, maxDate } from '../dates';
import { type Window } from '../effects/effect';
import { type ConversationMode } from '../rules';
import { type Deadline, type DeadlineKind } from '../types';
import { inWindow, mergeWindows, type PolicyWindows, windowsFor } from './policies';

/*
 * One deadline: its days counted around the clock stops, then waived, met, missed, paused or pending, with
 * the reasons a caseworker reads.
 */

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

export interface Ctx {
  windows: PolicyWindows;
  /** The merged pauses that apply to a kind of deadline. */
  pauses: (kind: DeadlineKind) => Window[];
  asOf: IsoDate;
  /** The day the case ended: deadlines not yet due by then are no longer owed. */
  closesOn: IsoDate | null;
}

export interface DeadlineSpec {
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
export function push(ctx: Ctx, out: Deadline[], spec: DeadlineSpec): (Deadline & { waivedUntil?: IsoDate | null }) | null {
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
