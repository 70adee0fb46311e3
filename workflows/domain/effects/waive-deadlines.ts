import type { z } from 'zod';
import { type EffectModule, type SchemaParts } from './effect';

/**
 * Waive deadlines (the duty does not apply, domain.md "Policy effects"): a deadline of the kinds named (or of
 * every kind) that falls due inside the window and is not met by then is waived, not missed, and the next
 * conversation counts from the window's end. A waived deadline carries the policy, so the timeliness report
 * leaves it out.
 */
export const waiveDeadlinesSchema = ({ z, deadlineKinds }: SchemaParts) => z.object({ type: z.literal('waiveDeadlines'), kinds: deadlineKinds }).strict();

export type WaiveDeadlines = z.output<ReturnType<typeof waiveDeadlinesSchema>>;

const WAIVE_STROKE = '#4a5568';

export const waiveDeadlines: EffectModule<WaiveDeadlines> = {
  schema: waiveDeadlinesSchema,
  labelDa: 'frister frafaldet',
  engine: {
    windows: (effect, window, add) => add.waive(effect.kinds, window),
  },
  picture: {
    type: 'waive',
    laneName: 'Frafald',
    lanePaint: `fill="url(#waived-hatch)" stroke="${WAIVE_STROKE}" stroke-width="0.5"`,
    shade: { kinds: (effect) => (effect.kinds && effect.kinds.length > 0 ? effect.kinds : null), className: 'shade-waive', paint: 'fill="url(#waived-hatch)" fill-opacity="0.6"' },
    legend: { shape: '<rect x="-7" y="-6" width="14" height="12" fill="url(#waived-hatch)"/>', text: 'frafald' },
    defs:
      '<pattern id="waived-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">' +
      `<rect width="6" height="6" fill="#e2e8f0"/><line x1="0" y1="0" x2="0" y2="6" stroke="${WAIVE_STROKE}" stroke-width="2" stroke-opacity="0.7"/></pattern>`,
  },
};
