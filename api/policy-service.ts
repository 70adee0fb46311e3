import { type Client } from '@temporalio/client';
import { type TemporalSettings } from '../platform/config';
import { type Db } from '../platform/db';
import { copenhagenDate } from '../workflows/domain/dates';
import { type PolicyRevision } from '../workflows/domain/types';
import { type PolicyFanoutInput, policyFanoutWorkflowId, POLICY_FANOUT_WORKFLOW_TYPE } from '../workflows/messages';
import { canonical } from './canonical';
import { ApiError } from './errors';
import { type FanoutRow, type PolicyRegistry, type StoredRevision } from './policy-registry';

export type FanoutView = Omit<FanoutRow, 'policyId' | 'revision'>;

export interface RevisionView extends StoredRevision {
  state: 'scheduled' | 'active' | 'ended';
  /** Cases whose timeline carries this revision. */
  applied: number;
  fanouts: FanoutView[];
}

export interface PolicyView extends RevisionView {
  history: RevisionView[];
}

/** Publishing, lifting, listing and re-sending policy changes. */
export function createPolicyService(deps: { client: Client; db: Db; registry: PolicyRegistry; temporal: TemporalSettings; signalsPerSecond: number }) {
  const { client, db, registry, temporal } = deps;

  const startFanout = (workflowId: string, policy: PolicyRevision, kind: 'publish' | 'resend') => {
    const input: PolicyFanoutInput = { policy, kind, signalsPerSecond: deps.signalsPerSecond };
    return client.workflow.start(POLICY_FANOUT_WORKFLOW_TYPE, {
      workflowId,
      taskQueue: temporal.taskQueue,
      args: [input],
      workflowIdConflictPolicy: 'FAIL',
      staticSummary: `Udsendelse af ${policy.title} (${policy.policyId} rev. ${policy.revision}${kind === 'resend' ? ', gensendt' : ''})`,
    });
  };

  const stateOf = (p: StoredRevision): RevisionView['state'] => {
    const today = copenhagenDate(Date.now());
    return today < p.effectiveFrom ? 'scheduled' : p.effectiveTo && today > p.effectiveTo ? 'ended' : 'active';
  };

  const view = (p: StoredRevision, fanouts: FanoutRow[], applied: Map<string, number>): RevisionView => ({
    ...p,
    state: stateOf(p),
    applied: applied.get(`${p.policyId}#${p.revision}`) ?? 0,
    fanouts: fanouts
      .filter((f) => f.policyId === p.policyId && f.revision === p.revision)
      .map(({ policyId: _p, revision: _r, ...f }) => f),
  });

  return {
    /**
     * Stores a new revision and starts its fan-out, atomically: if the fan-out cannot start, nothing is
     * stored. The same policyId and revision again (same content) does nothing.
     */
    async publish(policy: PolicyRevision): Promise<{ created: boolean; policy: PolicyView }> {
      const created = await db.transaction(async (tx) => {
        await registry.lock(tx, policy.policyId);
        const stored = await registry.revisions(policy.policyId, tx);
        const same = stored.find((s) => s.revision === policy.revision);
        if (same) {
          const { publishedAt: _at, ...content } = same;
          if (canonical(content) !== canonical(policy)) {
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
        await registry.insert(tx, policy);
        const workflowId = policyFanoutWorkflowId(policy.policyId, policy.revision);
        await registry.insertFanout(tx, { workflowId, policyId: policy.policyId, revision: policy.revision, kind: 'publish' });
        await startFanout(workflowId, policy, 'publish');
        return true;
      });
      // Cases this API starts from now on read the registry again (the transaction has committed).
      if (created) registry.forgetCurrent();
      return { created, policy: await this.get(policy.policyId) };
    },

    /** Runs the fan-out of a policy's newest revision again; cases that have it already ignore it. */
    async resend(policyId: string): Promise<{ workflowId: string; policy: PolicyView }> {
      const [newest] = await registry.revisions(policyId);
      if (!newest) throw new ApiError(404, 'policy-not-found', `No policy ${policyId}`);
      const { publishedAt: _at, ...policy } = newest;
      const workflowId = await db.transaction(async (tx) => {
        await registry.lock(tx, policyId);
        const id = policyFanoutWorkflowId(policyId, newest.revision, (await registry.resendCount(policyId, newest.revision)) + 1);
        await registry.insertFanout(tx, { workflowId: id, policyId, revision: newest.revision, kind: 'resend' });
        await startFanout(id, policy, 'resend');
        return id;
      });
      return { workflowId, policy: await this.get(policyId) };
    },

    async list(): Promise<RevisionView[]> {
      const [latest, fanouts, applied] = await Promise.all([registry.latest(), registry.fanouts(), registry.appliedCounts()]);
      return latest.map((p) => view(p, fanouts, applied));
    },

    async get(policyId: string): Promise<PolicyView> {
      const [revisions, fanouts, applied] = await Promise.all([registry.revisions(policyId), registry.fanouts(policyId), registry.appliedCounts(policyId)]);
      if (revisions.length === 0) throw new ApiError(404, 'policy-not-found', `No policy ${policyId}`);
      const [newest, ...older] = revisions.map((r) => view(r, fanouts, applied));
      return { ...newest!, history: older };
    },
  };
}

export type PolicyService = ReturnType<typeof createPolicyService>;
