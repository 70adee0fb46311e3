import { defineQuery, defineSignal, defineUpdate, type Sinks } from '@temporalio/workflow';
import type { CaseSnapshot } from '../activities/read-model';
import { type CaseEvent, type CaseFacts, type PolicyRevision, type Timeline } from './domain/types';

/** Messages of the case workflow, defined once and imported by the workflow and the API. */

export const CASE_WORKFLOW_TYPE = 'caseWorkflow';

/** Workflow ids are derived from the case id, which is never a CPR number (checked at the API). */
export const caseWorkflowId = (caseId: string): string => `sickness-case-${caseId}`;
export const caseIdOfWorkflow = (workflowId: string): string => workflowId.replace(/^sickness-case-/, '');

export interface CaseWorkflowInput {
  facts: CaseFacts;
  /** Fixed at the first start; carried through continue-as-new so a case keeps its regime. */
  ruleSetId?: string;
  events?: CaseEvent[];
  policies?: PolicyRevision[];
  /** Policy revisions received but not applicable (out of scope); remembered so repeats stay no-ops. */
  ignoredPolicyKeys?: string[];
  /** Changes made so far, across runs; the read model keeps only the newest snapshot. */
  revision?: number;
  /** Continue-as-new once a run's history has this many events (default 500; 4,000 for cases begun before `shorter-runs`); carried to the next run. */
  maxHistoryEvents?: number;
  /**
   * The registry position of the copy `policies` came from (policies/registry.ts). The first run asks the
   * registry for what was published after it; not carried through continue-as-new.
   */
  registryPosition?: number;
  /** The case's caseworker page at the API (timeline picture, deadline table), linked from its current details; carried through continue-as-new. */
  caseworkerPageUrl?: string;
}

export interface CaseOutcome {
  caseId: string;
  closedOn: string | null;
  closedReason: string | null;
}

export interface MessageResult {
  /** False when the message had been applied before (same eventId, or same policyId and revision). */
  applied: boolean;
  timeline: Timeline;
}

/** Error types, used as ApplicationFailure types so the API can map them to status codes. */
export enum CaseErrorType {
  EventRejected = 'EventRejected',
  CaseClosed = 'CaseClosed',
  /** The case holds the most it may (CASE_LIMITS in workflows/domain/validate-event.ts); details: [{ name, max }]. */
  CaseLimitReached = 'CaseLimitReached',
  PolicyRejected = 'PolicyRejected',
  /** A start, signal or update whose payload was not encrypted under a known key (platform/payload-codec.ts). */
  UnencryptedPayload = 'UnencryptedPayload',
}

/** The whole timeline; pass today's date (YYYY-MM-DD) to count days overdue up to it. */
export const timelineQuery = defineQuery<Timeline, [asOf?: string]>('timeline');
export const caseFactsQuery = defineQuery<{ facts: CaseFacts; ruleSetId: string }>('caseFacts');
/** The snapshot the case's read-model row should hold: its change counter and the timeline of that change. */
export const readModelSnapshotQuery = defineQuery<CaseSnapshot>('readModelSnapshot');

/** Case systems report events through the update (synchronous answer or rejection) or the signal. */
export const reportEventUpdate = defineUpdate<MessageResult, [CaseEvent]>('reportEvent');
export const caseEventSignal = defineSignal<[CaseEvent]>('caseEvent');

/** Policy changes arrive by signal from the fan-out, or by update when the caller wants the result. */
export const applyPolicyUpdate = defineUpdate<MessageResult, [PolicyRevision]>('applyPolicy');
export const policyChangeSignal = defineSignal<[PolicyRevision]>('policyChange');
/**
 * The fan-out's way (issue #21, design (a)): the case applies the revision and answers the snapshot its row
 * should hold, and schedules no read-model write for it: the caller writes the row, many cases to a statement.
 */
export const applyPolicyWrittenByCallerUpdate = defineUpdate<{ applied: boolean; snapshot: CaseSnapshot }, [PolicyRevision]>('applyPolicyWrittenByCaller');

/**
 * The sink through which runs begun before the durable read model (patch read-model-durable) handed their
 * snapshots to the worker. Kept so their histories replay; a sink is not called in replay, and no live run
 * calls it any more, so the worker registers none.
 */
export interface ReadModelSinks extends Sinks {
  readModel: { write(snapshot: CaseSnapshot): void };
}
/** Sent by workers of the sink era when they could not write a snapshot; such runs then rewrite by activity. */
export const readModelWriteFailedSignal = defineSignal<[revision: number]>('readModelWriteFailed');

export const policyKey = (p: Pick<PolicyRevision, 'policyId' | 'revision'>): string => `${p.policyId}#${p.revision}`;

// ---------------------------------------------------------------------------------------------------
// Policy fan-out: one workflow per publication (or re-send) of a policy revision.

export const POLICY_FANOUT_WORKFLOW_TYPE = 'policyFanoutWorkflow';

/**
 * How old the API's copy of the policy registry may be when a new case inherits from it
 * (policies/registry.ts). Only freshness depends on it: a case asks the registry at start for what
 * was published after its copy (CaseWorkflowInput.registryPosition).
 */
export const INHERITED_POLICIES_MAX_AGE_MS = 1_000;

export const policyFanoutWorkflowId = (policyId: string, revision: number, resendNumber?: number): string =>
  `policy-fanout-${policyId}-r${revision}${resendNumber ? `-resend-${resendNumber}` : ''}`;

export interface FanoutProgress {
  /** Passes over the open cases in scope that lacked the revision. */
  passes: number;
  /** Cases the first pass found without the revision. */
  matched: number;
  signalled: number;
  /** Listed cases that had closed by the time they were signalled. */
  failed: number;
  /** Cases later passes found without it (started from an older copy, or a signal that did not land). */
  lateStarters: number;
  /** Open cases in scope without the revision at the last count; null before the first count. */
  missing: number | null;
  phase: 'signalling' | 'waiting' | 'done' | 'superseded';
}

export interface PolicyFanoutInput {
  policy: PolicyRevision;
  kind: 'publish' | 'resend';
  signalsPerSecond: number;
  pageSize?: number;
  /**
   * How long visibility may take to show a change (a start, a case's new search attributes). Honoured
   * whatever its size: every wait before a count is at least this long, also above the 60 s the back-off
   * between counts otherwise stops at.
   */
  visibilityLagMs?: number;
  /** A run continues as new before its history would pass this many events (tests make it small); at least 100. */
  maxHistoryEvents?: number;
  /** Carried through continue-as-new. */
  progress?: FanoutProgress;
  /** Where the run that continued as new stopped; absent, the run begins a new pass. */
  resume?: FanoutResume;
}

/** Where a fan-out resumes after continuing as new: exactly where its previous run stood between two steps. */
export interface FanoutResume {
  /** Passes whose counts stopped falling so far: the waits of the next pass begin that much longer. */
  stalledPasses: number;
  at:
    | { phase: 'signalling'; source: 'visibility' | 'read-model'; from: string | null }
    /** `best`: the lowest count of this pass so far (null before its first); `stalled`: counts since that did not fall. */
    | { phase: 'waiting'; best: number | null; stalled: number }
    | null;
}

/** Why a fan-out refused its input (an ApplicationFailure's type, not retried). */
export enum FanoutErrorType {
  InvalidInput = 'FanoutInputRejected',
}

export const fanoutProgressQuery = defineQuery<FanoutProgress>('progress');
