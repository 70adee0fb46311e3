import type { z } from 'zod';
import { type EffectModule, type SchemaParts } from './effect';

/**
 * Switch conversation mode (domain.md "Policy effects"): conversations due inside the window, and the case's
 * mode while the window lasts, are by phone or video, with the citizen's consent when the policy requires it;
 * the rule's mode comes back when the window ends. The latest-starting switch wins where two overlap. It moves
 * no deadline, so it does not take one out of the timeliness report.
 */
export const switchConversationModeSchema = ({ z }: SchemaParts) =>
  z.object({ type: z.literal('switchConversationMode'), mode: z.enum(['phone', 'video']), consentRequired: z.boolean().optional() }).strict();

export type SwitchConversationMode = z.output<ReturnType<typeof switchConversationModeSchema>>;

const MODE_FILL = '#90cdf4';

export const switchConversationMode: EffectModule<SwitchConversationMode> = {
  schema: switchConversationModeSchema,
  labelDa: 'samtaleform skiftet',
  engine: {
    windows: (effect, window, add) => add.mode({ ...window, mode: effect.mode, consentRequired: effect.consentRequired ?? false }),
  },
  picture: {
    type: 'mode',
    laneName: 'Samtaleform',
    lanePaint: `fill="${MODE_FILL}" fill-opacity="0.8"`,
    legend: { shape: `<rect x="-7" y="-6" width="14" height="12" fill="${MODE_FILL}"/>`, text: 'samtaleform skiftet' },
  },
};
