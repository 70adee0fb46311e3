import {
  type Client,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { type TemporalSettings } from '../platform/config';
import { copenhagenDate } from '../workflows/domain/dates';
import { ruleSetFor } from '../workflows/domain/rules';
import { computeTimeline } from '../workflows/domain/timeline';
import { MUNICIPALITIES } from '../workflows/domain/municipalities';
import { type CaseEvent, type CaseFacts, type Timeline } from '../workflows/domain/types';
import {
  CaseErrorType,
  caseFactsQuery,
  caseWorkflowId,
  type CaseWorkflowInput,
  policyKey,
  reportEventUpdate,
  timelineQuery,
} from '../workflows/messages';
import { caseStartSearchAttributes, MunicipalityKey } from '../workflows/search-attributes';
import { staticDetails } from '../workflows/case-details';
import { canonical } from './canonical';
import { ApiError } from './errors';
import { type PolicyRegistry } from '../policies/registry';

export interface CaseView extends Timeline {
  workflowId: string;
  temporalUiUrl: string;
  /** The case's page for caseworkers at the API: timeline picture and deadline table. */
  caseworkerPageUrl: string;
}

/** The municipalities a key is bound to (api/auth.ts); undefined for a national key, which reaches every case. */
export type Reach = readonly string[] | undefined;

/** One answer for an unknown case and for a case the key does not reach, so a bound key learns nothing of other municipalities' ids. */
const caseNotFound = (caseId: string) => new ApiError(404, 'case-not-found', `No case ${caseId}`);

/** The caseworker page of a case (api/routes/caseworker.ts) under the API's public address. */
export const caseworkerPageUrl = (publicUrl: string, caseId: string): string => `${publicUrl}/caseworker/cases/${encodeURIComponent(caseId)}`;

/**
 * Use cases of the case API, on top of the Temporal client. `publicUrl` is the API's address as caseworkers'
 * browsers reach it (API_PUBLIC_URL): a case's details in the Temporal UI link to its page there.
 */
export function createCaseService(client: Client, temporal: TemporalSettings, registry: PolicyRegistry, publicUrl = 'http://localhost:3000') {
  const view = (timeline: Timeline): CaseView => {
    const workflowId = caseWorkflowId(timeline.caseId);
    return {
      ...timeline,
      workflowId,
      temporalUiUrl: `${temporal.uiUrl}/namespaces/${encodeURIComponent(temporal.namespace)}/workflows/${encodeURIComponent(workflowId)}`,
      caseworkerPageUrl: caseworkerPageUrl(publicUrl, timeline.caseId),
    };
  };

  /**
   * After a failed update: "no such workflow" is a 404 and "workflow finished" a 409 (the server reports
   * an update to a closed workflow as not found, so ask which it is).
   */
  async function caseGone(caseId: string, err: unknown): Promise<never> {
    const description = await client.workflow
      .getHandle(caseWorkflowId(caseId))
      .describe()
      .catch((e: unknown) => {
        if (e instanceof WorkflowNotFoundError) throw caseNotFound(caseId);
        throw e;
      });
    if (description.status.name !== 'RUNNING') throw new ApiError(409, 'case-closed', `Case ${caseId} is closed (${description.status.name.toLowerCase()})`);
    throw err;
  }

  /**
   * A bound key reaches a case only in its municipalities; otherwise the case is "not found". The municipality
   * comes from the case's search attribute (plain text by design), so the case's own payloads are not read.
   */
  async function ensureReach(caseId: string, reach: Reach): Promise<void> {
    if (reach === undefined) return;
    const handle = client.workflow.getHandle(caseWorkflowId(caseId));
    const description = await handle.describe().catch((e: unknown) => {
      if (e instanceof WorkflowNotFoundError) throw caseNotFound(caseId);
      throw e;
    });
    const municipality = description.typedSearchAttributes.get(MunicipalityKey) ?? (await handle.query(caseFactsQuery)).facts.municipality;
    if (!reach.includes(municipality)) throw caseNotFound(caseId);
  }

  return {
    /**
     * Starts the case's workflow; the same facts again return the existing case, different facts are a conflict.
     * A bound key may start cases in its municipalities only (403: the caller named the municipality itself).
     */
    async openCase(facts: CaseFacts, reach?: Reach): Promise<{ created: boolean; case: CaseView }> {
      if (reach !== undefined && !reach.includes(facts.municipality)) {
        throw new ApiError(403, 'municipality-not-allowed', `This key may start cases in ${reach.join(', ')} only, not in ${facts.municipality}`, [
          { field: 'municipality', problem: `not one of the key's municipalities (${reach.join(', ')})` },
        ]);
      }
      const workflowId = caseWorkflowId(facts.caseId);
      // A case started during a suspension is suspended from its first day: it inherits the policies in
      // force in its scope. A fan-out running meanwhile may signal it too; a case applies a revision once.
      const { position, policies } = await registry.inheritedBy(facts.municipality);
      const input: CaseWorkflowInput = { facts, policies, registryPosition: position, caseworkerPageUrl: caseworkerPageUrl(publicUrl, facts.caseId) };
      let created = true;
      try {
        await client.workflow.start('caseWorkflow', {
          workflowId,
          taskQueue: temporal.taskQueue,
          args: [input],
          workflowIdConflictPolicy: 'FAIL',
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          typedSearchAttributes: caseStartSearchAttributes(facts.caseId, facts.municipality, policies.map(policyKey)),
          staticSummary: `Sygedagpengesag ${facts.caseId} · ${MUNICIPALITIES[facts.municipality]?.name ?? ''} (${facts.municipality}) · første fraværsdag ${facts.firstAbsenceDay}`,
          staticDetails: staticDetails(facts, { caseworkerPageUrl: input.caseworkerPageUrl }),
        });
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        created = false;
      }
      const today = copenhagenDate(Date.now());
      if (created) {
        // A new case has no events yet: its timeline is the engine's on the facts and the inherited
        // policies, exactly what the workflow computes on its first task, without waiting for a worker.
        return { created, case: view(computeTimeline(facts, [], policies, ruleSetFor(facts.firstAbsenceDay), today)) };
      }
      const handle = client.workflow.getHandle(workflowId);
      const existing = await handle.query(caseFactsQuery);
      if (reach !== undefined && !reach.includes(existing.facts.municipality)) {
        // Case ids are one namespace for the whole country: the id is taken, but by whom and with what is not this key's business.
        throw new ApiError(409, 'case-exists', `Case ${facts.caseId} already exists with different data`, null);
      }
      if (canonical(existing.facts) !== canonical(facts)) {
        throw new ApiError(409, 'case-exists', `Case ${facts.caseId} already exists with different data`, {
          fields: differingFields(existing.facts, facts),
        });
      }
      return { created, case: view(await handle.query(timelineQuery, today)) };
    },

    async getCase(caseId: string, reach?: Reach): Promise<CaseView> {
      await ensureReach(caseId, reach);
      let timeline: Timeline;
      try {
        timeline = await client.workflow.getHandle(caseWorkflowId(caseId)).query(timelineQuery, copenhagenDate(Date.now()));
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) throw caseNotFound(caseId);
        throw err;
      }
      if (reach !== undefined && !reach.includes(timeline.municipality)) throw caseNotFound(caseId);
      return view(timeline);
    },

    /**
     * Reports an event through the workflow's update; a rejected event is a 400 with the workflow's reason, and
     * one past a case's limits (CASE_LIMITS) a 409 naming the limit. Either way the case did not change.
     */
    async reportEvent(caseId: string, event: CaseEvent, reach?: Reach): Promise<{ applied: boolean; case: CaseView }> {
      await ensureReach(caseId, reach);
      try {
        const result = await client.workflow.getHandle(caseWorkflowId(caseId)).executeUpdate(reportEventUpdate, { args: [event] });
        return { applied: result.applied, case: view(result.timeline) };
      } catch (err) {
        const cause = err instanceof WorkflowUpdateFailedError ? err.cause : undefined;
        if (cause instanceof ApplicationFailure && cause.type === CaseErrorType.EventRejected) {
          throw new ApiError(400, 'event-rejected', cause.message, { eventId: event.eventId, reason: cause.message });
        }
        if (cause instanceof ApplicationFailure && cause.type === CaseErrorType.CaseLimitReached) {
          const limit = cause.details?.[0] as { name: string; max: number } | undefined;
          throw new ApiError(409, 'case-limit-reached', `Case ${caseId} is full: ${cause.message}`, {
            eventId: event.eventId,
            limit: limit?.name ?? null,
            max: limit?.max ?? null,
            reason: cause.message,
          });
        }
        if (cause instanceof ApplicationFailure && cause.type === CaseErrorType.CaseClosed) {
          throw new ApiError(409, 'case-closed', `Case ${caseId} is closed: ${cause.message}`, { eventId: event.eventId, reason: cause.message });
        }
        return caseGone(caseId, err);
      }
    },
  };
}

export type CaseService = ReturnType<typeof createCaseService>;

function differingFields(a: CaseFacts, b: CaseFacts): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof CaseFacts>;
  // citizenRef is named but never echoed.
  return [...keys].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).sort();
}
