import { compareCodeUnits } from '../workflows/domain/compare';

/**
 * A canonical JSON form for "is this the same request again?": object keys sorted at every depth, absent
 * and null fields left out, so a repeated case start or policy revision compares equal however it was
 * written. Keys sort by code unit, the same on every host.
 */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>)
            .filter(([, x]) => x !== undefined && x !== null)
            .sort(([a], [b]) => compareCodeUnits(a, b)),
        )
      : v,
  );
}
