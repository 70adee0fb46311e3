import type { z } from 'zod';
import { type IsoDate } from './dates';
import { type ConversationMode, type ExtensionGround } from './rules';
import type * as Schemas from './schemas';

/**
 * The messages (a case's facts, its events, policy revisions and their parts) are the output types of their
 * zod schemas in schemas.ts: one definition each, which the API and the workflow's validators parse with, so
 * a field added to one side only does not compile. Only types are imported from there: workflow code reaches
 * the schemas themselves through shared-schemas.ts. What the engine computes (Timeline, Deadline, ...) is
 * written out below.
 */

/** What the case system tells us when it opens a case. `citizenRef` is pseudonymous, never a CPR number. */
export type CaseFacts = z.output<typeof Schemas.caseStartSchema>;
export type Employment = CaseFacts['employment'];
export type Category = z.output<typeof Schemas.category>;

export type CaseEvent = z.output<typeof Schemas.caseEventSchema>;
export type CaseEventType = CaseEvent['type'];

export const CASE_EVENT_TYPES = [
  'information-form-received',
  'categorized',
  'fast-track-requested',
  'conversation-held',
  'certificate-requested',
  'certificate-received',
  'rehabilitation-team-held',
  'reassessment-decided',
  'recovered',
  'benefit-stopped',
] as const;

/** Compiles only while CASE_EVENT_TYPES lists the event types of the schema, every one and no other. */
type ListedEventType = (typeof CASE_EVENT_TYPES)[number];
const _everyEventTypeListed: [Exclude<CaseEventType, ListedEventType> | Exclude<ListedEventType, CaseEventType>] extends [never] ? true : never = true;

export const DEADLINE_KINDS = [
  'information-form',
  'first-conversation',
  'follow-up-conversation',
  'certificate',
  'certificate-renewal',
  'rehabilitation-team',
  'reassessment',
] as const;
export type DeadlineKind = (typeof DEADLINE_KINDS)[number];

export type PolicyScope = z.output<typeof Schemas.policyScopeSchema>;
/** One effect of a policy revision; each has its module in effects/. */
export type PolicyEffect = z.output<typeof Schemas.policyEffectSchema>;
/** One revision of a published policy change. Lifting is a revision that sets `effectiveTo`. */
export type PolicyRevision = z.output<typeof Schemas.policyRevisionSchema>;
/** The policy ends on `effectiveTo` for the cases in `scope` (a revision's `endedFor`). */
export type PolicyEnding = z.output<typeof Schemas.policyEndingSchema>;

export type DeadlineStatus = 'pending' | 'met' | 'missed' | 'paused' | 'waived';

export interface Deadline {
  id: string;
  kind: DeadlineKind;
  /** The caseworker's term, in Danish. */
  title: string;
  /** Null while paused by a pause that has no end yet. */
  dueDate: IsoDate | null;
  /** The due date with no policy applied: the closed form of the rule. */
  originalDueDate: IsoDate;
  status: DeadlineStatus;
  metOn: IsoDate | null;
  /** Met late: days after the due date. Missed: days overdue as of the timeline's date. */
  daysLate: number | null;
  /** Conversations only: how the conversation is (or was) to be held. */
  mode?: ConversationMode;
  /** Why the deadline is where it is: rules and policies, in the caseworker's terms. */
  reasons: string[];
  /** The policies that paused, waived or moved this deadline (reports leave these out of timeliness). */
  policyIds: string[];
}

export type CaseStatus = 'open' | 'job-clarification' | 'closed';
export type ClosedReason = 'recovered' | 'benefit-stopped' | 'job-clarification';

export interface PolicyOnCase {
  policyId: string;
  revision: number;
  title: string;
  effectiveFrom: IsoDate;
  effectiveTo: IsoDate | null;
  /** scheduled: not yet in force; active: in force on the timeline's date; ended; superseded by a later revision. */
  state: 'scheduled' | 'active' | 'ended' | 'superseded';
  effects: PolicyEffect[];
}

export interface Timeline {
  caseId: string;
  municipality: string;
  firstAbsenceDay: IsoDate;
  employment: Employment;
  ruleSetId: string;
  asOf: IsoDate;
  status: CaseStatus;
  closedOn: IsoDate | null;
  closedReason: ClosedReason | null;
  category: Category | null;
  /** The mode conversations are held in now. */
  conversationMode: ConversationMode;
  consentRequired: boolean;
  benefitStartsOn: IsoDate;
  reviewPoint: IsoDate;
  originalReviewPoint: IsoDate;
  certificateValidUntil: IsoDate | null;
  extension: { ground: ExtensionGround; until: IsoDate } | null;
  deadlines: Deadline[];
  policies: PolicyOnCase[];
  /** The earliest later date on which this timeline can change without any new input. */
  nextChangeOn: IsoDate | null;
}
