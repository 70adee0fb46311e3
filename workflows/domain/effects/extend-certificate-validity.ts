import type { z } from 'zod';
import { addDays, addMonths } from '../dates';
import { type EffectModule, type SchemaParts } from './effect';

/**
 * Extend medical-certificate validity (domain.md "Policy effects"; no statute found, municipalities asked for
 * it in 2020): a certificate still valid when the policy begins, and received by its end, is valid the days or
 * months longer. Its renewal deadline carries the policy, so the timeliness report leaves it out.
 */
export const extendCertificateValiditySchema = ({ z }: SchemaParts) =>
  z
    .object({ type: z.literal('extendCertificateValidity'), days: z.number().int().positive().max(3_660).optional(), months: z.number().int().positive().max(120).optional() })
    .strict()
    .refine((e) => (e.days === undefined) !== (e.months === undefined), 'give exactly one of days or months');

export type ExtendCertificateValidity = z.output<ReturnType<typeof extendCertificateValiditySchema>>;

export const extendCertificateValidity: EffectModule<ExtendCertificateValidity> = {
  schema: extendCertificateValiditySchema,
  labelDa: 'attester gælder længere',
  engine: {
    certificate: (effect, p, certificate) => {
      // Certificates valid on, or expiring within, the window.
      if (certificate.original < p.effectiveFrom || (p.effectiveTo != null && certificate.receivedOn > p.effectiveTo)) return certificate;
      return {
        ...certificate,
        validUntil: effect.months ? addMonths(certificate.validUntil, effect.months) : addDays(certificate.validUntil, effect.days ?? 0),
        extendedBy: [...certificate.extendedBy, p.policyId],
        reasons: [...certificate.reasons, `Gyldighed forlænget af ${p.title} (${p.policyId} rev. ${p.revision})`],
      };
    },
  },
  picture: null,
};
