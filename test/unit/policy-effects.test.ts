import { timelineSvg } from '../../api/timeline-svg';
import { type CertificateValidity, type ModeWindow, type ReviewPoint, type Window, type WindowCollector } from '../../workflows/domain/effects/effect';
import { addWindows, drawing, EFFECT_TYPES, EFFECTS, effectLabelDa, PICTURE_LEGEND } from '../../workflows/domain/effects';
import { ruleSetById } from '../../workflows/domain/rules';
import { policyEffectSchema, policyRevisionSchema } from '../../workflows/domain/schemas';
import { computeTimeline } from '../../workflows/domain/timeline';
import { type DeadlineKind, type PolicyEffect, type PolicyRevision } from '../../workflows/domain/types';
import { event, facts } from '../support/fixtures';

/** The policy effects (workflows/domain/effects/): one module each, with its schema, engine part, label and picture. */

/** One example of every effect; the type fails to compile when an effect is added without one. */
const EXAMPLES: { [T in PolicyEffect['type']]: Extract<PolicyEffect, { type: T }> } = {
  pauseDeadlines: { type: 'pauseDeadlines', kinds: ['first-conversation'] },
  waiveDeadlines: { type: 'waiveDeadlines' },
  extendCertificateValidity: { type: 'extendCertificateValidity', months: 2 },
  switchConversationMode: { type: 'switchConversationMode', mode: 'video' },
  extendBenefitPeriod: { type: 'extendBenefitPeriod', months: 3, reviewPointsFrom: '2020-03-09', reviewPointsTo: '2020-06-30' },
};

const policy = (effect: PolicyEffect, overrides: Partial<PolicyRevision> = {}): PolicyRevision => ({
  policyId: 'p',
  revision: 2,
  title: 'Politik',
  effectiveFrom: '2020-03-20',
  effectiveTo: '2020-05-26',
  scope: { type: 'all' },
  effects: [effect],
  ...overrides,
});

const window: Window = { from: '2020-03-20', to: '2020-05-26', label: 'Politik (p rev. 2)', policyIds: ['p'] };

/** The windows an effect adds, as the engine collects them. */
function windowsOf(effect: PolicyEffect) {
  const added: { pause: [readonly DeadlineKind[] | undefined, Window][]; waive: [readonly DeadlineKind[] | undefined, Window][]; mode: ModeWindow[] } = { pause: [], waive: [], mode: [] };
  const add: WindowCollector = {
    pause: (kinds, w) => added.pause.push([kinds, w]),
    waive: (kinds, w) => added.waive.push([kinds, w]),
    mode: (w) => added.mode.push(w),
  };
  addWindows(policy(effect), window, add);
  return added;
}

test('every effect has a module, and each module parses its own example', () => {
  expect([...EFFECT_TYPES].sort()).toEqual(Object.keys(EXAMPLES).sort());
  for (const example of Object.values(EXAMPLES)) {
    expect(policyEffectSchema.parse(example)).toEqual(example);
    expect(effectLabelDa(example)).toMatch(/^[a-zæøå ]+$/);
  }
});

test('an unknown effect is refused with the names of all effects', () => {
  const result = policyRevisionSchema.safeParse(policy({ type: 'shortenDeadlines' } as unknown as PolicyEffect));
  expect(result.success).toBe(false);
  expect(result.error!.issues[0]!.message).toBe(
    'unknown effect: use pauseDeadlines, waiveDeadlines, extendCertificateValidity, switchConversationMode or extendBenefitPeriod',
  );
});

test('a pause and a waiver add their window for the kinds they name, a mode switch its mode', () => {
  expect(windowsOf(EXAMPLES.pauseDeadlines)).toEqual({ pause: [[['first-conversation'], window]], waive: [], mode: [] });
  expect(windowsOf(EXAMPLES.waiveDeadlines)).toEqual({ pause: [], waive: [[undefined, window]], mode: [] });
  expect(windowsOf(EXAMPLES.switchConversationMode)).toEqual({ pause: [], waive: [], mode: [{ ...window, mode: 'video', consentRequired: false }] });
  expect(windowsOf(EXAMPLES.extendBenefitPeriod)).toEqual({ pause: [], waive: [], mode: [] });
});

