import { z } from 'zod';
import { isIsoDate } from './dates';
import { effectSchemas, EFFECT_TYPES } from './effects';
import { isMunicipality, MUNICIPALITIES, REGIONS } from './municipalities';
import { scopeCovers } from './policy-scope';
import { EXTENSION_GROUNDS, FOLLOW_UP_CADENCES } from './rules';
import { CASE_EVENT_TYPES, DEADLINE_KINDS } from './types';

/**
 * The one definition of every message's shape: the API validates request bodies with these schemas, the
 * workflow's update validators validate with the same ones, so a message that passes one passes both, and the
 * message types (types.ts) are their output types. Workflow code reaches this module only through
 * shared-schemas.ts.
 */

/**
 * A CPR number must never become an id or free text: DDMMYY-XXXX, DDMMYY XXXX (a space, as letters and
 * forms write it, or any other blank or dash) or ten digits in a row.
 */
export const CPR_LIKE = /(^|\D)\d{6}[\s\-\u2010-\u2015\u2212]?\d{4}(\D|$)/;

/**
 * Whether text holds a CPR-like number as written or once NFKC-normalised: fullwidth or other compatibility
 * digits and separators (０１０１９０−１２３４) read as the ASCII number they stand for.
 */
export const looksLikeCpr = (text: string): boolean => CPR_LIKE.test(text) || CPR_LIKE.test(text.normalize('NFKC'));

/** The highest revision a policy can have (the OpenAPI document states it). */
export const MAX_POLICY_REVISION = 1_000_000;

/**
 * Dates the engine works with: years 1900 to 2199. The engine adds months and days to them, and a date past
 * year 9999 has no YYYY-MM-DD form; no case or policy is dated outside these years.
 */
export const DATE_RANGE = { from: '1900-01-01', to: '2199-12-31' } as const;

export const isoDate = z
  .string()
  .superRefine((d, ctx) => {
    if (!isIsoDate(d)) ctx.addIssue({ code: 'custom', message: 'must be a calendar date written YYYY-MM-DD' });
    else if (d < DATE_RANGE.from || d > DATE_RANGE.to) ctx.addIssue({ code: 'custom', message: `must be from ${DATE_RANGE.from} to ${DATE_RANGE.to}` });
  })
  .meta({ format: 'date', pattern: '^(19[0-9]{2}|2[01][0-9]{2})-[0-9]{2}-[0-9]{2}$', description: `A calendar date in Copenhagen, YYYY-MM-DD, from ${DATE_RANGE.from} to ${DATE_RANGE.to}` });

const noCpr = (field: string) => (value: string) => !looksLikeCpr(value) || `${field} looks like a CPR number; use the case system's pseudonymous reference`;

export const identifier = (field: string) =>
  z
    .string()
    .min(1, `${field} is required`)
    .max(100)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, `${field} may contain letters, digits and . _ : - only`)
    .refine((v) => noCpr(field)(v) === true, { message: `${field} looks like a CPR number (DDMMYY-XXXX, DDMMYY XXXX or ten digits); use a pseudonymous id` });

export const municipalityCode = z
  .string()
  .refine(isMunicipality, 'must be one of the 98 Danish municipality codes, e.g. "101" for København')
  .meta({ description: 'Danish municipality code (kommunekode), e.g. "101" for København', enum: Object.keys(MUNICIPALITIES) });

export const category = z.union([z.literal(1), z.literal(2), z.literal(3)], { error: 'must be 1, 2 or 3' });

export const caseStartSchema = z
  .object({
    caseId: identifier('caseId'),
    citizenRef: identifier('citizenRef'),
    municipality: municipalityCode,
    firstAbsenceDay: isoDate,
    employment: z.enum(['employee', 'unemployed', 'self-employed']).default('employee'),
    /** Overrides the rule set's employer period (T1), e.g. 0 for an employee without 74 hours. */
    employerPeriodDays: z.number().int().min(0).max(365).optional(),
    informationFormSentOn: isoDate.optional(),
    category: category.optional(),
    /** The municipality's reading of T7; the rule set's default when absent. */
    followUpCadence: z.enum(FOLLOW_UP_CADENCES).optional(),
  })
  .strict()
  .refine((c) => !c.informationFormSentOn || c.informationFormSentOn >= c.firstAbsenceDay, {
    message: 'must not be before firstAbsenceDay',
    path: ['informationFormSentOn'],
  });

export type CaseStartInput = z.input<typeof caseStartSchema>;

const eventBase = {
  eventId: identifier('eventId'),
  occurredOn: isoDate,
};

