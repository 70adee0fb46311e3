import { ruleSetById } from '../../workflows/domain/rules';
import { computeTimeline } from '../../workflows/domain/timeline';
import { type Deadline, type PolicyRevision } from '../../workflows/domain/types';
import { event, facts, suspension2020 } from '../support/fixtures';

const rules2020 = ruleSetById('2020');
const byId = (deadlines: Deadline[], id: string) => {
  const found = deadlines.find((d) => d.id === id);
  if (!found) throw new Error(`no deadline ${id} in ${deadlines.map((d) => d.id).join(', ')}`);
  return found;
};

describe('domain.md worked example (T5, T12): F = 2020-02-03, employee', () => {
  const timeline = computeTimeline(facts(), [], [], rules2020, '2020-02-10');

  test('the first conversation is due 2020-03-29, the end of week 8', () => {
    expect(byId(timeline.deadlines, 'first-conversation')).toMatchObject({
      kind: 'first-conversation',
      dueDate: '2020-03-29',
      originalDueDate: '2020-03-29',
      status: 'pending',
      mode: 'in-person',
    });
  });

  test('benefit starts 2020-03-04 and the review point is 2020-08-31', () => {
    expect(timeline.benefitStartsOn).toBe('2020-03-04');
    expect(timeline.reviewPoint).toBe('2020-08-31');
    expect(byId(timeline.deadlines, 'reassessment-1')).toMatchObject({ dueDate: '2020-08-31', status: 'pending' });
  });
});

describe('domain.md pause example: suspension 2020-03-20..2020-05-26 (68 days)', () => {
  test('with the end known, the first conversation is due 2020-06-05', () => {
    const t = computeTimeline(facts(), [], [suspension2020({ effectiveTo: '2020-05-26' })], rules2020, '2020-06-01');
    expect(byId(t.deadlines, 'first-conversation')).toMatchObject({
      dueDate: '2020-06-05',
      originalDueDate: '2020-03-29',
      status: 'pending',
      policyIds: ['covid-suspension'],
    });
    expect(byId(t.deadlines, 'reassessment-1').policyIds).toEqual([]);
  });

  test('while the pause has no end, the deadline is paused with no due date', () => {
    const t = computeTimeline(facts(), [], [suspension2020()], rules2020, '2020-04-01');
    expect(byId(t.deadlines, 'first-conversation')).toMatchObject({ dueDate: null, originalDueDate: '2020-03-29', status: 'paused' });
  });

  test('during a pause with a known end the deadline shows paused with its new date', () => {
    const t = computeTimeline(facts(), [], [suspension2020({ effectiveTo: '2020-05-26' })], rules2020, '2020-04-01');
    expect(byId(t.deadlines, 'first-conversation')).toMatchObject({ dueDate: '2020-06-05', status: 'paused' });
  });

  test('a pause entirely after the due date changes nothing', () => {
    const t = computeTimeline(facts(), [], [suspension2020({ effectiveFrom: '2020-04-01', effectiveTo: '2020-04-30' })], rules2020, '2020-03-01');
    expect(byId(t.deadlines, 'first-conversation').dueDate).toBe('2020-03-29');
  });

  test('the reassessment is not paused by a conversation-only pause', () => {
    const t = computeTimeline(facts(), [], [suspension2020({ effectiveTo: '2020-05-26' })], rules2020, '2020-06-01');
    expect(byId(t.deadlines, 'reassessment-1').dueDate).toBe('2020-08-31');
  });
});

describe('statuses', () => {
  test('a conversation held on time is met; the next is due 28 days later for category 2', () => {
    const t = computeTimeline(
      facts(),
      [event({ type: 'categorized', occurredOn: '2020-03-01', category: 2 }), event({ type: 'conversation-held', occurredOn: '2020-03-20', mode: 'in-person' })],
      [],
      rules2020,
      '2020-03-21',
    );
    expect(byId(t.deadlines, 'first-conversation')).toMatchObject({ status: 'met', metOn: '2020-03-20', daysLate: 0, mode: 'in-person' });
    expect(byId(t.deadlines, 'follow-up-conversation-1')).toMatchObject({ dueDate: '2020-04-17', status: 'pending' });
  });

  test('a deadline past its date is missed with days overdue; held later it is met late', () => {
    const missed = computeTimeline(facts(), [], [], rules2020, '2020-04-03');
    expect(byId(missed.deadlines, 'first-conversation')).toMatchObject({ status: 'missed', daysLate: 5 });
    const late = computeTimeline(facts(), [event({ type: 'conversation-held', occurredOn: '2020-04-08', mode: 'phone' })], [], rules2020, '2020-04-09');
    expect(byId(late.deadlines, 'first-conversation')).toMatchObject({ status: 'met', metOn: '2020-04-08', daysLate: 10, mode: 'phone' });
  });

  test('category 1 gets no later conversations until re-visited', () => {
    const t = computeTimeline(
      facts(),
      [event({ type: 'categorized', occurredOn: '2020-02-10', category: 1 }), event({ type: 'conversation-held', occurredOn: '2020-03-25', mode: 'in-person' })],
      [],
      rules2020,
      '2020-04-01',
    );
    expect(t.deadlines.filter((d) => d.kind === 'follow-up-conversation')).toEqual([]);
  });
});

