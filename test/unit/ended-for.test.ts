import { MUNICIPALITIES, type Region } from '../../workflows/domain/municipalities';
import { unreachedEndings } from '../../workflows/domain/policy-scope';
import { type PolicyRevision, type PolicyScope } from '../../workflows/domain/types';

const revision = (n: number, scope: PolicyScope, endedFor?: PolicyRevision['endedFor']): PolicyRevision => ({
  policyId: 'remote',
  revision: n,
  title: 'Samtaler pr. telefon',
  effectiveFrom: '2020-03-20',
  effectiveTo: null,
  scope,
  effects: [{ type: 'switchConversationMode', mode: 'phone' }],
  ...(endedFor ? { endedFor } : {}),
});
const municipalities = (...codes: string[]): PolicyScope => ({ type: 'municipalities', municipalities: codes });
const regions = (...names: Region[]): PolicyScope => ({ type: 'regions', regions: names });
const hovedstaden = Object.entries(MUNICIPALITIES)
  .filter(([, m]) => m.region === 'Hovedstaden')
  .map(([code]) => code);

test('endedFor may name only municipalities an earlier revision reached: 147 after a revision scoped to 101 is named', () => {
  const rev2 = revision(2, municipalities('101'), [{ scope: municipalities('147'), effectiveTo: '2020-05-26' }]);
  expect(unreachedEndings([revision(1, municipalities('101'))], rev2)).toEqual([{ index: 0, municipalities: ['147'] }]);
  expect(unreachedEndings([revision(1, municipalities('101', '147'))], rev2)).toEqual([]);
  // Reached through a region of an earlier scope, or through the scope of any earlier revision, not only the newest.
  expect(unreachedEndings([revision(1, regions('Hovedstaden'))], rev2)).toEqual([]);
  expect(unreachedEndings([revision(2, municipalities('101')), revision(1, { type: 'all' })], rev2)).toEqual([]);
});

test('a first revision has nothing to end: every municipality its endedFor names is named', () => {
  const first = revision(1, municipalities('851'), [
    { scope: municipalities('860'), effectiveTo: '2020-05-26' },
    { scope: regions('Hovedstaden'), effectiveTo: '2020-05-26' },
  ]);
  expect(unreachedEndings([], first)).toEqual([
    { index: 0, municipalities: ['860'] },
    { index: 1, municipalities: hovedstaden },
  ]);
  expect(unreachedEndings([], revision(1, municipalities('851')))).toEqual([]);
});

test('a region in endedFor names only its municipalities no earlier revision reached', () => {
  const rev2 = revision(2, municipalities('851'), [{ scope: regions('Hovedstaden'), effectiveTo: '2020-05-26' }]);
  const [entry] = unreachedEndings([revision(1, municipalities('851', '101', '147'))], rev2);
  expect(entry).toEqual({ index: 0, municipalities: hovedstaden.filter((code) => code !== '101' && code !== '147') });
  expect(entry!.municipalities).toHaveLength(hovedstaden.length - 2);
});

test("an earlier revision's own endedFor counts as reached, so the next revision can keep ending the policy there", () => {
  const rev1 = revision(1, municipalities('101', '147'));
  const rev2 = revision(2, municipalities('101'), [{ scope: municipalities('147'), effectiveTo: '2020-05-26' }]);
  const rev3 = revision(3, municipalities('101'), [{ scope: municipalities('147'), effectiveTo: '2020-05-20' }]);
  expect(unreachedEndings([rev2, rev1], rev3)).toEqual([]);
  expect(unreachedEndings([rev2], rev3)).toEqual([]);
});
