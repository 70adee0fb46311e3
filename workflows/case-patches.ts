/*
 * The patch ids of the case workflow (workflows/case-workflow.ts), each with what the cases that began before it
 * still do when they replay. A new change to logic that running cases have executed gets its id here and goes
 * behind patched() (docs/operations.md lists them with the release that brought each).
 */

/** Cases whose history began before the local write keep the regular activity (see README, patched()). */
export const LOCAL_READ_MODEL_WRITE = 'read-model-local-write';
/** Cases whose history began before the sink write every snapshot by local activity (see README, patched()). */
export const READ_MODEL_SINK = 'read-model-sink';
/** Cases whose history began before this restart their timer after every change, as they did then. */
export const KEEP_TIMER_WHILE_DATE_HOLDS = 'keep-timer-while-date-holds';
/** From here on every snapshot goes through the regular activity (issue #11: a durable read model). */
export const DURABLE_READ_MODEL = 'read-model-durable';
/** Cases that began before this did not publish PolicyRevisions and CaseRevision. */
export const CONVERGENCE_ATTRIBUTES = 'policy-revisions-attributes';
/** Runs continued as new before this counted their start as a change (issue #22). */
export const CONTINUE_AS_NEW_NOT_A_CHANGE = 'continue-as-new-not-a-change';
/**
 * Runs that began before this continued as new only once their newest snapshot was written, a wait that a
 * steady stream of events starved until Temporal's history size limit terminated the run (issue #23). From
 * here on a run that needs a new one starts no more writes, continues as new once the write in flight is
 * done, and the new run writes the newest snapshot first.
 */
export const CONTINUE_AS_NEW_UNDER_LOAD = 'continue-as-new-under-load';
/**
 * Cases opened before this wrote their first row by activity, after their first task: a second task and an
 * activity for every case opened. From here on the first task writes it by local activity once it has asked the
 * registry (issue #21), and falls back to the activity if that write fails. The write lands before the task
 * completes, so a retry of the task, which asks the registry again, writes again fenced by the registry position
 * and day it computed from (activities/read-model.ts). No timer exists yet in a first task, so the local
 * activity cannot meet a timer's cancellation in one activation (the replay hazard that took back design (b),
 * docs/benchmarks/2026-12-04-design-b-local-write.md).
 */
export const OPEN_IN_ONE_TASK = 'open-in-one-task';
/** Signals received before this applied events past CASE_LIMITS (issue #23); updates are checked by their validator. */
export const CASE_LIMITS_ON_SIGNALS = 'case-limits-on-signals';
/** Cases begun before this continue as new every 4,000 history events; from here on every 500 (DEFAULT_MAX_HISTORY_EVENTS). */
export const SHORTER_RUNS = 'shorter-runs';
