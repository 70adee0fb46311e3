import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ruleSetById } from '../../workflows/domain/rules';
import { coveredMunicipalities, droppedMunicipalities, revisionFor } from '../../workflows/domain/policy-scope';
import { computeTimeline } from '../../workflows/domain/timeline';
import { type CaseFacts, type PolicyRevision } from '../../workflows/domain/types';
import { missingRevisionQuery } from '../../workflows/policy-queries';

/** Which cases a revision reaches, and how a revision that narrows a policy ends it for the cases it leaves. */
const pause: PolicyRevision = {
  policyId: 'covid-suspension',
  revision: 1,
  title: 'Suspension',
  effectiveFrom: '2020-03-20',
  effectiveTo: null,
  scope: { type: 'regions', regions: ['Hovedstaden', 'Midtjylland'] },
  effects: [{ type: 'pauseDeadlines', kinds: ['first-conversation'] }],
};
const narrowed: PolicyRevision = {
  ...pause,
  revision: 2,
  scope: { type: 'regions', regions: ['Hovedstaden'] },
  endedFor: [{ scope: { type: 'regions', regions: ['Midtjylland'] }, effectiveTo: '2020-05-26' }],
};
const facts = (municipality: string): CaseFacts => ({ caseId: `S-${municipality}`, citizenRef: 'REF', municipality, firstAbsenceDay: '2020-02-03', employment: 'employee' });

test('within its scope a revision applies as published; within endedFor it ends on that day; elsewhere it does not reach', () => {
  expect(revisionFor(narrowed, '101')).toBe(narrowed);
  expect(revisionFor(narrowed, '751')).toEqual({ ...narrowed, effectiveTo: '2020-05-26' });
  expect(revisionFor(narrowed, '461')).toBeNull();
  // Its own earlier end wins over the endedFor day.
  expect(revisionFor({ ...narrowed, effectiveTo: '2020-04-30' }, '751')?.effectiveTo).toBe('2020-04-30');
});

test('a revision that leaves municipalities an earlier one reached names them, unless endedFor keeps them', () => {
  const dropped = droppedMunicipalities(pause, { ...narrowed, endedFor: [] });
  expect(dropped).toHaveLength(19);
  expect(dropped).toContain('751');
  expect(dropped).not.toContain('101');
  expect(droppedMunicipalities(pause, narrowed)).toEqual([]);
  // Coverage, and so the fan-out's predicate, still includes the cases it ends for.
  expect(coveredMunicipalities(narrowed)).toHaveLength(29 + 19);
  expect(missingRevisionQuery(narrowed)).toContain("'751'");
  expect(missingRevisionQuery(narrowed)).toMatch(/AND \(PolicyRevisions IS NULL OR PolicyRevisions != 'covid-suspension#2'\)$/);
});

test('the engine ends the pause for Midtjylland on the endedFor day and keeps it open in Hovedstaden (domain.md section 3 example)', () => {
  const rules = ruleSetById('2020');
  const first = (municipality: string, policies: PolicyRevision[]) =>
    computeTimeline(facts(municipality), [], policies, rules, '2020-06-01').deadlines.find((d) => d.id === 'first-conversation')!;
  // F = 2020-02-03, due 2020-03-29; paused 2020-03-20..2020-05-26 (68 days): due 2020-06-05.
  expect(first('751', [pause, narrowed])).toMatchObject({ status: 'pending', dueDate: '2020-06-05' });
  expect(first('101', [pause, narrowed])).toMatchObject({ status: 'paused', dueDate: null });
  // Before revision 2 both are paused; a municipality never reached is untouched.
  expect(first('751', [pause])).toMatchObject({ status: 'paused', dueDate: null });
  expect(first('461', [pause, narrowed])).toMatchObject({ status: 'missed', dueDate: '2020-03-29' });
});

test('the 2020 history publishes the regional reopening as one policy: digital in the east until 14 June, in person elsewhere from 27 May', () => {
  const { publications } = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'fixtures', 'policies-2020.json'), 'utf8')) as { publications: { policy: PolicyRevision }[] };
  const newest = new Map<string, PolicyRevision>();
  for (const { policy } of publications) {
    const previous = newest.get(policy.policyId);
    // Every revision is publishable: none drops a case an earlier one reached.
    if (previous) expect([policy.policyId, droppedMunicipalities(previous, policy)]).toEqual([policy.policyId, []]);
    newest.set(policy.policyId, policy);
  }
  const remote = publications.map((p) => p.policy).filter((p) => p.policyId.startsWith('covid-remote-conversations') && p.effectiveFrom < '2020-09-01');
  expect(new Set(remote.map((p) => p.policyId))).toEqual(new Set(['covid-remote-conversations']));
  const rules = ruleSetById('2020');
  const mode = (municipality: string, asOf: string) => computeTimeline(facts(municipality), [], remote, rules, asOf).conversationMode;
  expect([mode('101', '2020-06-01'), mode('330', '2020-06-01'), mode('751', '2020-06-01'), mode('851', '2020-06-01'), mode('461', '2020-06-01')]).toEqual([
    'phone',
    'phone',
    'in-person',
    'in-person',
    'in-person',
  ]);
  expect(mode('751', '2020-05-20')).toBe('phone');
  expect(mode('101', '2020-06-20')).toBe('in-person');
});
