import { compareCodeUnits } from '../compare';
import { addDays, type IsoDate, maxDate } from '../dates';
import { addWindows } from '../effects';
import { type ModeWindow, type Window, type WindowCollector } from '../effects/effect';
import { revisionFor } from '../policy-scope';
import { type DeadlineKind, type PolicyOnCase, type PolicyRevision } from '../types';

/*
 * The policies a case follows, and their windows: the clock stops, waivers and mode switches their effects
 * add (effects/), merged once per timeline.
 */

/** The windows of a case's policies, by what the engine does with them; '*' holds those of every kind of deadline. */
export interface PolicyWindows {
  pause: Map<DeadlineKind | '*', Window[]>;
  waive: Map<DeadlineKind | '*', Window[]>;
  mode: ModeWindow[];
}

/**
 * The newest revision of each policy, as it applies to the case (policy-scope.ts: within its scope, or
 * ending on its endedFor date); a newest revision that does not reach the case ends the policy for it.
 * Earlier revisions are history.
 */
export function currentRevisions(policies: readonly PolicyRevision[], municipality: string) {
  const latest = new Map<string, PolicyRevision>();
  for (const p of policies) {
    const seen = latest.get(p.policyId);
    if (!seen || p.revision > seen.revision) latest.set(p.policyId, p);
  }
  const current = [...latest.values()]
    .map((p) => revisionFor(p, municipality))
    .filter((p): p is PolicyRevision => p !== null)
    .sort((a, b) => compareCodeUnits(a.effectiveFrom, b.effectiveFrom) || compareCodeUnits(a.policyId, b.policyId));
  const history = [...new Map(policies.map((p) => [`${p.policyId}#${p.revision}`, p])).values()].filter(
    (p) => latest.get(p.policyId)!.revision !== p.revision,
  );
  return { current, history };
}

/** What the effects of the current revisions add, each revision with its own window (none when it ends before it starts). */
export function policyWindows(current: readonly PolicyRevision[]): PolicyWindows {
  const w: PolicyWindows = { pause: new Map(), waive: new Map(), mode: [] };
  const add = (map: Map<DeadlineKind | '*', Window[]>, kinds: readonly DeadlineKind[] | undefined, window: Window) => {
    for (const k of kinds && kinds.length > 0 ? kinds : (['*'] as const)) map.set(k, [...(map.get(k) ?? []), window]);
  };
  const collect: WindowCollector = {
    pause: (kinds, window) => add(w.pause, kinds, window),
    waive: (kinds, window) => add(w.waive, kinds, window),
    mode: (window) => {
      w.mode.push(window);
    },
  };
  for (const p of current) {
    const window = { from: p.effectiveFrom, to: p.effectiveTo ?? null, label: `${p.title} (${p.policyId} rev. ${p.revision})`, policyIds: [p.policyId] };
    if (window.to !== null && window.to < window.from) continue;
    addWindows(p, window, collect);
  }
  return w;
}

export function windowsFor(map: Map<DeadlineKind | '*', Window[]>, kind: DeadlineKind): Window[] {
  return [...(map.get('*') ?? []), ...(map.get(kind) ?? [])];
}

/** The pauses of each kind, merged once per timeline rather than once per deadline. */
export function mergedPauses(windows: PolicyWindows): (kind: DeadlineKind) => Window[] {
  const merged = new Map<DeadlineKind, Window[]>();
  return (kind) => {
    let pauses = merged.get(kind);
    if (!pauses) merged.set(kind, (pauses = mergeWindows(windowsFor(windows.pause, kind))));
    return pauses;
  };
}

/** Overlapping or touching windows become one, so each paused day is skipped once. */
export function mergeWindows(windows: Window[]): Window[] {
  const sorted = [...windows].sort((a, b) => compareCodeUnits(a.from, b.from));
  const merged: Window[] = [];
  for (const w of sorted) {
    const last = merged[merged.length - 1];
    if (last && (last.to === null || addDays(last.to, 1) >= w.from)) {
      last.to = last.to === null || w.to === null ? null : maxDate(last.to, w.to);
      last.label = last.label === w.label ? last.label : `${last.label}; ${w.label}`;
      last.policyIds = [...new Set([...last.policyIds, ...w.policyIds])];
    } else {
      merged.push({ ...w });
    }
  }
  return merged;
}

export const inWindow = (w: Window, date: IsoDate) => date >= w.from && (w.to === null || date <= w.to);

export function modeSwitchOn(windows: PolicyWindows, date: IsoDate) {
  // The latest-starting switch wins when two overlap.
  return [...windows.mode].reverse().find((w) => inWindow(w, date));
}

export function describePolicies(current: PolicyRevision[], history: PolicyRevision[], asOf: IsoDate): PolicyOnCase[] {
  const view = (p: PolicyRevision, state: PolicyOnCase['state']): PolicyOnCase => ({
    policyId: p.policyId,
    revision: p.revision,
    title: p.title,
    effectiveFrom: p.effectiveFrom,
    effectiveTo: p.effectiveTo ?? null,
    state,
    effects: p.effects,
  });
  const stateOf = (p: PolicyRevision): PolicyOnCase['state'] =>
    asOf < p.effectiveFrom ? 'scheduled' : p.effectiveTo != null && asOf > p.effectiveTo ? 'ended' : 'active';
  return [
    ...current.map((p) => view(p, stateOf(p))),
    ...history.map((p) => view(p, 'superseded')),
  ].sort((a, b) => compareCodeUnits(a.policyId, b.policyId) || b.revision - a.revision);
}
