import { describe as details, markdownText, staticDetails, timerSummary } from '../../workflows/case-details';
import { ruleSetById } from '../../workflows/domain/rules';
import { computeTimeline } from '../../workflows/domain/timeline';
import { type CaseEvent, type PolicyRevision } from '../../workflows/domain/types';
import { event, facts, suspension2020 } from '../support/fixtures';

/**
 * The markdown a caseworker reads in the Temporal UI (workflows/case-details.ts). UI 2.42.1 keeps no line
 * break inside a paragraph and starts a list only after a blank line, so every line meant to stand alone is a
 * list item; test/browser checks the same in Chromium.
 */
const rules2020 = ruleSetById('2020');
const timeline = (events: CaseEvent[] = [], policies: PolicyRevision[] = [], asOf = '2020-06-01', overrides = {}) =>
  computeTimeline(facts(overrides), events, policies, rules2020, asOf);
const lines = (markdown: string) => markdown.split('\n');

/** Every list starts after a blank line or another list item: otherwise the UI runs it into the paragraph. */
function expectListsRender(markdown: string) {
  const all = lines(markdown);
  all.forEach((line, i) => {
    if (line.startsWith('- ') && i > 0) expect([all[i - 1] === '', all[i - 1]!.startsWith('- ')]).toContain(true);
  });
}

test('each open deadline is one list item: status, due date, days late, mode', () => {
  const t = timeline([event({ type: 'certificate-requested', occurredOn: '2020-03-02' })], [], '2020-04-10');
  const md = details(t);
  expectListsRender(md);
  expect(lines(md)).toContain('- **Lægeattest \\(LÆ 285\\)** · **overskredet** · senest 2020-03-16 · 25 dage over');
  expect(lines(md)).toContain('- **Første opfølgningssamtale** · **overskredet** · senest 2020-03-29 · 12 dage over · personligt fremmøde');
  expect(lines(md)).toContain('- **Revurdering** · afventer · senest 2020-08-31');
  expect(md.startsWith('**Sag SAG\\-2020\\-0001** · København (101) · første fraværsdag 2020-02-03\n\n- Status: **åben**')).toBe(true);
});

test('a moved deadline says where the rule put it and which policy moved it', () => {
  const md = details(timeline([], [suspension2020({ effectiveTo: '2020-05-26' })]));
  expect(lines(md)).toContain(
    '- **Første opfølgningssamtale** · afventer · senest 2020-06-05 (oprindelig 2020-03-29) · personligt fremmøde · ' +
      'Udskudt 68 dage af Delvis suspension af beskæftigelsesindsatsen \\(covid\\-suspension rev\\. 1\\)',
  );
});

test('a paused case: no date until the pause has an end, and the policy in force', () => {
  const md = details(timeline([], [suspension2020()], '2020-04-01'));
  expect(lines(md)).toContain(
    '- **Første opfølgningssamtale** · i bero · uden dato, til pausen får en slutdato (oprindelig 2020-03-29) · personligt fremmøde · ' +
      'Sat i bero af Delvis suspension af beskæftigelsesindsatsen \\(covid\\-suspension rev\\. 1\\) indtil en slutdato kendes',
  );
  expect(md).toContain('\n\n**Politikændringer**\n\n- Delvis suspension af beskæftigelsesindsatsen (covid\\-suspension rev. 1) · i kraft fra 2020-03-20, uden slutdato');
  expectListsRender(md);
});

test('a closed case says when and why it ended; met deadlines are counted', () => {
  const t = timeline(
    [event({ type: 'conversation-held', occurredOn: '2020-03-20', mode: 'in-person', category: 1 }), event({ type: 'recovered', occurredOn: '2020-04-02' })],
    [],
    '2020-04-10',
  );
  const md = details(t);
  expect(md).toContain('- Status: **afsluttet 2020-04-02 (raskmeldt)** · kategori 1');
  expect(lines(md)).toContain('- Ingen åbne frister');
  expect(lines(md)).toContain('- 1 frist opfyldt (se tidslinjen)');
});