export const caseEventSchema = z.discriminatedUnion(
  'type',
  [
    z.object({ ...eventBase, type: z.literal('information-form-received') }).strict(),
    z.object({ ...eventBase, type: z.literal('categorized'), category }).strict(),
    z.object({ ...eventBase, type: z.literal('fast-track-requested'), requestedBy: z.enum(['employer', 'citizen']) }).strict(),
    z
      .object({ ...eventBase, type: z.literal('conversation-held'), mode: z.enum(['in-person', 'phone', 'video']), category: category.optional() })
      .strict(),
    z.object({ ...eventBase, type: z.literal('certificate-requested') }).strict(),
    z.object({ ...eventBase, type: z.literal('certificate-received'), validUntil: isoDate.optional() }).strict(),
    z.object({ ...eventBase, type: z.literal('rehabilitation-team-held') }).strict(),
    // A decision either extends the period (§ 27, stk. 1) or moves the case to job clarification.
    z.discriminatedUnion(
      'outcome',
      [
        z
          .object({
            ...eventBase,
            type: z.literal('reassessment-decided'),
            outcome: z.literal('extension'),
            ground: z.enum(EXTENSION_GROUNDS),
            until: isoDate,
          })
          .strict(),
        z.object({ ...eventBase, type: z.literal('reassessment-decided'), outcome: z.literal('job-clarification') }).strict(),
      ],
      { error: () => "outcome must be 'extension' (with ground and until) or 'job-clarification'" },
    ),
    z.object({ ...eventBase, type: z.literal('recovered') }).strict(),
    z.object({ ...eventBase, type: z.literal('benefit-stopped') }).strict(),
  ],
  { error: (issue) => (issue.code === 'invalid_union' ? `type must be one of: ${CASE_EVENT_TYPES.join(', ')}` : undefined) },
);

/** The kinds of deadline an effect applies to; none: every kind. */
export const deadlineKinds = z.array(z.enum(DEADLINE_KINDS)).max(DEADLINE_KINDS.length).optional();

/** Each effect's schema is in its module (effects/). */
export const policyEffectSchema = z.discriminatedUnion('type', effectSchemas({ z, isoDate, deadlineKinds }), {
  error: (issue) => (issue.code === 'invalid_union' ? `unknown effect: use ${EFFECT_TYPES.slice(0, -1).join(', ')} or ${EFFECT_TYPES.at(-1)}` : undefined),
});

export const policyScopeSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('all') }).strict(),
  z.object({ type: z.literal('municipalities'), municipalities: z.array(municipalityCode).min(1).max(Object.keys(MUNICIPALITIES).length) }).strict(),
  z.object({ type: z.literal('regions'), regions: z.array(z.enum(REGIONS)).min(1).max(REGIONS.length) }).strict(),
]);

/** The policy ends on `effectiveTo` (inclusive) for the cases in `scope`. */
export const policyEndingSchema = z.object({ scope: policyScopeSchema, effectiveTo: isoDate }).strict();

export const policyRevisionSchema = z
  .object({
    policyId: identifier('policyId'),
    // A policy is revised a handful of times; the bound keeps a revision from being a CPR number or any other
    // identifier that would travel into workflow ids, search attributes, metric labels and logs.
    revision: z.number().int().min(1).max(MAX_POLICY_REVISION, 'must be at most 1000000'),
    title: z.string().min(1).max(200),
    legalReference: z.string().max(200).optional(),
    effectiveFrom: isoDate,
    /** Inclusive last day; null or absent while open-ended. */
    effectiveTo: isoDate.nullable().optional(),
    scope: policyScopeSchema,
    effects: z.array(policyEffectSchema).min(1).max(10),
    /**
     * Where an earlier revision reached and this one no longer does: the policy ends there on the given day
     * (inclusive), with this revision's effects. A revision never silently drops a case: every municipality an
     * earlier revision covered is in `scope` or in `endedFor` (checked when it is published).
     */
    endedFor: z.array(policyEndingSchema).max(20).optional(),
  })
  .strict()
  .refine((p) => !p.effectiveTo || p.effectiveTo >= p.effectiveFrom, { message: 'effectiveTo is before effectiveFrom', path: ['effectiveTo'] })
  .superRefine((p, ctx) => {
    const seen = new Set(Object.keys(MUNICIPALITIES).filter((code) => scopeCovers(p.scope, code)));
    (p.endedFor ?? []).forEach((e, i) => {
      if (e.effectiveTo < p.effectiveFrom) ctx.addIssue({ code: 'custom', message: 'effectiveTo is before the revision\'s effectiveFrom', path: ['endedFor', i, 'effectiveTo'] });
      if (e.scope.type === 'all') {
        ctx.addIssue({ code: 'custom', message: 'to end the policy everywhere, set the revision\'s effectiveTo instead', path: ['endedFor', i, 'scope'] });
        return;
      }
      // Each municipality is in scope or ends on one day: an entry that overlaps would be silently ignored.
      const overlap = Object.keys(MUNICIPALITIES).filter((code) => scopeCovers(e.scope, code) && seen.has(code));
      if (overlap.length > 0) ctx.addIssue({ code: 'custom', message: `overlaps the scope or an earlier endedFor entry: ${overlap.join(', ')}`, path: ['endedFor', i, 'scope'] });
      for (const code of Object.keys(MUNICIPALITIES)) if (scopeCovers(e.scope, code)) seen.add(code);
    });
  })
  .refine((p) => !looksLikeCpr(p.title) && !looksLikeCpr(p.legalReference ?? ''), { message: 'looks like a CPR number', path: ['title'] });

/** Issues as the API reports them: each bad field with its problem. */
export function describeIssues(error: z.ZodError): { field: string; problem: string }[] {
  return error.issues.map((issue) => ({
    field: issue.path.join('.') || '(body)',
    problem: issue.code === 'invalid_type' && /received undefined$/.test(issue.message) ? 'is required' : issue.message,
  }));
}

/** The issues as one line: `field: problem; field: problem`. */
export function issuesMessage(error: z.ZodError): string {
  return describeIssues(error)
    .map((i) => `${i.field}: ${i.problem}`)
    .join('; ');
}
