import { MUNICIPALITIES, regionOf } from './municipalities';
import { type PolicyRevision, type PolicyScope } from './types';

/**
 * Which cases a policy revision reaches, and how. A revision covers its `scope` with its own dates, and the
 * municipalities in `endedFor` with its effects ending on that entry's date: a revision that narrows a
 * policy says when the policy ends for the cases it leaves (README, Policy changes). The engine, the case
 * workflow, inheritance at start, the fan-out and verify all read coverage from here.
 */
export function scopeCovers(scope: PolicyScope, municipality: string): boolean {
  switch (scope.type) {
    case 'all':
      return true;
    case 'municipalities':
      return scope.municipalities.includes(municipality);
    case 'regions': {
      const region = regionOf(municipality);
      return region !== undefined && scope.regions.includes(region);
    }
  }
}

/**
 * The revision as it applies to a case in `municipality`: itself within its scope; within `endedFor`, the
 * same revision ending on the entry's date (or its own end, if earlier); null where it does not reach.
 */
export function revisionFor(p: PolicyRevision, municipality: string): PolicyRevision | null {
  if (scopeCovers(p.scope, municipality)) return p;
  const ending = (p.endedFor ?? []).find((e) => scopeCovers(e.scope, municipality));
  if (!ending) return null;
  const effectiveTo = p.effectiveTo && p.effectiveTo < ending.effectiveTo ? p.effectiveTo : ending.effectiveTo;
  return { ...p, effectiveTo };
}

/** Whether the revision reaches a case in `municipality` at all (scope or endedFor). */
export function revisionCovers(p: PolicyRevision, municipality: string): boolean {
  return revisionFor(p, municipality) !== null;
}

/** The municipality codes a revision reaches, or null for all of them. */
export function coveredMunicipalities(p: Pick<PolicyRevision, 'scope' | 'endedFor'>): string[] | null {
  if (p.scope.type === 'all') return null;
  return Object.keys(MUNICIPALITIES).filter((code) => scopeCovers(p.scope, code) || (p.endedFor ?? []).some((e) => scopeCovers(e.scope, code)));
}

/**
 * The municipalities that `previous` reaches and `next` does not: publishing `next` would leave those cases
 * following `previous` for ever, so it is refused until they are in `next`'s scope or `endedFor`.
 */
export function droppedMunicipalities(previous: PolicyRevision, next: PolicyRevision): string[] {
  return Object.keys(MUNICIPALITIES).filter((code) => revisionCovers(previous, code) && !revisionCovers(next, code));
}

/**
 * For each `endedFor` entry of `next`, the municipalities it names that no `earlier` revision reached: the
 * policy was never in force there, so "ending" it would start it for those cases (its effects up to the
 * entry's day). Such a revision is refused; a first revision has nothing to end. An earlier revision reaches
 * through its scope or its own endedFor (which, refused otherwise, names only what a revision before it had
 * in scope).
 */
export function unreachedEndings(earlier: readonly PolicyRevision[], next: Pick<PolicyRevision, 'endedFor'>): { index: number; municipalities: string[] }[] {
  return (next.endedFor ?? [])
    .map((ending, index) => ({
      index,
      municipalities: Object.keys(MUNICIPALITIES).filter((code) => scopeCovers(ending.scope, code) && !earlier.some((p) => revisionCovers(p, code))),
    }))
    .filter((entry) => entry.municipalities.length > 0);
}
