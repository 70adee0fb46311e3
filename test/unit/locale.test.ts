import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { compareCodeUnits, compareNatural } from '../../workflows/domain/compare';
import { type Timeline } from '../../workflows/domain/types';
import { facts } from '../support/fixtures';

/**
 * The engine computes one timeline for a case wherever it runs: a worker under LANG=da_DK.UTF-8 and an API
 * or a replay under LANG=C agree. Each run is a fresh Node process with the locale in its environment (Node
 * takes its default ICU locale from LANG and LC_ALL when it starts), loading the engine's TypeScript through
 * @swc/core as Jest does.
 */
const root = path.resolve(__dirname, '..', '..');

const child = `
const fs = require('node:fs');
const swc = require('@swc/core');
require.extensions['.ts'] = (module, filename) => {
  const { code } = swc.transformSync(fs.readFileSync(filename, 'utf8'), {
    filename,
    jsc: { target: 'es2022', parser: { syntax: 'typescript' } },
    module: { type: 'commonjs' },
  });
  module._compile(code, filename);
};
const { computeTimeline } = require('./workflows/domain/timeline.ts');
const { ruleSetById } = require('./workflows/domain/rules.ts');
const { facts, events, policies, ruleSetId, asOf } = JSON.parse(process.argv[1]);
const collated = ['aa', 'z'].sort((a, b) => a.localeCompare(b));
process.stdout.write(JSON.stringify({ collated, timeline: computeTimeline(facts, events, policies, ruleSetById(ruleSetId), asOf) }));
`;

function runUnder(locale: string, input: unknown): { collated: string[]; timeline: Timeline } {
  const out = execFileSync(process.execPath, ['-e', child, JSON.stringify(input)], {
    cwd: root,
    env: { PATH: process.env.PATH, LANG: locale, LC_ALL: locale },
    encoding: 'utf8',
  });
  return JSON.parse(out) as { collated: string[]; timeline: Timeline };
}

// Two policies that switch the conversation mode from the same day: the one later in the engine's order of
// policy ids wins. Danish collation puts "aa" after "z" (as "å"); code-unit order puts it first.
const remote = (policyId: string, mode: 'phone' | 'video') => ({
  policyId,
  revision: 1,
  title: `Samtaler pr. ${mode}`,
  effectiveFrom: '2020-03-20',
  effectiveTo: null,
  scope: { type: 'all' },
  effects: [{ type: 'switchConversationMode', mode }],
});
const input = {
  facts: facts(),
  events: [],
  policies: [remote('aabenraa-phone', 'phone'), remote('zealand-video', 'video')],
  ruleSetId: '2020',
  asOf: '2020-04-01',
};

test('the engine gives the same timeline under LANG=da_DK.UTF-8 and LANG=C, where Danish collation orders the policy ids differently', () => {
  const danish = runUnder('da_DK.UTF-8', input);
  const plain = runUnder('C', input);
  // The two processes do collate differently: the difference the engine must not depend on.
  expect(danish.collated).toEqual(['z', 'aa']);
  expect(plain.collated).toEqual(['aa', 'z']);

  expect(danish.timeline).toEqual(plain.timeline);
  // Code-unit order: "aabenraa-phone" before "zealand-video", so the video switch is the later one and wins.
  expect(plain.timeline.conversationMode).toBe('video');
  expect(plain.timeline.policies.map((p) => p.policyId)).toEqual(['aabenraa-phone', 'zealand-video']);
  expect(plain.timeline.deadlines.find((d) => d.id === 'first-conversation')).toMatchObject({ dueDate: '2020-03-29', mode: 'video' });
});

test('code-unit order does not depend on the locale: uppercase before lowercase, "aa" before "z", digits before ":" and "_"', () => {
  expect(['z', 'aa', 'b', 'B', 'a_1', 'a:1', 'a1', 'a-1'].sort(compareCodeUnits)).toEqual(['B', 'a-1', 'a1', 'a:1', 'a_1', 'aa', 'b', 'z']);
  expect(compareCodeUnits('2020-03-20', '2020-03-20')).toBe(0);
  expect(compareCodeUnits('2020-03-20', '9999')).toBe(-1);
});

test('natural order compares runs of digits by their value: certificate-renewal-2 before certificate-renewal-10', () => {
  const ids = ['certificate-renewal-10', 'certificate-renewal-2', 'certificate-renewal-1', 'certificate-renewal-11', 'certificate-renewal-9'];
  expect([...ids].sort(compareNatural)).toEqual(['certificate-renewal-1', 'certificate-renewal-2', 'certificate-renewal-9', 'certificate-renewal-10', 'certificate-renewal-11']);
  expect(compareNatural('a-02', 'a-2')).toBe(-1);
  expect(compareNatural('a-2', 'a-02')).toBe(1);
  expect(compareNatural('a-2', 'a-2')).toBe(0);
  expect(compareNatural('a-2', 'a-2b')).toBe(-1);
  expect(compareNatural('a-10x', 'a-9y')).toBe(1);
  expect(compareNatural('B1', 'a1')).toBe(-1);
});
