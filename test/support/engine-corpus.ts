import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { timelineSvg } from '../../api/timeline-svg';
import { addDays } from '../../workflows/domain/dates';
import { canonicalJson } from '../../workflows/domain/fingerprint';
import { ruleSetFor } from '../../workflows/domain/rules';
import { computeTimeline } from '../../workflows/domain/timeline';
import { type CaseEvent, type CaseFacts, type PolicyEffect, type PolicyRevision } from '../../workflows/domain/types';

/**
 * A fixed corpus of generated cases (seeded, so every run and every release draws the same ones) for the engine's
 * golden test (test/unit/engine-golden.test.ts): facts, events of every type and policies with every effect,
 * each computed as of a day. Written so that it compiles against the engine as it was before the effect modules,
 * which recorded test/unit/fixtures/engine-golden.json: in a work tree of that commit with this file copied in,
 * `npx tsc -p tsconfig.json --outDir .build-golden && node .build-golden/test/support/engine-corpus.js OUT.json`.
 */
const SEED = 2405;
const SIZE = 1_500;

const day = (max: number) => fc.integer({ min: 0, max });
const effect: fc.Arbitrary<PolicyEffect> = fc.oneof(
  fc.record({ type: fc.constant('pauseDeadlines' as const), kinds: fc.option(fc.subarray(['first-conversation', 'follow-up-conversation', 'certificate', 'rehabilitation-team', 'reassessment'] as const, { minLength: 1 }).map((k) => [...k]), { nil: undefined }) }),
  fc.record({ type: fc.constant('waiveDeadlines' as const) }),
  fc.record({ type: fc.constant('extendCertificateValidity' as const), months: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ type: fc.constant('switchConversationMode' as const), mode: fc.constantFrom('phone' as const, 'video' as const) }),
) as fc.Arbitrary<PolicyEffect>;
const policy = fc.record({ start: day(300), length: fc.option(day(150), { nil: null }), effects: fc.array(effect, { minLength: 1, maxLength: 2 }), extend: fc.option(fc.integer({ min: 1, max: 12 }), { nil: null }), revision: fc.integer({ min: 1, max: 3 }) });
const event = fc.record({
  day: day(420),
  type: fc.constantFrom('information-form-received', 'categorized', 'fast-track-requested', 'conversation-held', 'certificate-requested', 'certificate-received', 'rehabilitation-team-held', 'extension', 'job-clarification', 'recovered'),
  category: fc.constantFrom(1, 2, 3 as const),
  mode: fc.constantFrom('in-person' as const, 'phone' as const, 'video' as const),
  length: day(200),
});
const caseArb = fc.record({
  first: day(7 * 365).map((d) => addDays('2019-01-01', d)),
  employment: fc.constantFrom('employee' as const, 'unemployed' as const, 'self-employed' as const),
  category: fc.option(fc.constantFrom(1, 2, 3 as const), { nil: undefined }),
  cadence: fc.constantFrom('every-4-weeks' as const, 'four-in-six-months' as const),
  events: fc.array(event, { maxLength: 14 }),
  policies: fc.array(policy, { maxLength: 3 }),
  asOf: day(500),
});

type CaseDraw = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

function build(c: CaseDraw, i: number) {
  const F = c.first;
  const facts: CaseFacts = { caseId: `G-${i}`, citizenRef: `REF-G-${i}`, municipality: '101', firstAbsenceDay: F, employment: c.employment, category: c.category, followUpCadence: c.cadence };
  const events = c.events.map((e, n): CaseEvent => {
    const base = { eventId: `e${n}`, occurredOn: addDays(F, e.day) };
    switch (e.type) {
      case 'categorized':
        return { ...base, type: e.type, category: e.category };
      case 'fast-track-requested':
        return { ...base, type: e.type, requestedBy: 'citizen' };
      case 'conversation-held':
        return { ...base, type: e.type, mode: e.mode };
      case 'certificate-received':
        return { ...base, type: e.type, validUntil: addDays(F, e.day + e.length) };
      case 'extension':
        return { ...base, type: 'reassessment-decided', outcome: 'extension', ground: '1', until: addDays(F, e.day + e.length) } as CaseEvent;
      case 'job-clarification':
        return { ...base, type: 'reassessment-decided', outcome: 'job-clarification' } as CaseEvent;
      default:
        return { ...base, type: e.type } as CaseEvent;
    }
  });
  const policies = c.policies.map((p, n): PolicyRevision => ({
    policyId: `p${n}`,
    revision: p.revision,
    title: `Politik ${n}`,
    effectiveFrom: addDays(F, p.start),
    effectiveTo: p.length === null ? null : addDays(F, p.start + p.length),
    scope: { type: 'all' },
    effects: p.extend === null ? p.effects : [...p.effects, { type: 'extendBenefitPeriod', months: p.extend, reviewPointsFrom: addDays(F, p.start), reviewPointsTo: addDays(F, p.start + 90) } as PolicyEffect],
  }));
  return { facts, events, policies, asOf: addDays(F, c.asOf) };
}

const hash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

/** Each corpus case's timeline and picture, hashed: what the golden file holds. */
export function engineCorpusHashes(): string[] {
  return fc.sample(caseArb, { numRuns: SIZE, seed: SEED }).map((c, i) => {
    const { facts, events, policies, asOf } = build(c, i);
    try {
      const timeline = computeTimeline(facts, events, policies, ruleSetFor(facts.firstAbsenceDay), asOf);
      return `${hash(canonicalJson(timeline))} ${hash(timelineSvg(timeline))}`;
    } catch (err) {
      return `throws ${hash(String((err as Error).message))}`;
    }
  });
}

if (require.main === module) writeFileSync(process.argv[2]!, `${JSON.stringify(engineCorpusHashes())}\n`);
