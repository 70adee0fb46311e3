import { type JsonSchema } from './operation';

/* The JSON bodies of the API's answers, as JSON Schema, and the helpers that write them. */

export const str = { type: 'string' } as const;
export const int = { type: 'integer' } as const;
export const date = { type: 'string', format: 'date' } as const;
export const nullable = (schema: JsonSchema): JsonSchema => ({ anyOf: [schema, { type: 'null' }] });
export const object = (properties: Record<string, JsonSchema>, required: string[] = Object.keys(properties)): JsonSchema => ({ type: 'object', required, properties });
export const arrayOf = (items: JsonSchema): JsonSchema => ({ type: 'array', items });

const deadline = object(
  { id: str, kind: str, title: str, dueDate: nullable(date), originalDueDate: date, status: str, metOn: nullable(date), daysLate: nullable(int), reasons: arrayOf(str), policyIds: arrayOf(str) },
  ['id', 'kind', 'title', 'dueDate', 'originalDueDate', 'status', 'metOn', 'daysLate', 'reasons', 'policyIds'],
);
export const timeline = object(
  {
    caseId: str,
    municipality: str,
    firstAbsenceDay: date,
    employment: str,
    ruleSetId: str,
    asOf: date,
    status: { enum: ['open', 'job-clarification', 'closed'] },
    closedOn: nullable(date),
    reviewPoint: date,
    deadlines: arrayOf(deadline),
    policies: arrayOf(object({ policyId: str, revision: int, state: str }, ['policyId', 'revision', 'state'])),
    nextChangeOn: nullable(date),
  },
  ['caseId', 'municipality', 'firstAbsenceDay', 'status', 'reviewPoint', 'deadlines', 'policies'],
);
export const caseView = { ...timeline, properties: { ...(timeline.properties as object), workflowId: str, temporalUiUrl: str, caseworkerPageUrl: str }, required: [...(timeline.required as string[]), 'workflowId', 'temporalUiUrl', 'caseworkerPageUrl'] };
const fanout = object({ workflowId: str, kind: { enum: ['publish', 'resend'] }, status: { enum: ['pending', 'running', 'completed', 'superseded', 'abandoned'] }, matched: int, signalled: int, failed: int, passes: int, missing: nullable(int) }, ['workflowId', 'kind', 'status']);
export const revision = object(
  { policyId: str, revision: int, title: str, effectiveFrom: date, effectiveTo: nullable(date), scope: { type: 'object' }, effects: arrayOf({ type: 'object' }), state: { enum: ['scheduled', 'active', 'ended'] }, applied: int, fanouts: arrayOf(fanout) },
  ['policyId', 'revision', 'title', 'effectiveFrom', 'scope', 'effects', 'state', 'applied', 'fanouts'],
);
export const policy = { ...revision, properties: { ...(revision.properties as object), history: arrayOf(revision) }, required: [...(revision.required as string[]), 'history'] };
export const reportRow = object({ caseId: str, municipality: str, deadlineId: str, kind: str, dueDate: date }, ['caseId', 'municipality', 'deadlineId', 'kind', 'dueDate']);
/** The reach of a bound key's report (absent for a national key). */
export const reach = { municipalities: arrayOf(str) };
