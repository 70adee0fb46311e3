import { endOfCopenhagenDay, type IsoDate, startOfCopenhagenDay } from './domain/dates';
import { MUNICIPALITIES } from './domain/municipalities';
import { type Timeline } from './domain/types';

/**
 * What a caseworker reads in the Temporal UI: the case's current details (markdown) and what each timer
 * waits for. Deterministic and free of personal data: no CPR number, no name, no citizen reference.
 */

/** What the timer waits for, in the caseworker's terms: "Første opfølgningssamtale senest 2020-03-29". */
export function timerSummary(timeline: Timeline, wakeOn: IsoDate): string {
  const due = timeline.deadlines.find(
    (d) => (d.status === 'pending' || d.status === 'paused') && d.dueDate !== null && endOfCopenhagenDay(d.dueDate) === startOfCopenhagenDay(wakeOn),
  );
  if (due) return `${due.title} senest ${due.dueDate}`;
  const policy = timeline.policies.find((p) => p.effectiveFrom === wakeOn || (p.effectiveTo && endOfCopenhagenDay(p.effectiveTo) === startOfCopenhagenDay(wakeOn)));
  return policy ? `Politikændring: ${policy.title} (${wakeOn})` : `Næste ændring ${wakeOn}`;
}

const STATUS_DA: Record<string, string> = {
  pending: 'afventer',
  met: 'opfyldt',
  missed: 'overskredet',
  paused: 'i bero',
  waived: 'frafaldet',
};

const MODE_DA: Record<string, string> = {
  'in-person': 'personligt fremmøde',
  phone: 'telefon',
  video: 'video',
  'citizen-choice': 'borgerens valg (telefon, video eller fremmøde)',
};

/** Current details (markdown) for the Temporal UI: no CPR number, no name, no citizen reference. */
export function describe(t: Timeline): string {
  const municipality = MUNICIPALITIES[t.municipality]?.name ?? t.municipality;
  const lines = [
    `**Sag ${t.caseId}** · ${municipality} (${t.municipality}) · første fraværsdag ${t.firstAbsenceDay} · regelsæt ${t.ruleSetId}`,
    `Status: ${t.status === 'open' ? 'åben' : t.status === 'job-clarification' ? 'overgået til jobafklaring' : `afsluttet ${t.closedOn} (${t.closedReason})`}` +
      ` · kategori ${t.category ?? 'ikke visiteret'} · revurdering senest ${t.reviewPoint}`,
    `Samtaleform: ${MODE_DA[t.conversationMode]}${t.consentRequired ? ' (kræver borgerens samtykke)' : ''}`,
    '',
    '**Frister**',
  ];
  const open = t.deadlines.filter((d) => d.status !== 'met');
  for (const d of (open.length > 0 ? open : t.deadlines).slice(0, 6)) {
    const when = d.dueDate ?? 'i bero';
    const late = d.status === 'missed' ? `, ${d.daysLate} dage over` : '';
    const mode = d.mode ? `, ${MODE_DA[d.mode]}` : '';
    lines.push(`- ${d.title} senest ${when}: ${STATUS_DA[d.status]}${late}${mode}`);
  }
  const active = t.policies.filter((p) => p.state === 'active' || p.state === 'scheduled');
  if (active.length > 0) {
    lines.push('', '**Politikændringer**');
    for (const p of active) lines.push(`- ${p.title} (${p.policyId} rev. ${p.revision}) fra ${p.effectiveFrom}${p.effectiveTo ? ` til ${p.effectiveTo}` : ', uden slutdato'}`);
  }
  return lines.join('\n');
}
