import { caseworkerPage } from '../../api/caseworker-page';
import { type CaseView } from '../../api/case-service';
import { timelineSvg } from '../../api/timeline-svg';
import { ruleSetById } from '../../workflows/domain/rules';
import { computeTimeline } from '../../workflows/domain/timeline';
import { type PolicyRevision, type Timeline } from '../../workflows/domain/types';
import { event, facts, suspension2020 } from '../support/fixtures';

/** The timeline picture (api/timeline-svg.ts) and the caseworker page; test/browser looks at both in Chromium. */
const rules2020 = ruleSetById('2020');
const benefitExtension: PolicyRevision = {
  policyId: 'covid-benefit-extension',
  revision: 1,
  title: 'Forlængelse af sygedagpengeperioden med 3 måneder',
  effectiveFrom: '2020-03-09',
  scope: { type: 'all' },
  effects: [{ type: 'extendBenefitPeriod', months: 3, reviewPointsFrom: '2020-03-09', reviewPointsTo: '2020-09-30' }],
};
const waiver: PolicyRevision = {
  policyId: 'waiver',
  revision: 1,
  title: 'Certificates waived',
  effectiveFrom: '2020-03-01',
  effectiveTo: '2020-03-31',
  scope: { type: 'all' },
  effects: [{ type: 'waiveDeadlines', kinds: ['certificate'] }],
};

/** A case of the suspended cohort: the first conversation moved 68 days, a certificate waived, one missed, the review point moved. */
const suspended = (): Timeline =>
  computeTimeline(
    facts(),
    [
      event({ type: 'certificate-requested', occurredOn: '2020-03-02' }),
      event({ type: 'certificate-requested', occurredOn: '2020-04-20' }),
      event({ type: 'conversation-held', occurredOn: '2020-06-03', mode: 'phone', category: 2 }),
    ],
    [suspension2020({ effectiveTo: '2020-05-26' }), benefitExtension, waiver],
    rules2020,
    '2020-07-15',
  );

const groups = (svg: string, cls: string) => [...svg.matchAll(new RegExp(`<g class="${cls}"([^>]*)>`, 'g'))].map((m) => m[1]!);
const attr = (attrs: string, name: string) => new RegExp(`${name}="([^"]*)"`).exec(attrs)?.[1];

test('one row per deadline, with its status and its original and current due date', () => {
  const t = suspended();
  const svg = timelineSvg(t);
  const rows = groups(svg, 'deadline');
  expect(rows.map((r) => [attr(r, 'data-id'), attr(r, 'data-status'), attr(r, 'data-original'), attr(r, 'data-due')])).toEqual(
    t.deadlines.map((d) => [d.id, d.status, d.originalDueDate, d.dueDate ?? '']),
  );
  expect(t.deadlines.find((d) => d.id === 'first-conversation')).toMatchObject({ originalDueDate: '2020-03-29', dueDate: '2020-06-05', status: 'met' });
  expect(rows.map((r) => attr(r, 'data-status'))).toEqual(expect.arrayContaining(['met', 'missed', 'waived', 'pending']));
  // Marks: a check where a deadline was met, a cross where one was missed, the hollow original of a moved one.
  expect(svg.match(/class="mark-met"/g)).toHaveLength(t.deadlines.filter((d) => d.metOn).length);
  expect(svg.match(/class="mark-missed"/g)).toHaveLength(t.deadlines.filter((d) => d.status === 'missed').length);
  expect(svg.match(/class="original-due"/g)).toHaveLength(t.deadlines.filter((d) => d.dueDate !== d.originalDueDate).length);
});

test('pause and waiver windows are shaded only on the deadlines they apply to', () => {
  const t = suspended();
  const svg = timelineSvg(t);
  expect(groups(svg, 'policy-window').map((w) => [attr(w, 'data-type'), attr(w, 'data-policy'), attr(w, 'data-from'), attr(w, 'data-to')])).toEqual([
    ['pause', 'covid-suspension', '2020-03-20', '2020-05-26'],
    ['waive', 'waiver', '2020-03-01', '2020-03-31'],
  ]);
  const conversations = t.deadlines.filter((d) => d.kind === 'first-conversation' || d.kind === 'follow-up-conversation').length;
  expect(svg.match(/class="shade-pause"/g)).toHaveLength(conversations);
  expect(svg.match(/class="shade-waive"/g)).toHaveLength(t.deadlines.filter((d) => d.kind === 'certificate').length);
});

test('the review point (and where the rule put it), and today, are marked', () => {
  const svg = timelineSvg(suspended());
  expect(groups(svg, 'review-point').map((g) => attr(g, 'data-date'))).toEqual(['2020-11-30']);
  expect(groups(svg, 'original-review-point').map((g) => attr(g, 'data-date'))).toEqual(['2020-08-31']);
  expect(groups(svg, 'today').map((g) => attr(g, 'data-date'))).toEqual(['2020-07-15']);
  expect(svg).toContain('Revurderingstidspunkt 2020-11-30');
});

test('every text is escaped; no script, no outside reference, no citizen reference', () => {
  const hostile = suspension2020({ title: '</text><script>alert(1)</script><a href="https://evil.example">&' });
  const t = computeTimeline(facts({ caseId: 'SAG<1>' }), [], [hostile], rules2020, '2020-04-01');
  const svg = timelineSvg(t);
  expect(svg).not.toContain('<script');
  expect(svg).not.toContain('evil.example">');
  expect(svg).toContain('&lt;/text&gt;&lt;script&gt;alert(1)&lt;/script&gt;');
  expect(svg).toContain('Sag SAG&lt;1&gt;');
  expect(svg.match(/\s(href|src)="/g)).toBeNull();
  expect(svg).not.toContain(facts().citizenRef);
  // Balanced tags: a rough well-formedness check (the browser test parses it for real).
  const opened = (svg.match(/<(g|svg|text|title|desc|defs|pattern)[\s>]/g) ?? []).length;
  const closed = (svg.match(/<\/(g|svg|text|title|desc|defs|pattern)>/g) ?? []).length;
  expect(opened).toBe(closed);
});

test('the caseworker page shows the picture and one table row per deadline, escaped, without the citizen reference', () => {
  const t = suspended();
  const view: CaseView = { ...t, workflowId: 'sickness-case-x', temporalUiUrl: 'http://localhost:8233/namespaces/default/workflows/sickness-case-x', caseworkerPageUrl: 'http://localhost:3000/caseworker/cases/x' };
  const html = caseworkerPage(view);
  expect(html.match(/<tr class="deadline"/g)).toHaveLength(t.deadlines.length);
  expect(html).toContain('<svg xmlns="http://www.w3.org/2000/svg"');
  expect(html).toContain('Udskudt 68 dage af Delvis suspension af beskæftigelsesindsatsen (covid-suspension rev. 1)');
  expect(html).not.toContain('<script');
  expect(html).not.toContain(facts().citizenRef);
  const hostile = caseworkerPage({ ...view, policies: [{ ...view.policies[0]!, title: '<img src=x onerror=alert(1)>' }] });
  expect(hostile).toContain('&lt;img src=x onerror=alert(1)&gt;');
  expect(hostile).not.toContain('<img');
});
