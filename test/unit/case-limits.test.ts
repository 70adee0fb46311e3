import fc from 'fast-check';
import { SIMULATE_LIMITS } from '../../api/routes/timeline';
import { deadlineRow, timelineSvg } from '../../api/timeline-svg';
import { deadlineLabel, describe as caseDetails } from '../../workflows/case-details';
import { addDays } from '../../workflows/domain/dates';
import { ruleSetFor } from '../../workflows/domain/rules';
import { categoryIndex, type CategoryChange, computeTimeline } from '../../workflows/domain/timeline';
import { type CaseEvent, type CaseFacts, type Category, type Deadline, DEADLINE_KINDS } from '../../workflows/domain/types';
import { CASE_LIMITS, rejectEvent } from '../../workflows/domain/validate-event';

/** The most a case holds (CASE_LIMITS), and the functions that label and check every deadline and event of a full case. */
const F = '2025-01-06';
const today = addDays(F, 900);
const facts: CaseFacts = { caseId: 'LIMIT-1', citizenRef: 'REF-L', municipality: '101', firstAbsenceDay: F, employment: 'employee' };
const ruleSet = ruleSetFor(F);

const certificateRequests = (count: number, from = 0): CaseEvent[] =>
  Array.from({ length: count }, (_, i) => ({ eventId: `c-${from + i}`, type: 'certificate-requested', occurredOn: addDays(F, (from + i) % 800) }));
const check = (events: readonly CaseEvent[], candidate: CaseEvent, limits?: boolean) =>
  rejectEvent(facts, events, [], ruleSet, candidate, today, limits === undefined ? undefined : { limits });
const on = (type: 'recovered' | 'benefit-stopped' | 'rehabilitation-team-held' | 'certificate-requested', eventId = `last-${type}`): CaseEvent => ({ eventId, type, occurredOn: today });

test('a case takes its 500th event and refuses the 501st, naming maxEventsPerCase', () => {
  expect(check(certificateRequests(499), on('certificate-requested'))).toBeNull();

  const refused = check(certificateRequests(500), on('certificate-requested'));
  expect(refused).toEqual({
    code: 'limit',
    reason: 'the case holds 500 events; a case holds at most 500 events (maxEventsPerCase), so the event is not applied',
    limit: { name: 'maxEventsPerCase', max: 500 },
  });
});

test('a full case can still end: recovered, benefit-stopped, a transfer to job clarification and then its team meeting', () => {
  const full = certificateRequests(500);
  expect(check(full, on('recovered'))).toBeNull();
  expect(check(full, on('benefit-stopped'))).toBeNull();
  const transfer: CaseEvent = { eventId: 'jc', type: 'reassessment-decided', outcome: 'job-clarification', occurredOn: today };
  expect(check(full, transfer)).toBeNull();
  expect(check([...full, transfer], on('rehabilitation-team-held'))).toBeNull();
  // The team meeting ends a case only after a transfer; in an open case it is one more event.
  expect(check(full, on('rehabilitation-team-held'))).toMatchObject({ code: 'limit', limit: { name: 'maxEventsPerCase' } });
  // Once ended, the case is closed, limits or not.
  expect(check([...full, on('recovered')], on('recovered', 'again'))).toMatchObject({ code: 'closed' });
});

test('a what-if is not held to the case limits, and holds fewer events than they allow', () => {
  expect(check(certificateRequests(500), on('certificate-requested'), false)).toBeNull();
  expect(SIMULATE_LIMITS.events).toBeLessThan(CASE_LIMITS.maxEventsPerCase);
});

