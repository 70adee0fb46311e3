import { type IsoDate } from './dates';
import { RULE_CORRECTIONS, type RuleCorrection } from './rule-corrections';

/**
 * The versioned rule set: every number of the follow-up rules (domain.md section 2, T1-T16) as data
 * with its validity and legal reference. Workflow and API code read numbers only from here. A case
 * keeps the regime that was in force on its first day of absence (its `ruleSetId` is fixed at start).
 *
 * Confidence, as in domain.md: V = read in the statute or an official page, P = partly verified,
 * A = our own assumption, kept configurable.
 */
export interface Rule<T> {
  value: T;
  ref: string;
  confidence: 'V' | 'P' | 'A';
  note?: string;
}

/** T7's two readings; a case's `followUpCadence` (schemas.ts) is one of them. */
export const FOLLOW_UP_CADENCES = ['every-4-weeks', 'four-in-six-months'] as const;
export type FollowUpCadence = (typeof FOLLOW_UP_CADENCES)[number];
export type ConversationMode = 'in-person' | 'phone' | 'video' | 'citizen-choice';
/** The grounds of SDL § 27, stk. 1 (T14); an extension decision (schemas.ts) names one. */
export const EXTENSION_GROUNDS = ['1', '2', '3', '4', '5', '6', '7'] as const;
export type ExtensionGround = (typeof EXTENSION_GROUNDS)[number];

export interface ExtensionGroundRule {
  title: string;
  /** Longest extension counted from the review point, in weeks; null when the law sets no fixed maximum. */
  maxWeeks: number | null;
}

export interface RuleSet {
  id: string;
  title: string;
  validFrom: IsoDate;
  validTo: IsoDate | null;
  rules: {
    employerPeriodDays: Rule<Record<'employee' | 'unemployed' | 'self-employed', number>>;
    employerReportDays: Rule<number>;
    informationFormDays: Rule<number>;
    categoryOneWithinDays: Rule<number>;
    firstConversationDays: Rule<number>;
    fastTrackDays: Rule<number>;
    fastTrackEmployerRequestWithinDays: Rule<number>;
    followUpCadence: Rule<FollowUpCadence>;
    followUpIntervalDays: Rule<number>;
    fourInSixMonths: Rule<{ conversations: number; months: number }>;
    conversationMode: Rule<{ inPersonMonths: number; onlyFirstInPerson: boolean }>;
    rehabilitationTeamDays: Rule<number>;
    certificateDueDays: Rule<number>;
    certificateMinimumDays: Rule<number>;
    certificateValidityDays: Rule<number>;
    durationLimitBenefitDay: Rule<number>;
    durationLimitWindowMonths: Rule<number>;
    extensionGrounds: Rule<Record<ExtensionGround, ExtensionGroundRule>>;
    jobClarificationRehabilitationTeamDays: Rule<number>;
  };
}

