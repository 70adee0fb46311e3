import { addDays, addMonths, daysBetween, type IsoDate } from '../dates';
import { type ConversationMode, type RuleSet } from '../rules';
import { type CaseEvent, type CaseFacts, type Deadline } from '../types';
import { type CategoryIndex } from './categories';
import { type Ctx, push } from './deadline';
import { modeSwitchOn } from './policies';

/** T5-T8: the first conversation (or the fast track), then the category-dependent cadence. */
export function conversationChain(
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
