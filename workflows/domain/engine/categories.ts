import { type IsoDate } from '../dates';
import { type CaseEvent, type CaseFacts, type Category } from '../types';

export type CategoryChange = { on: IsoDate; category: Category };

/** T4: visitation at the start, when categorized, and at every conversation. */
export function categoryTimeline(facts: CaseFacts, sorted: CaseEvent[]): CategoryChange[] {
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