test('a benefit extension moves a review point in its range by whole months, to the end of the month', () => {
  const move = EFFECTS.extendBenefitPeriod.engine.reviewPoint!;
  const p = policy(EXAMPLES.extendBenefitPeriod);
  const at = (original: string): ReviewPoint => ({ original, date: original, reasons: ['T12'], movedBy: [] });
  expect(move(EXAMPLES.extendBenefitPeriod, p, at('2020-04-30'))).toEqual({
    original: '2020-04-30',
    date: '2020-07-31',
    reasons: ['T12', 'Forlænget 3 måneder af Politik (p rev. 2)'],
    movedBy: ['p'],
  });
  expect(move(EXAMPLES.extendBenefitPeriod, p, at('2020-07-31'))).toEqual(at('2020-07-31'));
  expect(move(EXAMPLES.extendBenefitPeriod, p, at('2020-02-29'))).toEqual(at('2020-02-29'));
});

test('a certificate extension lengthens certificates valid when it begins and received by its end', () => {
  const extend = EFFECTS.extendCertificateValidity.engine.certificate!;
  const certificate = (receivedOn: string, original: string): CertificateValidity => ({ receivedOn, original, validUntil: original, reasons: ['T11'], extendedBy: [] });
  const byMonths = EXAMPLES.extendCertificateValidity;
  const byDays = { type: 'extendCertificateValidity', days: 30 } as const;
  const p = policy(byMonths);
  expect(extend(byMonths, p, certificate('2020-01-10', '2020-04-09'))).toMatchObject({ validUntil: '2020-06-09', extendedBy: ['p'], reasons: ['T11', 'Gyldighed forlænget af Politik (p rev. 2)'] });
  expect(extend(byDays, p, certificate('2020-05-26', '2020-08-24'))).toMatchObject({ validUntil: '2020-09-23', extendedBy: ['p'] });
  // Expired before the policy began, or received after it ended: unchanged.
  expect(extend(byMonths, p, certificate('2019-12-01', '2020-03-19'))).toEqual(certificate('2019-12-01', '2020-03-19'));
  expect(extend(byMonths, p, certificate('2020-05-27', '2020-08-25'))).toEqual(certificate('2020-05-27', '2020-08-25'));
});

test('pauses, waivers and mode switches are drawn, the others are not; a pause of no named kind shades every row', () => {
  expect(drawing(EXAMPLES.pauseDeadlines)).toMatchObject({ type: 'pause', laneName: 'Pause', shade: { kinds: ['first-conversation'], className: 'shade-pause' } });
  expect(drawing({ type: 'pauseDeadlines', kinds: [] })!.shade!.kinds).toBeNull();
  expect(drawing(EXAMPLES.waiveDeadlines)).toMatchObject({ type: 'waive', laneName: 'Frafald', shade: { kinds: null, className: 'shade-waive' } });
  expect(drawing(EXAMPLES.switchConversationMode)).toMatchObject({ type: 'mode', laneName: 'Samtaleform', shade: null });
  expect(drawing(EXAMPLES.extendCertificateValidity)).toBeNull();
  expect(drawing(EXAMPLES.extendBenefitPeriod)).toBeNull();
  expect(PICTURE_LEGEND.map((l) => l.text)).toEqual(['pause', 'frafald', 'samtaleform skiftet']);
});

test('the picture has a lane for each drawn effect of a policy the case follows', () => {
  const t = computeTimeline(
    facts(),
    [event({ type: 'certificate-received', occurredOn: '2020-03-02' })],
    [policy(EXAMPLES.pauseDeadlines, { policyId: 'a' }), policy(EXAMPLES.switchConversationMode, { policyId: 'b' }), policy(EXAMPLES.extendCertificateValidity, { policyId: 'c' })],
    ruleSetById('2020'),
    '2020-04-01',
  );
  const lanes = [...timelineSvg(t).matchAll(/<g class="policy-window" data-type="(\w+)" data-policy="(\w+)"/g)].map((m) => `${m[1]}:${m[2]}`);
  expect(lanes).toEqual(['pause:a', 'mode:b']);
  expect(t.deadlines.find((d) => d.kind === 'certificate-renewal')).toMatchObject({ originalDueDate: '2020-05-31', dueDate: '2020-07-31', policyIds: ['c'] });
});
