import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Typed search attributes of a case workflow: what a caseworker filters on in the Temporal UI
 * (e.g. `Overdue = true AND Municipality = '101'`). None of them carries personal data.
 * The local stack and the test servers register exactly this list.
 */
export const CaseIdKey = defineSearchAttributeKey('CaseId', SearchAttributeType.KEYWORD);
export const MunicipalityKey = defineSearchAttributeKey('Municipality', SearchAttributeType.KEYWORD);
export const CaseStatusKey = defineSearchAttributeKey('CaseStatus', SearchAttributeType.KEYWORD);
export const CategoryKey = defineSearchAttributeKey('Category', SearchAttributeType.KEYWORD);
export const NextDeadlineKey = defineSearchAttributeKey('NextDeadline', SearchAttributeType.DATETIME);
export const NextDeadlineKindKey = defineSearchAttributeKey('NextDeadlineKind', SearchAttributeType.KEYWORD);
export const ConversationModeKey = defineSearchAttributeKey('ConversationMode', SearchAttributeType.KEYWORD);
export const OverdueKey = defineSearchAttributeKey('Overdue', SearchAttributeType.BOOL);
export const PolicyIdsKey = defineSearchAttributeKey('PolicyIds', SearchAttributeType.KEYWORD_LIST);
/**
 * Every policy revision the case has applied, as `policyId#revision`: what a fan-out and verify ask
 * visibility for ("open cases in scope that lack revision N", policy-fanout-workflow.ts).
 */
export const PolicyRevisionsKey = defineSearchAttributeKey('PolicyRevisions', SearchAttributeType.KEYWORD_LIST);
/** The case's change counter, which its read-model row carries too: verify compares the two. */
export const CaseRevisionKey = defineSearchAttributeKey('CaseRevision', SearchAttributeType.INT);
/**
 * The fingerprint of the case's current snapshot (workflows/domain/fingerprint.ts), which its read-model row
 * carries too: verify compares content, so a row at the right revision with other content is found.
 */
export const CaseFingerprintKey = defineSearchAttributeKey('CaseFingerprint', SearchAttributeType.KEYWORD);

export const CASE_SEARCH_ATTRIBUTES = [
  CaseIdKey,
  MunicipalityKey,
  CaseStatusKey,
  CategoryKey,
  NextDeadlineKey,
  NextDeadlineKindKey,
  ConversationModeKey,
  OverdueKey,
  PolicyIdsKey,
  PolicyRevisionsKey,
  CaseRevisionKey,
  CaseFingerprintKey,
] as const;

/** `Name=Type` pairs as `temporal server start-dev --search-attribute` takes them. */
export function searchAttributeCliArgs(): string[] {
  const cliType: Record<string, string> = {
    KEYWORD: 'Keyword',
    DATETIME: 'Datetime',
    BOOL: 'Bool',
    KEYWORD_LIST: 'KeywordList',
    INT: 'Int',
    TEXT: 'Text',
    DOUBLE: 'Double',
  };
  return CASE_SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=${cliType[key.type]}`]);
}

/**
 * What a new case is started with, so visibility lists it (by id, municipality and as open) before its first
 * task runs; with the policy revisions it inherited, so no fan-out lists it for one of them. The API, the
 * benchmarks and the tests start cases with these alone.
 */
export function caseStartSearchAttributes(caseId: string, municipality: string, inheritedPolicyKeys: readonly string[] = []) {
  return [
    { key: CaseIdKey, value: caseId },
    { key: MunicipalityKey, value: municipality },
    { key: CaseStatusKey, value: 'open' },
    ...(inheritedPolicyKeys.length > 0 ? [{ key: PolicyRevisionsKey, value: [...inheritedPolicyKeys].sort() }] : []),
  ];
}