describe('fast track (T6)', () => {
  test('a request makes the first conversation due 14 days later', () => {
    const t = computeTimeline(facts(), [event({ type: 'fast-track-requested', occurredOn: '2020-02-10', requestedBy: 'employer' })], [], rules2020, '2020-02-11');
    expect(byId(t.deadlines, 'first-conversation')).toMatchObject({ dueDate: '2020-02-24', originalDueDate: '2020-02-24' });
  });
});

describe('rehabilitation team (T9) and certificates (T10, T11)', () => {
  test('category 3 goes before the team within 28 days of visitation', () => {
    const t = computeTimeline(facts(), [event({ type: 'categorized', occurredOn: '2020-03-10', category: 3 })], [], rules2020, '2020-03-11');
    expect(byId(t.deadlines, 'rehabilitation-team-1')).toMatchObject({ dueDate: '2020-04-07', status: 'pending' });
  });

  test('a requested certificate is due in 14 days; a received one needs renewal after 90 days', () => {
    const t = computeTimeline(
      facts(),
      [event({ type: 'certificate-requested', occurredOn: '2020-02-20' }), event({ type: 'certificate-received', occurredOn: '2020-03-01' })],
      [],
      rules2020,
      '2020-03-02',
    );
    expect(byId(t.deadlines, 'certificate-1')).toMatchObject({ dueDate: '2020-03-05', status: 'met', metOn: '2020-03-01' });
    expect(byId(t.deadlines, 'certificate-renewal-1')).toMatchObject({ dueDate: '2020-05-30', status: 'pending' });
    expect(t.certificateValidUntil).toBe('2020-05-30');
  });

  test('a certificate-validity policy extends a certificate valid in its window', () => {
    const extend: PolicyRevision = {
      policyId: 'certificate-extension',
      revision: 1,
      title: 'Forlænget gyldighed af lægeattester',
      effectiveFrom: '2020-03-20',
      effectiveTo: '2020-06-30',
      scope: { type: 'all' },
      effects: [{ type: 'extendCertificateValidity', months: 2 }],
    };
    const t = computeTimeline(facts(), [event({ type: 'certificate-received', occurredOn: '2020-03-01' })], [extend], rules2020, '2020-03-02');
    expect(byId(t.deadlines, 'certificate-renewal-1')).toMatchObject({ dueDate: '2020-07-30', originalDueDate: '2020-05-30' });
  });
});

describe('benefit-period extension (lov 275/2020)', () => {
  const extension: PolicyRevision = {
    policyId: 'benefit-extension-2020',
    revision: 1,
    title: 'Forlængelse af sygedagpengeperioden',
    legalReference: 'lov nr. 275 af 26/03/2020',
    effectiveFrom: '2020-03-26',
    effectiveTo: null,
    scope: { type: 'all' },
    effects: [{ type: 'extendBenefitPeriod', months: 3, reviewPointsFrom: '2020-03-09', reviewPointsTo: '2020-06-09' }],
  };

  test('a review point inside the window moves 3 months to the end of that month', () => {
    const t = computeTimeline(facts({ firstAbsenceDay: '2019-09-02' }), [], [extension], rules2020, '2020-03-27');
    expect(t.originalReviewPoint).toBe('2020-03-31');
    expect(t.reviewPoint).toBe('2020-06-30');
    expect(byId(t.deadlines, 'reassessment-1')).toMatchObject({ dueDate: '2020-06-30', originalDueDate: '2020-03-31' });
  });

  test('a review point outside the window stays', () => {
    const t = computeTimeline(facts(), [], [extension], rules2020, '2020-03-27');
    expect(t.reviewPoint).toBe('2020-08-31');
  });
});