test('an event that would take the case past 600 deadlines is refused, naming maxDeadlinesPerCase', () => {
  // A conversation held with category 3 after one with category 2 makes two deadlines: the next conversation
  // and a rehabilitation team. So deadlines outgrow events, and reach the limit before the events do.
  const conversations: CaseEvent[] = Array.from({ length: 480 }, (_, i) => ({
    eventId: `v-${i}`,
    type: 'conversation-held',
    mode: 'phone',
    category: (i % 2 === 0 ? 3 : 2) as Category,
    occurredOn: addDays(F, 1 + i),
  }));
  const deadlinesAfter = (count: number) => computeTimeline(facts, conversations.slice(0, count), [], ruleSet, today).deadlines.length;
  const last = conversations.findIndex((_, i) => deadlinesAfter(i + 1) > CASE_LIMITS.maxDeadlinesPerCase);
  expect(last).toBeGreaterThan(0);
  expect(last).toBeLessThan(CASE_LIMITS.maxEventsPerCase);

  expect(check(conversations.slice(0, last - 1), conversations[last - 1]!)).toBeNull();
  const refused = check(conversations.slice(0, last), conversations[last]!);
  expect(refused).toMatchObject({ code: 'limit', limit: { name: 'maxDeadlinesPerCase', max: 600 } });
  expect(refused!.reason).toBe(
    `the case would hold ${deadlinesAfter(last + 1)} deadlines after this event (${deadlinesAfter(last)} before it); a case holds at most 600 deadlines (maxDeadlinesPerCase), so the event is not applied`,
  );
  // What does not add a deadline is still taken.
  expect(check(conversations.slice(0, last), on('recovered'))).toBeNull();
});

/** What deadlineLabel gave when it counted the whole list for each deadline. */
function labelByScan(d: Deadline, all: readonly Deadline[]): string {
  const n = /-(\d+)$/.exec(d.id)?.[1];
  if (!n) return d.title;
  if (d.kind === 'follow-up-conversation' || all.filter((other) => other.kind === d.kind).length > 1) return `${d.title} ${n}`;
  return d.title;
}

const deadline = (kind: (typeof DEADLINE_KINDS)[number], n: number | null): Deadline => ({
  id: n === null ? kind : `${kind}-${n}`,
  kind,
  title: kind,
  dueDate: '2025-03-01',
  originalDueDate: '2025-03-01',
  status: 'pending',
  metOn: null,
  daysLate: null,
  reasons: ['rule'],
  policyIds: [],
});

test('deadlineLabel numbers a deadline as a count of the whole list does, also after the list grew', () => {
  fc.assert(
    fc.property(fc.array(fc.record({ kind: fc.constantFrom(...DEADLINE_KINDS), n: fc.option(fc.integer({ min: 1, max: 9 }), { nil: null }) }), { maxLength: 30 }), (specs) => {
      const all = specs.map((s) => deadline(s.kind, s.n));
      for (const d of all) expect(deadlineLabel(d, all)).toBe(labelByScan(d, all));
      all.push(deadline('certificate', 99), deadline('certificate', 98));
      for (const d of all) expect(deadlineLabel(d, all)).toBe(labelByScan(d, all));
    }),
    { numRuns: 300 },
  );
});

test('categoryIndex answers as scans of the changes in their order do, whatever their dates', () => {
  const change = fc.record({ day: fc.integer({ min: 0, max: 60 }), category: fc.constantFrom(1, 2, 3) as fc.Arbitrary<Category> });
  fc.assert(
    fc.property(fc.array(change, { maxLength: 25 }), fc.integer({ min: -2, max: 62 }), (raw, day) => {
      const changes: CategoryChange[] = raw.map((c) => ({ on: addDays(F, c.day), category: c.category }));
      const date = addDays(F, day);
      let at: Category | null = null;
      for (const c of changes) if (c.on <= date) at = c.category;
      const index = categoryIndex(changes);
      expect(index.at(date)).toBe(at);
      expect(index.revisitedAfter(date)).toBe(changes.find((c) => c.on > date && c.category !== 1));
    }),
    { numRuns: 1000 },
  );
});

test('a full case: every deadline labelled, in the details, the picture and the caseworker rows', () => {
  const t = computeTimeline(facts, certificateRequests(500), [], ruleSet, today);
  const certificates = t.deadlines.filter((d) => d.kind === 'certificate');
  expect(certificates).toHaveLength(500);
  for (const d of t.deadlines) expect(deadlineRow(d, t.deadlines).label).toBe(labelByScan(d, t.deadlines));
  expect(new Set(certificates.map((d) => deadlineLabel(d, t.deadlines))).size).toBe(500);
  expect(caseDetails(t)).toContain('**Lægeattest \\(LÆ 285\\) 500**');
  expect(timelineSvg(t).match(/<g class="deadline"/g)).toHaveLength(t.deadlines.length);
});