const rules2020: RuleSet['rules'] = {
  // T1: the employer pays the first 30 calendar days for an employee with >= 74 hours in the 8 weeks before F.
  employerPeriodDays: { value: { employee: 30, unemployed: 0, 'self-employed': 0 }, ref: 'SDL kap. 10', confidence: 'V' },
  // T2: the salary-paying employer reports the absence within 5 weeks after F.
  employerReportDays: { value: 35, ref: 'SDL § 40', confidence: 'P' },
  // T3: the citizen answers the information form within 8 days after it was sent.
  informationFormDays: { value: 8, ref: 'SDL § 11', confidence: 'V' },
  // T4: category 1 means back at work within 8 weeks of F.
  categoryOneWithinDays: { value: 56, ref: 'SDL § 12', confidence: 'V' },
  // T5: first follow-up conversation by the end of week 8 counted from F (F is day 1): F + 55.
  firstConversationDays: { value: 55, ref: 'SDL § 13 b, stk. 1', confidence: 'V' },
  // T6: on request (employer within the first 5 weeks, or the citizen), within 14 days after the request.
  fastTrackDays: { value: 14, ref: 'SDL § 13 b, stk. 2-3', confidence: 'V' },
  fastTrackEmployerRequestWithinDays: { value: 35, ref: 'SDL § 13 b, stk. 2', confidence: 'V' },
  // T7: later conversations for categories 2 and 3; both readings of the law are selectable per case.
  followUpCadence: {
    value: 'every-4-weeks',
    ref: 'SDL § 13 b, stk. 1',
    confidence: 'P',
    note: 'older guidance: every 4 weeks; the 2020 text: at least 4 times within the first 6 months',
  },
  followUpIntervalDays: { value: 28, ref: 'SDL § 13 b, stk. 1', confidence: 'P' },
  fourInSixMonths: {
    value: { conversations: 4, months: 6 },
    ref: 'SDL § 13 b, stk. 1',
    confidence: 'P',
    note: 'the 4 conversations (the first included) are spread evenly over what is left of the 6 months',
  },
  // T8: in person during the first 6 months; phone, video or letter only as an exception.
  conversationMode: { value: { inPersonMonths: 6, onlyFirstInPerson: false }, ref: 'SDL § 13 b, stk. 1 (før 2023)', confidence: 'V' },
  // T9: category 3 goes before the rehabilitation team within 28 days after visitation.
  rehabilitationTeamDays: { value: 28, ref: 'SDL § 13 d', confidence: 'V' },
  // T10: a requested medical certificate (LÆ 285) is due 14 days after the request, never less than 8.
  certificateDueDays: { value: 14, ref: 'SDL § 11 a; bek. § 11', confidence: 'V' },
  certificateMinimumDays: { value: 8, ref: 'SDL § 11 a; bek. § 11', confidence: 'V' },
  // T11: no statutory validity was found; 90 days unless the certificate states its own end.
  certificateValidityDays: { value: 90, ref: 'domain.md T11 (assumption)', confidence: 'A' },
  // T12: counted from F + employer period; exceeded on benefit day 155 (more than 22 weeks in 9 months);
  // the review point is the last day of that calendar month.
  durationLimitBenefitDay: { value: 155, ref: 'SDL § 24', confidence: 'V' },
  durationLimitWindowMonths: { value: 9, ref: 'SDL § 24', confidence: 'V' },
  // T14: extension grounds of § 27, stk. 1, with their maximum length counted from the review point.
  extensionGrounds: {
    value: {
      '1': { title: 'Revalidering iværksat eller planlagt', maxWeeks: null },
      '2': { title: 'Arbejdsafklaring, forventet tilbage i arbejde', maxWeeks: 69 },
      '3': { title: 'Lægelig behandling', maxWeeks: 134 },
      '4': { title: 'Afventer afgørelse om arbejdsskade', maxWeeks: null },
      '5': { title: 'Livstruende, alvorlig sygdom', maxWeeks: null },
      '6': { title: 'Afventer afgørelse om førtidspension', maxWeeks: null },
      '7': { title: 'Afventer afgørelse om fleksjob', maxWeeks: null },
    },
    ref: 'SDL § 27, stk. 1',
    confidence: 'V',
    note: 'nos. 2 and 3 have fixed maxima; no. 5 has none; the others last until the awaited decision (P for their titles)',
  },
  // T15: no extension applies: job clarification, before the rehabilitation team within 4 weeks.
  jobClarificationRehabilitationTeamDays: { value: 28, ref: 'SDL §§ 24 a, 27, stk. 3', confidence: 'V' },
};

export const RULE_SETS: readonly RuleSet[] = [
  {
    id: '2020',
    title: 'Sygedagpengeloven som gældende i 2020',
    validFrom: '2015-01-05',
    validTo: '2022-12-31',
    rules: rules2020,
  },
  {
    id: '2023',
    title: 'Sygedagpengeloven fra 2023: kun første samtale skal være personlig',
    validFrom: '2023-01-01',
    validTo: null,
    rules: {
      ...rules2020,
      // From 2023 only the first conversation must be in person; later ones by phone or video at the
      // citizen's choice.
      conversationMode: {
        value: { inPersonMonths: 6, onlyFirstInPerson: true },
        ref: 'SDL § 13 b, stk. 1 (fra 2023)',
        confidence: 'P',
      },
    },
  },
];

export const DEFAULT_RULE_SET_ID = '2020';

/**
 * A rule set with its corrections (rule-corrections.ts): every one by default, as the API answers; the
 * case workflow passes those its history has reached (`patched`).
 */
export function ruleSetById(id: string, applies: (correction: RuleCorrection) => boolean = () => true): RuleSet {
  const found = RULE_SETS.find((r) => r.id === id);
  if (!found) throw new RangeError(`unknown rule set ${id}`);
  const corrections = RULE_CORRECTIONS.filter((c) => c.ruleSetId === id && applies(c));
  return corrections.length === 0 ? found : { ...found, rules: corrections.reduce((rules, c) => ({ ...rules, ...c.rules }), found.rules) };
}

/** The regime in force on a date (a case's first day of absence), with every correction; before the first, the default. */
export function ruleSetFor(date: IsoDate): RuleSet {
  const found = RULE_SETS.find((r) => r.validFrom <= date && (r.validTo === null || date <= r.validTo));
  return ruleSetById(found?.id ?? DEFAULT_RULE_SET_ID);
}
