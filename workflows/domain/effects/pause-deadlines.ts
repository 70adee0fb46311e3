import type { z } from 'zod';
import { type EffectModule, type SchemaParts } from './effect';

/**
 * Pause deadlines (a clock stop, domain.md "Policy effects"): a deadline counts its days around the window,
 * skipping every day inside it; an open window reached before the count is done holds the deadline, with no
 * due date, until the window gets an end. Of the kinds named, or of every kind. A deadline the pause moved
 * carries the policy, so the timeliness report leaves it out.
 */
export const pauseDeadlinesSchema = ({ z, deadlineKinds }: SchemaParts) => z.object({ type: z.literal('pauseDeadlines'), kinds: deadlineKinds }).strict();

export type PauseDeadlines = z.output<ReturnType<typeof pauseDeadlinesSchema>>;

const PAUSE_FILL = '#f6ad55';

export const pauseDeadlines: EffectModule<PauseDeadlines> = {
  schema: pauseDeadlinesSchema,
  labelDa: 'frister i bero',
  engine: {
    windows: (effect, window, add) => add.pause(effect.kinds, window),
  },
  picture: {
    type: 'pause',
    laneName: 'Pause',
    lanePaint: `fill="${PAUSE_FILL}" fill-opacity="0.75"`,
    shade: { kinds: (effect) => (effect.kinds && effect.kinds.length > 0 ? effect.kinds : null), className: 'shade-pause', paint: `fill="${PAUSE_FILL}" fill-opacity="0.3"` },
    legend: { shape: `<rect x="-7" y="-6" width="14" height="12" fill="${PAUSE_FILL}" fill-opacity="0.5"/>`, text: 'pause' },
  },
};
