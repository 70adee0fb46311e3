import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { CASE_EVENT_TYPES, type CaseEvent, type PolicyEffect, type PolicyRevision } from '../../workflows/domain/types';
import { bundleCaseWorkflows, quietRuntime } from '../support/servers';

/**
 * Replays every stored history of the case workflow against the current code: the single histories of
 * each released version (histories/, `npm run histories:record -- <version>`) and the replay corpus
 * (corpus/<version>/, `npm run histories:record -- corpus <version>`), a cohort whose histories hold every
 * event type and every policy effect. A change that would make running cases fail on replay (a
 * non-determinism error) fails here; guard such changes with patched(), a rule fix included (README, Safe
 * deploys), and record new histories when a version is released.
 */
const dir = path.join(__dirname, 'histories');
const corpusDir = path.join(__dirname, 'corpus');
const files = readdirSync(dir).filter((f) => f.endsWith('.binpb')).sort();
const corpus = readdirSync(corpusDir).flatMap((version) =>
  readdirSync(path.join(corpusDir, version))
    .filter((f) => f.endsWith('.binpb'))
    .sort()
    .map((f) => `${version}/${f}`),
);
const load = (file: string) => temporal.api.history.v1.History.decode(readFileSync(file));

test('there are stored histories and a corpus to replay', () => {
  expect(files.length).toBeGreaterThan(0);
  expect(corpus.length).toBeGreaterThanOrEqual(5);
});

let bundle: Promise<{ code: string }> | undefined;
const replay = async (history: temporal.api.history.v1.History, id: string) => {
  quietRuntime();
  bundle ??= bundleCaseWorkflows();
  // The sink is registered as in the worker's past versions; a replay calls none (callDuringReplay: false).
  const sinks = { readModel: { write: { fn: () => undefined, callDuringReplay: false } } };
  await Worker.runReplayHistory({ workflowBundle: await bundle, sinks }, history, id);
};

test.each(files)('%s replays without non-determinism', async (file) => {
  const history = load(path.join(dir, file));
  expect(history.events.length).toBeGreaterThan(20);
  await replay(history, file.replace(/\.binpb$/, ''));
});

test.each(corpus)('corpus %s replays without non-determinism', async (file) => {
  const history = load(path.join(corpusDir, file));
  expect(history.events.length).toBeGreaterThan(20);
  await replay(history, file.replace(/\.binpb$/, '').replace('/', '-'));
});

/** Every policy effect there is: the type below fails to compile when an effect is added and not listed. */
const EFFECT_TYPES = ['pauseDeadlines', 'waiveDeadlines', 'extendCertificateValidity', 'switchConversationMode', 'extendBenefitPeriod'] as const;
const everyEffectListed: Exclude<PolicyEffect['type'], (typeof EFFECT_TYPES)[number]> extends never ? true : false = true;

test.each(readdirSync(corpusDir))('corpus %s covers every event type, every policy effect and every kind of message', (version) => {
  expect(everyEffectListed).toBe(true);
  const seen = { events: new Set<string>(), effects: new Set<string>(), messages: new Set<string>(), continuedAsNew: 0, activityRetries: 0, lifted: 0, revised: 0 };
  const values = (payloads: Payload[] | null | undefined) => (payloads ?? []).map((p) => defaultPayloadConverter.fromPayload<unknown>(p));
  const addPolicy = (p: PolicyRevision) => {
    for (const e of p.effects) seen.effects.add(e.type);
    if (p.effectiveTo) seen.lifted++;
    if (p.revision > 1) seen.revised++;
  };
  const addEvent = (e: CaseEvent) => seen.events.add(e.type === 'reassessment-decided' ? `${e.type}:${e.outcome}` : e.type);
  for (const file of readdirSync(path.join(corpusDir, version))) {
    for (const event of load(path.join(corpusDir, version, file)).events) {
      const update = event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input;
      const signal = event.workflowExecutionSignaledEventAttributes;
      const started = event.workflowExecutionStartedEventAttributes;
      for (const [name, args] of [
        [update?.name, values(update?.args?.payloads as Payload[])],
        [signal?.signalName, values(signal?.input?.payloads as Payload[])],
      ] as const) {
        if (!name) continue;
        seen.messages.add(`${update ? 'update' : 'signal'}:${name}`);
        if (name === 'reportEvent' || name === 'caseEvent') addEvent(args[0] as CaseEvent);
        if (name === 'applyPolicy' || name === 'policyChange') addPolicy(args[0] as PolicyRevision);
      }
      if (started) {
        const [input] = values(started.input?.payloads as Payload[]) as [{ events?: CaseEvent[]; policies?: PolicyRevision[] }];
        (input.events ?? []).forEach(addEvent);
        (input.policies ?? []).forEach(addPolicy);
      }
      if (event.workflowExecutionContinuedAsNewEventAttributes) seen.continuedAsNew++;
      if ((event.activityTaskStartedEventAttributes?.attempt ?? 1) > 1) seen.activityRetries++;
    }
  }
  const expectedEvents = CASE_EVENT_TYPES.flatMap((t) => (t === 'reassessment-decided' ? [`${t}:extension`, `${t}:job-clarification`] : [t]));
  expect([...seen.events].sort()).toEqual([...expectedEvents].sort());
  expect([...seen.effects].sort()).toEqual([...EFFECT_TYPES].sort());
  expect([...seen.messages].sort()).toEqual(['signal:caseEvent', 'signal:policyChange', 'update:applyPolicy', 'update:reportEvent']);
  expect(seen.continuedAsNew).toBeGreaterThanOrEqual(1);
  expect(seen.activityRetries).toBeGreaterThanOrEqual(1);
  expect(seen.lifted).toBeGreaterThanOrEqual(1);
  expect(seen.revised).toBeGreaterThanOrEqual(1);
});
