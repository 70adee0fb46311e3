import { setTimeout as delay } from 'node:timers/promises';
import { type Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { CASE_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';

const indexed = temporal.api.enums.v1.IndexedValueType;
const INDEXED_TYPES: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  KEYWORD: indexed.INDEXED_VALUE_TYPE_KEYWORD,
  TEXT: indexed.INDEXED_VALUE_TYPE_TEXT,
  DATETIME: indexed.INDEXED_VALUE_TYPE_DATETIME,
  BOOL: indexed.INDEXED_VALUE_TYPE_BOOL,
  KEYWORD_LIST: indexed.INDEXED_VALUE_TYPE_KEYWORD_LIST,
  INT: indexed.INDEXED_VALUE_TYPE_INT,
  DOUBLE: indexed.INDEXED_VALUE_TYPE_DOUBLE,
};

/** The case search attributes (workflows/search-attributes.ts) as the operator API takes them. */
export function caseSearchAttributeTypes(): Record<string, temporal.api.enums.v1.IndexedValueType> {
  return Object.fromEntries(CASE_SEARCH_ATTRIBUTES.map((key) => [key.name, INDEXED_TYPES[key.type]!]));
}

/** How long the cases' history is kept after a case closes, in a namespace this module creates. */
export const NAMESPACE_RETENTION_DAYS = 30;

/**
 * The namespace and the case search attributes, through the API as production creates them (the frontend
 * answers once the server is up; the namespace then reaches every service's namespace cache within its
 * refresh interval, 2 s). Idempotent: an existing namespace and attributes of the same type are left as they are.
 */
export async function prepareNamespace(connection: Connection, namespace: string): Promise<{ namespaceCreated: boolean; attributesAdded: string[] }> {
  let namespaceCreated = false;
  try {
    await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs(`${NAMESPACE_RETENTION_DAYS} days`) });
    namespaceCreated = true;
  } catch (err) {
    if ((err as { code?: number }).code !== 6) throw err; // ALREADY_EXISTS
  }
  const wanted = caseSearchAttributeTypes();
  // A namespace just created is not yet in the frontend's cache: the operator API answers NotFound until it is.
  const existing = await retry(async () => (await connection.operatorService.listSearchAttributes({ namespace })).customAttributes ?? {}, 'list search attributes', 30_000);
  const wrongType = Object.entries(wanted).filter(([name, type]) => name in existing && existing[name] !== type);
  if (wrongType.length > 0) {
    throw new Error(`namespace ${namespace} has search attributes of another type: ${wrongType.map(([n]) => `${n} is ${indexed[existing[n]!]}, not ${indexed[wanted[n]!]}`).join('; ')}`);
  }
  const missing = Object.fromEntries(Object.entries(wanted).filter(([name]) => !(name in existing)));
  if (Object.keys(missing).length > 0) {
    await retry(() => connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing }), 'add search attributes', 30_000);
  }
  // Usable once visibility's query converter knows every one of them (the namespace cache refreshed).
  const probe = Object.keys(wanted).map((name) => `${name} IS NULL`).join(' AND ');
  await retry(() => connection.workflowService.countWorkflowExecutions({ namespace, query: probe }), 'query by the case search attributes', 30_000);
  return { namespaceCreated, attributesAdded: Object.keys(missing) };
}

async function retry<T>(attempt: () => Promise<T>, what: string, withinMs: number): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: still failing after ${withinMs / 1000} s: ${String(err)}`);
      await delay(250);
    }
  }
}
