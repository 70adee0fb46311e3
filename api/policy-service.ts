import { type Client, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { DEFAULT_FANOUT_MAX_IN_FLIGHT, type TemporalSettings } from '../platform/config';
import { type Db } from '../platform/db';
import { type Logger } from '../platform/logger';
import { type FanoutRow, type PolicyRegistry, revisionContent, type StoredRevision } from '../policies/registry';
import { copenhagenDate } from '../workflows/domain/dates';
import { MUNICIPALITIES, regionOf } from '../workflows/domain/municipalities';
import { droppedMunicipalities, revisionCovers, scopeCovers, unreachedEndings } from '../workflows/domain/policy-scope';
import { type PolicyRevision, type PolicyScope } from '../workflows/domain/types';
import { type PolicyFanoutInput, policyFanoutWorkflowId, POLICY_FANOUT_WORKFLOW_TYPE } from '../workflows/messages';
import { canonical } from './canonical';
import { ApiError } from './errors';

export type FanoutView = Omit<FanoutRow, 'policyId' | 'revision'>;

export interface RevisionView extends Omit<StoredRevision, 'position'> {
  state: 'scheduled' | 'active' | 'ended';
  /** Cases whose timeline carries this revision. */
  applied: number;
  fanouts: FanoutView[];
}

export interface PolicyView extends RevisionView {
  history: RevisionView[];
}

/** Publishing, lifting, listing and re-sending policy changes. */
export function createPolicyService(deps: {
  client: Client;
  db: Db;
  registry: PolicyRegistry;
  temporal: TemporalSettings;
  signalsPerSecond: number;
  logger: Logger;
  /** The fan-out's bound on visibility lag (tests shorten it); honoured however long (docs/policies.md, Passes). */
  visibilityLagMs?: number;
  /** Most Updates in flight at once when the API itself applies a revision (ops repair): FANOUT_MAX_IN_FLIGHT. */
  maxInFlight?: number;
}) {
  const { client, db, registry, temporal, logger } = deps;
  /** The rate and window every sender of a revision to cases keeps to: the fan-out's pages, and ops repair. */
  const fanoutBounds = { perSecond: deps.signalsPerSecond, maxInFlight: deps.maxInFlight ?? DEFAULT_FANOUT_MAX_IN_FLIGHT };

  /**
   * Starts a stored fan-out. The workflow id is unique for ever (REJECT_DUPLICATE), so however many callers
   * notice the same pending row, the fan-out runs once; a caller that finds it started marks the row running.
   * Returns false when Temporal could not be reached (the row stays pending for the next one to notice).
   */
  const startFanout = async (row: Pick<FanoutRow, 'workflowId' | 'policyId' | 'revision' | 'kind'>): Promise<boolean> => {
    const stored = await registry.revision(row.policyId, row.revision);
    if (!stored) return false;
    const policy = revisionContent(stored);
    const input: PolicyFanoutInput = {
      policy,
      kind: row.kind,
      signalsPerSecond: deps.signalsPerSecond,
      ...(deps.visibilityLagMs !== undefined ? { visibilityLagMs: deps.visibilityLagMs } : {}),
    };
    try {
      await client.workflow.start(POLICY_FANOUT_WORKFLOW_TYPE, {
        workflowId: row.workflowId,
        taskQueue: temporal.taskQueue,
        args: [input],
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        staticSummary: `Udsendelse af ${policy.title} (${policy.policyId} rev. ${policy.revision}${row.kind === 'resend' ? ', gensendt' : ''})`,
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) {
        logger.warn('fan-out not started; it stays pending until someone starts it', { workflowId: row.workflowId, error: err instanceof Error ? err.message : String(err) });
        return false;
      }
    }
    await db.query(`UPDATE policy_fanouts SET status = 'running', updated_at = now() WHERE workflow_id = $1 AND status = 'pending'`, [row.workflowId]);
    return true;
  };

  const stateOf = (p: StoredRevision): RevisionView['state'] => {
    const today = copenhagenDate(Date.now());
    return today < p.effectiveFrom ? 'scheduled' : p.effectiveTo && today > p.effectiveTo ? 'ended' : 'active';
  };

  /**
   * A revision as a key sees it. A key bound to municipalities gets `applied` counted in its municipalities
   * (the caller counted so) and its fan-outs' state without their national counts, which would tell it how
   * many cases other municipalities have open.
   */
  const view = (p: StoredRevision, fanouts: FanoutRow[], applied: Map<string, number>, reach?: readonly string[]): RevisionView => {
    const { position: _position, ...revision } = p;
    return {
      ...revision,
      state: stateOf(p),
      applied: applied.get(`${p.policyId}#${p.revision}`) ?? 0,
      fanouts: fanouts
        .filter((f) => f.policyId === p.policyId && f.revision === p.revision)
        .map(({ policyId: _p, revision: _r, ...f }) => (reach ? { workflowId: f.workflowId, kind: f.kind, status: f.status, startedAt: f.startedAt, updatedAt: f.updatedAt } : f)) as FanoutView[],
    };
  };
  /** Whether any revision of a policy reached one of the key's municipalities (a national key reaches all). */
  const reaches = (revisions: StoredRevision[], reach?: readonly string[]) => !reach || revisions.some((r) => reach.some((m) => revisionCovers(revisionContent(r), m)));

  return {
    fanoutBounds,

    /**
     * Stores a new revision with its fan-out owed ('pending') in one transaction, then starts the fan-out.
     * If this process dies or Temporal is unreachable in between, the revision is stored and its fan-out is
     * started by whoever notices first: the same request again, any API instance (startPendingFanouts) or
     * ops repair. The same policyId and revision again (same content) only makes sure of that. `started` is
     * false while a fan-out of the policy is still pending (Temporal could not be reached), whichever call stored it.
     */
    async publish(policy: PolicyRevision, reach?: readonly string[]): Promise<{ created: boolean; started: boolean; policy: PolicyView }> {
      if (reach) refuseOutsideReach(policy, reach);
      const created = await db.transaction(async (tx) => {
        await registry.lock(tx, policy.policyId);
        const stored = await registry.revisions(policy.policyId, tx);
        // A bound key revises (or lifts) only a policy that reaches nothing but its municipalities already.
        if (reach && stored[0]) refuseOutsideReach(revisionContent(stored[0]), reach, policy.policyId);
        const same = stored.find((s) => s.revision === policy.revision);
        if (same) {
          if (canonical(revisionContent(same)) !== canonical(asStored(policy))) {
            throw new ApiError(409, 'revision-exists', `${policy.policyId} revision ${policy.revision} is already published with other content; publish revision ${stored[0]!.revision + 1}`);
          }
          return false;
        }
        const newest = stored[0];
        if (newest && policy.revision < newest.revision) {
          throw new ApiError(400, 'invalid-request', `revision ${policy.revision} is lower than the stored revision ${newest.revision} of ${policy.policyId}`, [
            { field: 'revision', problem: `must be higher than ${newest.revision}` },
          ]);
        }
        refuseUnreachedEndings(stored.map(revisionContent), policy);
        if (newest) refuseDroppedScope(revisionContent(newest), policy);
        await registry.insert(tx, policy);
        await registry.insertFanout(tx, { workflowId: policyFanoutWorkflowId(policy.policyId, policy.revision), policyId: policy.policyId, revision: policy.revision, kind: 'publish' });
        return true;
      });
      // Cases this API starts from now on read the registry again (the transaction has committed).
      if (created) registry.forgetCurrent();
      const started = await this.startPendingFanouts(policy.policyId);
      return { created, started, policy: await this.get(policy.policyId, reach) };
    },

    /**
     * Runs the fan-out of a policy's newest revision again; cases that have it are not in its set. Stored as
     * pending first, like a publication's, so if Temporal cannot be reached it is started by whoever notices.
     */
    async resend(policyId: string, reach?: readonly string[]): Promise<{ workflowId: string; policy: PolicyView }> {
      const workflowId = await db.transaction(async (tx) => {
        await registry.lock(tx, policyId);
        const [newest] = await registry.revisions(policyId, tx);
        if (!newest || !reaches([newest], reach)) throw new ApiError(404, 'policy-not-found', `No policy ${policyId}`);
        if (reach) refuseOutsideReach(revisionContent(newest), reach, policyId);
        const id = policyFanoutWorkflowId(policyId, newest.revision, (await registry.resendCount(tx, policyId, newest.revision)) + 1);
        await registry.insertFanout(tx, { workflowId: id, policyId, revision: newest.revision, kind: 'resend' });
        return id;
      });
      await this.startPendingFanouts(policyId);
      return { workflowId, policy: await this.get(policyId, reach) };
    },

    /**
     * Starts every fan-out that is stored but not yet running (of one policy, or of all that have waited
     * `olderThanMs`). Returns false if one could not be started. Every API instance calls it periodically.
     */
    async startPendingFanouts(policyId?: string, olderThanMs = 0): Promise<boolean> {
      const pending = (await registry.pendingFanouts(olderThanMs)).filter((f) => policyId === undefined || f.policyId === policyId);
      let all = true;
      for (const row of pending) all = (await startFanout(row)) && all;
      return all;
    },

    /** The newest revision of every policy; for a bound key, of those that ever reached its municipalities. */
    async list(reach?: readonly string[]): Promise<RevisionView[]> {
      const [latest, fanouts, applied] = await Promise.all([registry.latest(), registry.fanouts(), registry.appliedCounts(undefined, reach)]);
      const seen = reach ? await Promise.all(latest.map(async (p) => reaches(await registry.revisions(p.policyId), reach))) : latest.map(() => true);
      return latest.filter((_, i) => seen[i]).map((p) => view(p, fanouts, applied, reach));
    },

    /**
     * 404 for a policy never published, without what get() adds up (its applied counts count every
     * case_policies row of the policy: 0.3 s at 1,000,000 cases), for the impact report.
     */
    async requirePublished(policyId: string, reach?: readonly string[]): Promise<void> {
      const revisions = await registry.revisions(policyId);
      if (revisions.length === 0 || !reaches(revisions, reach)) throw new ApiError(404, 'policy-not-found', `No policy ${policyId}`);
    },

    /** A policy with its history; for a bound key, 404 (as for no policy) unless it ever reached its municipalities. */
    async get(policyId: string, reach?: readonly string[]): Promise<PolicyView> {
      const [revisions, fanouts, applied] = await Promise.all([registry.revisions(policyId), registry.fanouts(policyId), registry.appliedCounts(policyId, reach)]);
      if (revisions.length === 0 || !reaches(revisions, reach)) throw new ApiError(404, 'policy-not-found', `No policy ${policyId}`);
      const [newest, ...older] = revisions.map((r) => view(r, fanouts, applied, reach));
      return { ...newest!, history: older };
    },
  };
}

export type PolicyService = ReturnType<typeof createPolicyService>;

/**
 * An ops key bound to municipalities publishes, lifts and re-sends only what reaches its municipalities and
 * nothing else: its scope and every endedFor entry (a region only if the key holds all of the region's
 * municipalities). 403 naming the part that reaches further. `of` names a stored revision being revised.
 */
function refuseOutsideReach(p: Pick<PolicyRevision, 'scope' | 'endedFor'>, reach: readonly string[], of?: string): void {
  const outside = (scope: PolicyScope) => Object.keys(MUNICIPALITIES).filter((code) => scopeCovers(scope, code) && !reach.includes(code));
  const parts = [
    { field: 'scope', outside: outside(p.scope) },
    ...(p.endedFor ?? []).map((e, i) => ({ field: `endedFor.${i}.scope`, outside: outside(e.scope) })),
  ].filter((part) => part.outside.length > 0);
  if (parts.length === 0) return;
  // A stored revision's municipalities outside the key's are not named: the key sees only its own.
  const list = (codes: string[]) => (of ? 'municipalities outside them' : codes.length <= 5 ? codes.join(', ') : `${codes.length} municipalities (${codes.slice(0, 5).join(', ')}, …)`);
  throw new ApiError(
    403,
    'municipality-not-allowed',
    `${of ? `${of} (stored)` : 'The revision'} reaches municipalities this key is not bound to (${reach.join(', ')}): ${parts.map((part) => `${part.field} ${list(part.outside)}`).join('; ')}; a national ops key publishes it`,
    parts.map((part) => ({ field: of ? `(stored) ${part.field}` : part.field, problem: `reaches ${list(part.outside)}, outside the key's municipalities` })),
  );
}

/**
 * A revision may not leave cases that an earlier revision reached: they would keep following it for ever.
 * The refusal names them and says how to end the policy for them instead.
 */
function refuseDroppedScope(previous: PolicyRevision, next: PolicyRevision): void {
  const dropped = droppedMunicipalities(previous, next);
  if (dropped.length === 0) return;
  const regions = [...new Set(dropped.map((code) => regionOf(code)))].filter((r) => r !== undefined);
  // Regions dropped whole can be named as regions in the suggestion.
  const whole = regions.filter((region) => Object.entries(MUNICIPALITIES).every(([code, m]) => m.region !== region || dropped.includes(code)));
  const named = dropped.length <= 5 ? dropped.map((c) => `${MUNICIPALITIES[c]?.name ?? c} (${c})`).join(', ') : `${dropped.length} municipalities in ${regions.join(', ')}`;
  const example = whole.length > 0 ? `{"scope":{"type":"regions","regions":${JSON.stringify(whole)}},"effectiveTo":"YYYY-MM-DD"}` : `{"scope":{"type":"municipalities","municipalities":${JSON.stringify(dropped.slice(0, 3))}},"effectiveTo":"YYYY-MM-DD"}`;
  throw new ApiError(
    400,
    'invalid-request',
    `revision ${next.revision} of ${next.policyId} no longer reaches ${named}, which revision ${previous.revision} reaches. ` +
      `Say when the policy ends for them: add endedFor: [${example}] (the day is their last under the policy), or keep them in scope.`,
    [
      {
        field: 'scope',
        problem: `drops ${dropped.length === 1 ? '1 municipality' : `${dropped.length} municipalities`} covered by revision ${previous.revision}: ${dropped.join(', ')}; end the policy for ${dropped.length === 1 ? 'it' : 'them'} with endedFor`,
      },
    ],
  );
}

/**
 * `endedFor` ends a policy only where an earlier revision reached: a municipality no earlier revision reached
 * would get the revision's effects up to the entry's day, a policy it never had. 400 naming the entry and its
 * municipalities; nothing is stored.
 */
function refuseUnreachedEndings(earlier: PolicyRevision[], next: PolicyRevision): void {
  const unreached = unreachedEndings(earlier, next);
  if (unreached.length === 0) return;
  const named = (codes: string[]) =>
    codes.length <= 5 ? codes.map((c) => `${MUNICIPALITIES[c]?.name ?? c} (${c})`).join(', ') : `${codes.length} municipalities (${codes.slice(0, 5).join(', ')}, …)`;
  const them = unreached.reduce((n, u) => n + u.municipalities.length, 0) === 1 ? 'it' : 'them';
  const before = earlier.length === 0 ? `${next.policyId} has no earlier revision` : `no earlier revision of ${next.policyId} reaches ${them}`;
  throw new ApiError(
    400,
    'invalid-request',
    `revision ${next.revision} of ${next.policyId} ends the policy for ${unreached.map((u) => named(u.municipalities)).join(', ')}, but ${before}: ` +
      `endedFor only ends the policy where an earlier revision was in force. To bring the policy there, put ${them} in scope.`,
    unreached.map((u) => ({
      field: `endedFor.${u.index}.scope`,
      problem: `names ${named(u.municipalities)}, which no earlier revision of ${next.policyId} reaches; endedFor only ends the policy where it was in force`,
    })),
  );
}

/** A revision as the registry stores and returns it: no empty endedFor, no empty legal reference. */
function asStored(p: PolicyRevision): PolicyRevision {
  const { endedFor, legalReference, ...rest } = p;
  return { ...rest, ...(legalReference ? { legalReference } : {}), ...(endedFor && endedFor.length > 0 ? { endedFor } : {}) };
}
