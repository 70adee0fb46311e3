import { type IsoDate } from './dates';
import { type ConversationMode, type ExtensionGround, type FollowUpCadence } from './rules';
import { type Region } from './municipalities';

export type Employment = 'employee' | 'unemployed' | 'self-employed';
export type Category = 1 | 2 | 3;

/** What the case system tells us when it opens a case. `citizenRef` is pseudonymous, never a CPR number. */
export interface CaseFacts {
  caseId: string;
  citizenRef: string;
  municipality: string;
  firstAbsenceDay: IsoDate;
  employment: Employment;
  /** Overrides the rule set's employer period (T1), e.g. 0 for an employee without 74 hours. */
  employerPeriodDays?: number;
  informationFormSentOn?: IsoDate;
  category?: Category;
  /** The municipality's reading of T7; the rule set's default when absent. */
  followUpCadence?: FollowUpCadence;
}

interface EventBase {
  eventId: string;
  occurredOn: IsoDate;
}

export type CaseEvent =
  | (EventBase & { type: 'information-form-received' })
  | (EventBase & { type: 'categorized'; category: Category })
  | (EventBase & { type: 'fast-track-requested'; requestedBy: 'employer' | 'citizen' })
  | (EventBase & { type: 'conversation-held'; mode: Exclude<ConversationMode, 'citizen-choice'>; category?: Category })
  | (EventBase & { type: 'certificate-requested' })
  | (EventBase & { type: 'certificate-received'; validUntil?: IsoDate })
  | (EventBase & { type: 'rehabilitation-team-held' })
  | (EventBase & { type: 'reassessment-decided'; outcome: 'extension'; ground: ExtensionGround; until: IsoDate })
  | (EventBase & { type: 'reassessment-decided'; outcome: 'job-clarification' })
  | (EventBase & { type: 'recovered' })
  | (EventBase & { type: 'benefit-stopped' });

export type CaseEventType = CaseEvent['type'];

export const CASE_EVENT_TYPES: readonly CaseEventType[] = [
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
];

export type DeadlineKind =
  | 'information-form'
  | 'first-conversation'
  | 'follow-up-conversation'
  | 'certificate'
  | 'certificate-renewal'
  | 'rehabilitation-team'
  | 'reassessment';

export const DEADLINE_KINDS: readonly DeadlineKind[] = [
  'information-form',
  'first-conversation',
  'follow-up-conversation',
  'certificate',
  'certificate-renewal',
  'rehabilitation-team',
  'reassessment',
];

export type PolicyScope =
  | { type: 'all' }
  | { type: 'municipalities'; municipalities: string[] }
  | { type: 'regions'; regions: Region[] };

export type PolicyEffect =
  | { type: 'pauseDeadlines'; kinds?: DeadlineKind[] }
  | { type: 'waiveDeadlines'; kinds?: DeadlineKind[] }
  | { type: 'extendCertificateValidity'; days?: number; months?: number }
  | { type: 'switchConversationMode'; mode: 'phone' | 'video'; consentRequired?: boolean }
  | { type: 'extendBenefitPeriod'; months: number; reviewPointsFrom: IsoDate; reviewPointsTo: IsoDate };

/** One revision of a published policy change. Lifting is a revision that sets `effectiveTo`. */
export interface PolicyRevision {
  policyId: string;
  revision: number;
  title: string;
  legalReference?: string;
  effectiveFrom: IsoDate;
  /** Inclusive last day; null or absent while open-ended. */
  effectiveTo?: IsoDate | null;
  scope: PolicyScope;
  effects: PolicyEffect[];
  /**
   * Where an earlier revision reached and this one no longer does: the policy ends there on the given day
   * (inclusive), with this revision's effects. A revision never silently drops a case: every municipality an
   * earlier revision covered is in `scope` or in `endedFor` (checked when it is published).
   */
  endedFor?: PolicyEnding[];
}

/** The policy ends on `effectiveTo` for the cases in `scope` (a revision's `endedFor`). */
export interface PolicyEnding {
  scope: PolicyScope;
  effectiveTo: IsoDate;
}

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