test('a case in job clarification shows the rehabilitation team due within 4 weeks', () => {
  const t = timeline(
    [
      event({ type: 'conversation-held', occurredOn: '2020-03-20', mode: 'in-person', category: 2 }),
      event({ type: 'conversation-held', occurredOn: '2020-04-15', mode: 'phone' }),
      event({ type: 'reassessment-decided', occurredOn: '2020-05-10', outcome: 'job-clarification' }),
    ],
    [],
    '2020-05-20',
  );
  const md = details(t);
  expect(md).toContain('- Status: **overgået til jobafklaringsforløb** · kategori 2');
  expect(lines(md)).toContain('- **Rehabiliteringsteam** · afventer · senest 2020-06-07');
  expect(lines(md)).toContain('- 3 frister opfyldt (se tidslinjen)');
});

test('follow-up conversations are numbered; the link to the caseworker page ends the details', () => {
  const t = timeline([event({ type: 'conversation-held', occurredOn: '2020-03-20', mode: 'video', category: 2 })], [], '2020-04-01');
  const md = details(t, { caseworkerPageUrl: 'https://api.example.dk/caseworker/cases/SAG-2020-0001' });
  expect(lines(md)).toContain('- **Opfølgningssamtale 1** · afventer · senest 2020-04-17 · personligt fremmøde');
  expect(md.endsWith('\n\n[Tidslinje og alle frister](https://api.example.dk/caseworker/cases/SAG-2020-0001)\n\n\u00a0')).toBe(true);
  expect(details(t, { caseworkerPageUrl: 'http://x/a b(c)' })).toContain('(http://x/a%20b%28c%29)');
});

test('free text from a policy cannot become a link, emphasis or HTML', () => {
  const hostile = suspension2020({ title: '[klik](javascript:alert(1)) <img src=x> *fed*' });
  const md = details(timeline([], [hostile], '2020-04-01'));
  expect(md).toContain('\\[klik\\]\\(javascript:alert\\(1\\)\\) \\<img src=x\\> \\*fed\\*');
  expect(md).not.toContain('[klik]');
  expect(markdownText('a_b|c')).toBe('a\\_b\\|c');
});

test('neither details nor static details carry the citizen reference', () => {
  const f = facts();
  expect(details(timeline([], [suspension2020()]), { caseworkerPageUrl: 'http://localhost:3000/caseworker/cases/x' })).not.toContain(f.citizenRef);
  const fixed = staticDetails(f, { caseworkerPageUrl: 'http://localhost:3000/caseworker/cases/SAG-2020-0001' });
  expect(fixed).not.toContain(f.citizenRef);
  expect(lines(fixed)).toEqual([
    '- Ansættelse: lønmodtager',
    '- Frister, status og politikændringer nu: **Current Details**',
    '- [Tidslinje og alle frister](http://localhost:3000/caseworker/cases/SAG-2020-0001)',
    '',
    '\u00a0',
  ]);
});

test('a timer says what it waits for: a deadline running out, a policy starting or ending', () => {
  const t = timeline([], [suspension2020({ effectiveFrom: '2020-04-01', effectiveTo: '2020-04-30' })], '2020-03-01');
  expect(timerSummary(t, '2020-03-30')).toBe('Første opfølgningssamtale senest 2020-03-29 · overskredet fra 2020-03-30, hvis ikke opfyldt');
  expect(timerSummary(t, '2020-04-01')).toBe('Politikændring træder i kraft 2020-04-01: Delvis suspension af beskæftigelsesindsatsen');
  expect(timerSummary(t, '2020-05-01')).toBe('Politikændring ophører 2020-05-01: Delvis suspension af beskæftigelsesindsatsen');
  expect(timerSummary(t, '2020-07-01')).toBe('Sagen genberegnes 2020-07-01');
});
