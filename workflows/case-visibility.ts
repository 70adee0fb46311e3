import { setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import { describe } from './case-details';
import { endOfCopenhagenDay } from './domain/dates';
import { timelineFingerprint } from './domain/fingerprint';
import { type PolicyRevision, type Timeline } from './domain/types';
import { policyKey } from './messages';
import {
  CaseFingerprintKey,
  CaseRevisionKey,
  CaseStatusKey,
  CategoryKey,
  ConversationModeKey,
  NextDeadlineKey,
  NextDeadlineKindKey,
  OverdueKey,
  PolicyIdsKey,
  PolicyRevisionsKey,
} from './search-attributes';

/**
 * Keeps the Temporal UI current: typed search attributes for filtering and details for reading. `convergence`
 * (the revisions applied and the change counter) is null for runs that began before they were published.
 */
export function publish(
  timeline: Timeline,
  published: { searchAttributes: string; convergence: boolean },
  convergence: { policyKeys: string[]; revision: number } | null,
  caseworkerPageUrl: string | undefined,
): void {
  const next = timeline.deadlines.find((d) => (d.status === 'pending' || d.status === 'paused') && d.dueDate !== null);
  const overdue = timeline.deadlines.some((d) => d.status === 'missed');
  const policyIds = timeline.policies.filter((p) => p.state !== 'superseded').map((p) => p.policyId);
  const attributes = [
    { key: CaseStatusKey, value: timeline.status },
    { key: CategoryKey, value: timeline.category === null ? null : String(timeline.category) },
    { key: NextDeadlineKey, value: next?.dueDate ? new Date(endOfCopenhagenDay(next.dueDate)) : null },
    { key: NextDeadlineKindKey, value: next?.kind ?? null },
    { key: ConversationModeKey, value: timeline.conversationMode },
    { key: OverdueKey, value: overdue },
    { key: PolicyIdsKey, value: policyIds.length > 0 ? policyIds : null },
    ...(convergence
      ? [
          { key: PolicyRevisionsKey, value: convergence.policyKeys.length > 0 ? convergence.policyKeys : null },
          { key: CaseRevisionKey, value: convergence.revision },
          { key: CaseFingerprintKey, value: timelineFingerprint(timeline) },
        ]
      : []),
  ] as const;
  published.convergence ||= convergence !== null;
  const fingerprint = JSON.stringify(attributes.map((a) => a.value));
  if (fingerprint !== published.searchAttributes) {
    published.searchAttributes = fingerprint;
    upsertSearchAttributes(attributes.map(({ key, value }) => ({ key, value })) as Parameters<typeof upsertSearchAttributes>[0]);
  }
  setCurrentDetails(describe(timeline, { caseworkerPageUrl }));
}

/**
 * The newest revision of each policy the case holds, as `policyId#revision`: what PolicyRevisions shows. A
 * fan-out and verify ask only about newest revisions (an older revision's fan-out stops once a newer one is
 * published), and the attribute stays small however often a policy is revised.
 */
export function newestPolicyKeys(policies: readonly PolicyRevision[]): string[] {
  const newest = new Map<string, number>();
  for (const p of policies) newest.set(p.policyId, Math.max(newest.get(p.policyId) ?? 0, p.revision));
  return [...newest].map(([policyId, revision]) => policyKey({ policyId, revision })).sort();
}
