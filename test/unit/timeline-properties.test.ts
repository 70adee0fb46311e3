import fc from 'fast-check';
import { addDays, endOfMonth } from '../../workflows/domain/dates';
import { ruleSetFor } from '../../workflows/domain/rules';
import { computeTimeline } from '../../workflows/domain/timeline';
import { type CaseEvent, type CaseFacts, DEADLINE_KINDS, type PolicyRevision } from '../../workflows/domain/types';

/** Invariants of the timeline engine over generated cases, events and pauses. */
type Of<A> = A extends fc.Arbitrary<infer T> ? T : never;

const firstDay = fc.integer({ min: 0, max: 6 * 365 }).map((d) => addDays('2019-01-01', d));

const caseFacts = fc.record({
  firstAbsenceDay: firstDay,
  employment: fc.constantFrom('employee', 'unemployed', 'self-employed' as const),
  category: fc.option(fc.constantFrom(1, 2, 3 as const), { nil: undefined }),
  informationFormSentOn: fc.option(fc.integer({ min: 0, max: 10 }), { nil: undefined }),
  followUpCadence: fc.constantFrom('every-4-weeks', 'four-in-six-months' as const),
});

const eventOffsets = fc.array(
  fc.record({
    day: fc.integer({ min: 0, max: 400 }),
    type: fc.constantFrom('conversation-held', 'categorized', 'certificate-requested', 'certificate-received', 'rehabilitation-team-held', 'fast-track-requested'),
    category: fc.constantFrom(1, 2, 3 as const),
  }),
  { maxLength: 12 },
);

const pause = fc.record({
  start: fc.integer({ min: 0, max: 300 }),
  length: fc.option(fc.integer({ min: 0, max: 120 }), { nil: null }),
  kinds: fc.option(fc.subarray([...DEADLINE_KINDS], { minLength: 1 }), { nil: undefined }),
});

function build(f: Of<typeof caseFacts>, offsets: Of<typeof eventOffsets>) {
  const F = f.firstAbsenceDay;
  const facts: CaseFacts = {
    caseId: 'PROP-1',
    citizenRef: 'REF-P',
    municipality: '101',
    firstAbsenceDay: F,
    employment: f.employment,
    category: f.category,
    informationFormSentOn: f.informationFormSentOn === undefined ? undefined : addDays(F, f.informationFormSentOn),
    followUpCadence: f.followUpCadence,
  };
  const events = offsets.map((o, i): CaseEvent => {
    const base = { eventId: `e${i}`, occurredOn: addDays(F, o.day) };
    switch (o.type) {
      case 'conversation-held':
        return { ...base, type: o.type, mode: 'in-person' };
      case 'categorized':
        return { ...base, type: o.type, category: o.category };
      case 'fast-track-requested':
        return { ...base, type: o.type, requestedBy: 'citizen' };
      default:
        return { ...base, type: o.type } as CaseEvent;
    }
  });
  return { facts, events, asOf: addDays(F, 420), ruleSet: ruleSetFor(F) };
}

function pausePolicy(F: string, p: Of<typeof pause>, revision = 1): PolicyRevision {
  return {
    policyId: 'pause',
    revision,
    title: 'Pause',
    effectiveFrom: addDays(F, p.start),
    effectiveTo: p.length === null ? null : addDays(F, p.start + p.length),
    scope: { type: 'all' },
    effects: [{ type: 'pauseDeadlines', kinds: p.kinds }],
  };
}

const runs = { numRuns: 300 };

test('with no policies every due date equals its closed form', () => {
  fc.assert(
    fc.property(caseFacts, eventOffsets, (f, offsets) => {
      const { facts, events, asOf, ruleSet } = build(f, offsets);
      const t = computeTimeline(facts, events, [], ruleSet, asOf);
      for (const d of t.deadlines) expect(d.dueDate).toBe(d.originalDueDate);
      const employerDays = ruleSet.rules.employerPeriodDays.value[facts.employment];
      expect(t.originalReviewPoint).toBe(endOfMonth(addDays(facts.firstAbsenceDay, employerDays + ruleSet.rules.durationLimitBenefitDay.value - 1)));
      const first = t.deadlines.find((d) => d.kind === 'first-conversation');
      if (first && !events.some((e) => e.type === 'fast-track-requested')) {
        expect(first.dueDate).toBe(addDays(facts.firstAbsenceDay, ruleSet.rules.firstConversationDays.value));
      }
    }),
    runs,
  );
});

test('a pause never makes a deadline earlier', () => {
  fc.assert(
    fc.property(caseFacts, eventOffsets, pause, (f, offsets, p) => {
      const { facts, events, asOf, ruleSet } = build(f, offsets);
      const plain = computeTimeline(facts, events, [], ruleSet, asOf);
      const paused = computeTimeline(facts, events, [pausePolicy(facts.firstAbsenceDay, p)], ruleSet, asOf);
      for (const d of paused.deadlines) {
        const before = plain.deadlines.find((x) => x.id === d.id);
        if (!before || d.dueDate === null) continue;
        expect(d.dueDate >= before.dueDate!).toBe(true);
      }
    }),
    runs,
  );
});

test('applying a policy twice equals applying it once', () => {
  fc.assert(
    fc.property(caseFacts, eventOffsets, pause, (f, offsets, p) => {
      const { facts, events, asOf, ruleSet } = build(f, offsets);
      const policy = pausePolicy(facts.firstAbsenceDay, p);
      expect(computeTimeline(facts, events, [policy, { ...policy }], ruleSet, asOf)).toEqual(computeTimeline(facts, events, [policy], ruleSet, asOf));
    }),
    runs,
  );
});

test('removing a pause restores the original dates', () => {
  fc.assert(
    fc.property(caseFacts, eventOffsets, pause, (f, offsets, p) => {
      const { facts, events, asOf, ruleSet } = build(f, offsets);
      const plain = computeTimeline(facts, events, [], ruleSet, asOf);
      const paused = computeTimeline(facts, events, [pausePolicy(facts.firstAbsenceDay, p)], ruleSet, asOf);
      // Every deadline remembers the date it had without the pause ...
      for (const d of paused.deadlines) {
        const without = plain.deadlines.find((x) => x.id === d.id);
        if (without) expect(d.originalDueDate).toBe(without.dueDate);
      }
      // ... and a revision whose window ends before it starts (the pause withdrawn) gives exactly those dates back.
      const withdrawn = { ...pausePolicy(facts.firstAbsenceDay, p, 2), effectiveTo: addDays(facts.firstAbsenceDay, p.start - 1) };
      const restored = computeTimeline(facts, events, [pausePolicy(facts.firstAbsenceDay, p), withdrawn], ruleSet, asOf);
      expect(restored.deadlines).toEqual(plain.deadlines);
    }),
    runs,
  );
});
