import { type CaseEvent, type CaseFacts, type PolicyRevision } from '../../workflows/domain/types';

let sequence = 0;

export function facts(overrides: Partial<CaseFacts> = {}): CaseFacts {
  return {
    caseId: 'SAG-2020-0001',
    citizenRef: 'REF-A1B2C3',
    municipality: '101',
    firstAbsenceDay: '2020-02-03',
    employment: 'employee',
    ...overrides,
  };
}

type WithoutEventId<T> = T extends unknown ? Omit<T, 'eventId'> & { eventId?: string } : never;

/** An event with a fresh eventId; pass one to repeat it. */
export function event(e: WithoutEventId<CaseEvent>): CaseEvent {
  return { ...e, eventId: e.eventId ?? `ev-${++sequence}` } as CaseEvent;
}

/** The order of 20 March 2020: follow-up conversations paused from that day, end not yet known. */
export function suspension2020(overrides: Partial<PolicyRevision> = {}): PolicyRevision {
  return {
    policyId: 'covid-suspension',
    revision: 1,
    title: 'Delvis suspension af beskæftigelsesindsatsen',
    legalReference: 'BEK nr. 221 af 20/03/2020',
    effectiveFrom: '2020-03-20',
    effectiveTo: null,
    scope: { type: 'all' },
    effects: [{ type: 'pauseDeadlines', kinds: ['first-conversation', 'follow-up-conversation'] }],
    ...overrides,
  };
}
