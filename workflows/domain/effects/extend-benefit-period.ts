import type { z } from 'zod';
import { addMonths, endOfMonth } from '../dates';
import { type EffectModule, type SchemaParts } from './effect';

/**
 * Extend the benefit period (domain.md "Policy effects"; lov 275/2020 and its successors): a review point that
 * the rule puts between reviewPointsFrom and reviewPointsTo moves by the months, to the end of that month. No
 * day is taken out of the 22-week count. The reassessment deadline carries the policy, so the timeliness
 * report leaves it out.
 */
export const extendBenefitPeriodSchema = ({ z, isoDate }: SchemaParts) =>
  z
    .object({ type: z.literal('extendBenefitPeriod'), months: z.number().int().positive().max(120), reviewPointsFrom: isoDate, reviewPointsTo: isoDate })
    .strict()
    .refine((e) => e.reviewPointsFrom <= e.reviewPointsTo, { message: 'reviewPointsTo is before reviewPointsFrom', path: ['reviewPointsTo'] });

export type ExtendBenefitPeriod = z.output<ReturnType<typeof extendBenefitPeriodSchema>>;

export const extendBenefitPeriod: EffectModule<ExtendBenefitPeriod> = {
  schema: extendBenefitPeriodSchema,
  labelDa: 'sygedagpengeperioden forlænget',
  engine: {
    reviewPoint: (effect, p, point) => {
      if (point.original < effect.reviewPointsFrom || point.original > effect.reviewPointsTo) return point;
      return {
        ...point,
        date: endOfMonth(addMonths(point.date, effect.months)),
        movedBy: [...point.movedBy, p.policyId],
        reasons: [...point.reasons, `Forlænget ${effect.months} måneder af ${p.title} (${p.policyId} rev. ${p.revision})`],
      };
    },
  },
  picture: null,
};