describe('waive', () => {
  test('a conversation due inside the window is waived and the next counts from the window end', () => {
    const waive = suspension2020({ effectiveTo: '2020-05-26', effects: [{ type: 'waiveDeadlines', kinds: ['first-conversation', 'follow-up-conversation'] }] });
    const t = computeTimeline(facts(), [], [waive], rules2020, '2020-05-27');
    expect(byId(t.deadlines, 'first-conversation')).toMatchObject({ dueDate: '2020-03-29', status: 'waived', daysLate: null });
    expect(byId(t.deadlines, 'follow-up-conversation-1')).toMatchObject({ dueDate: '2020-06-23', status: 'pending' });
  });
});

describe('conversation mode (T8) and the 2023 regime', () => {
  test('a mode switch makes conversations due in its window phone; it reverts after the window', () => {
    const phone: PolicyRevision = {
      policyId: 'digital-conversations',
      revision: 1,
      title: 'Samtaler pr. telefon eller video',
      effectiveFrom: '2020-03-30',
      effectiveTo: '2020-06-14',
      scope: { type: 'all' },
      effects: [{ type: 'switchConversationMode', mode: 'phone', consentRequired: true }],
    };
    const during = computeTimeline(facts({ firstAbsenceDay: '2020-03-02' }), [], [phone], rules2020, '2020-04-01');
    expect(during.conversationMode).toBe('phone');
    expect(during.consentRequired).toBe(true);
    expect(byId(during.deadlines, 'first-conversation')).toMatchObject({ dueDate: '2020-04-26', mode: 'phone' });
    const after = computeTimeline(facts({ firstAbsenceDay: '2020-05-04' }), [], [phone], rules2020, '2020-06-20');
    expect(after.conversationMode).toBe('in-person');
    expect(byId(after.deadlines, 'first-conversation').mode).toBe('in-person');
  });

  test('from 2023 only the first conversation must be in person', () => {
    const rules2023 = ruleSetById('2023');
    const t = computeTimeline(
      facts({ firstAbsenceDay: '2023-02-06', category: 2 }),
      [event({ type: 'conversation-held', occurredOn: '2023-03-20', mode: 'in-person' })],
      [],
      rules2023,
      '2023-03-21',
    );
    expect(byId(t.deadlines, 'first-conversation').mode).toBe('in-person');
    expect(byId(t.deadlines, 'follow-up-conversation-1')).toMatchObject({ dueDate: '2023-04-17', mode: 'citizen-choice' });
    const old = computeTimeline(facts({ category: 2 }), [event({ type: 'conversation-held', occurredOn: '2020-03-20', mode: 'in-person' })], [], rules2020, '2020-03-21');
    expect(byId(old.deadlines, 'follow-up-conversation-1').mode).toBe('in-person');
  });
});

describe('the end of a case (T15, T16)', () => {
  test('recovery closes the case and drops deadlines not yet due', () => {
    const t = computeTimeline(facts(), [event({ type: 'recovered', occurredOn: '2020-03-10' })], [], rules2020, '2020-03-11');
    expect(t).toMatchObject({ status: 'closed', closedOn: '2020-03-10', closedReason: 'recovered' });
    expect(t.deadlines).toEqual([]);
  });

  test('job clarification leaves one deadline: the rehabilitation team within 4 weeks', () => {
    const t = computeTimeline(
      facts(),
      [event({ type: 'conversation-held', occurredOn: '2020-03-20', mode: 'in-person', category: 3 }), event({ type: 'rehabilitation-team-held', occurredOn: '2020-04-10' }), event({ type: 'reassessment-decided', occurredOn: '2020-08-20', outcome: 'job-clarification' })],
      [],
      rules2020,
      '2020-08-21',
    );
    expect(t.status).toBe('job-clarification');
    expect(byId(t.deadlines, 'reassessment-1')).toMatchObject({ status: 'met', metOn: '2020-08-20' });
    expect(byId(t.deadlines, 'job-clarification-rehabilitation-team')).toMatchObject({ dueDate: '2020-09-17', status: 'pending' });
    expect(t.deadlines.filter((d) => d.status === 'pending').map((d) => d.id)).toEqual(['job-clarification-rehabilitation-team']);
  });

  test('an extension under § 27 nr. 3 sets the next reassessment at its end', () => {
    const t = computeTimeline(
      facts(),
      [event({ type: 'reassessment-decided', occurredOn: '2020-08-25', outcome: 'extension', ground: '3', until: '2021-03-31' })],
      [],
      rules2020,
      '2020-09-01',
    );
    expect(t.extension).toEqual({ ground: '3', until: '2021-03-31' });
    expect(byId(t.deadlines, 'reassessment-2')).toMatchObject({ dueDate: '2021-03-31', status: 'pending' });
  });
});
