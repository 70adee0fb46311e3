import { endOfCopenhagenDay, type IsoDate, startOfCopenhagenDay } from './domain/dates';
import { MUNICIPALITIES } from './domain/municipalities';
import { type ConversationMode } from './domain/rules';
import { type CaseFacts, type ClosedReason, type Deadline, type DeadlineKind, type DeadlineStatus, type Employment, type Timeline } from './domain/types';

/**
 * What a caseworker reads in the Temporal UI: the case's current details (markdown) and what each timer
 * waits for. Deterministic and free of personal data: no CPR number, no name, no citizen reference.
 *
 * How Temporal UI 2.42.1 shows current details (looked at in Chromium): its server renders the markdown
 * (Go, CommonMark-like) into an iframe with the browser's default styles. A line break inside a
 * paragraph is not kept and a list must follow a blank line, so every line a caseworker should see on
 * its own is a list item. Tables render, but wrap badly in the narrow panel; images and HTML are not
 * used. The iframe is sized once, to its body's scrollHeight + 2 px, which leaves out the first
 * element's top margin: the last ~14 px of the content would be cut off. The details therefore end with a
 * paragraph holding only a no-break space, an empty line that may be cut instead.
 */

export const STATUS_DA: Record<DeadlineStatus, string> = {
  pending: 'afventer',
  met: 'opfyldt',
  missed: 'overskredet',
  paused: 'i bero',
  waived: 'frafaldet',
};

export const MODE_DA: Record<ConversationMode, string> = {
  'in-person': 'personligt fremmøde',
  phone: 'telefon',
  video: 'video',
  'citizen-choice': 'borgerens valg (telefon, video eller fremmøde)',
};

const EMPLOYMENT_DA: Record<Employment, string> = {
  employee: 'lønmodtager',
  unemployed: 'ledig',
  'self-employed': 'selvstændig',
};

export const CLOSED_DA: Record<ClosedReason, string> = {
  recovered: 'raskmeldt',
  'benefit-stopped': 'ydelsen bortfaldet',
  'job-clarification': 'jobafklaringsforløb',
};

/** The case's state in words: åben, overgået til jobafklaringsforløb, afsluttet <date> (<why>). */
export function caseStatusDa(t: Timeline): string {
  if (t.status === 'open') return 'åben';
  if (t.status === 'job-clarification') return 'overgået til jobafklaringsforløb';
  return `afsluttet ${t.closedOn}${t.closedReason ? ` (${CLOSED_DA[t.closedReason]})` : ''}`;
}

/**
 * How many deadlines of each kind a list has, counted once per list: the details, the picture and the
 * caseworker page label every deadline of a timeline, and counting for each would make that work grow with
 * the deadlines squared. The engine does not change a timeline's deadlines once made; a list that grew or
 * shrank since it was counted is counted again.
 */
const kindCounts = new WeakMap<readonly Deadline[], { length: number; counts: Map<DeadlineKind, number> }>();

function countOfKind(all: readonly Deadline[], kind: DeadlineKind): number {
  let counted = kindCounts.get(all);
  if (counted?.length !== all.length) {
    counted = { length: all.length, counts: new Map() };
    for (const d of all) counted.counts.set(d.kind, (counted.counts.get(d.kind) ?? 0) + 1);
    kindCounts.set(all, counted);
  }
  return counted.counts.get(kind) ?? 0;
}

/**
 * The deadline's name as a caseworker tells it apart from its siblings: follow-up conversations are
 * numbered ("Opfølgningssamtale 2"), other kinds only when the case has more than one of them.
 */
export function deadlineLabel(d: Deadline, all: readonly Deadline[]): string {
  const n = /-(\d+)$/.exec(d.id)?.[1];
  if (!n) return d.title;
  if (d.kind === 'follow-up-conversation' || countOfKind(all, d.kind) > 1) return `${d.title} ${n}`;
  return d.title;
}

/** Why the deadline is not where the rule alone puts it: the reasons after the rule's own (policies, decisions). */
export function whyMoved(d: Deadline): string[] {
  return d.reasons.slice(1);
}

/**
 * What the timer waits for, in the caseworker's terms. The text depends on exactly what it did before
 * (the deadline's title and due date, or the policy's title and the wake-up date), so a change that keeps
 * the wake-up keeps the timer as before (case-workflow.ts compares summaries).
 */
export function timerSummary(timeline: Timeline, wakeOn: IsoDate): string {
  const due = timeline.deadlines.find(
    (d) => (d.status === 'pending' || d.status === 'paused') && d.dueDate !== null && endOfCopenhagenDay(d.dueDate) === startOfCopenhagenDay(wakeOn),
  );
  if (due) return `${due.title} senest ${due.dueDate} · overskredet fra ${wakeOn}, hvis ikke opfyldt`;
  const policy = timeline.policies.find((p) => p.effectiveFrom === wakeOn || (p.effectiveTo && endOfCopenhagenDay(p.effectiveTo) === startOfCopenhagenDay(wakeOn)));
  if (policy) return policy.effectiveFrom === wakeOn ? `Politikændring træder i kraft ${wakeOn}: ${policy.title}` : `Politikændring ophører ${wakeOn}: ${policy.title}`;
  return `Sagen genberegnes ${wakeOn}`;
}

/** Free text (policy titles, reasons) as literal markdown: no links, emphasis or HTML of its own. */
export function markdownText(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>~&]/g, (c) => `\\${c}`);
}

/** One line per deadline: name, status, due date (and where the rule alone put it), days late, mode, and why it moved. */
function deadlineLine(d: Deadline, all: readonly Deadline[]): string {
  const parts = [`**${markdownText(deadlineLabel(d, all))}**`, d.status === 'missed' ? `**${STATUS_DA[d.status]}**` : STATUS_DA[d.status]];
  const original = d.dueDate !== d.originalDueDate ? `oprindelig ${d.originalDueDate}` : null;
  parts.push(d.dueDate ? `senest ${d.dueDate}${original ? ` (${original})` : ''}` : `uden dato, til pausen får en slutdato (${original})`);
  if (d.status === 'missed' && d.daysLate !== null) parts.push(`${d.daysLate} ${d.daysLate === 1 ? 'dag' : 'dage'} over`);
  if (d.status === 'met' && d.metOn) parts.push(`opfyldt ${d.metOn}${d.daysLate ? `, ${d.daysLate} dage for sent` : ''}`);
  if (d.mode) parts.push(MODE_DA[d.mode]);
  const why = whyMoved(d);
  if (why.length > 0) parts.push(why.map(markdownText).join('; '));
  return `- ${parts.join(' · ')}`;
}

export interface DetailLinks {
  /** The case's page at the API (timeline picture and deadline table). */
  caseworkerPageUrl?: string;
}

/** A markdown link whose target survives any URL: a target ends at a space or a closing parenthesis. */
function markdownLink(text: string, url: string): string {
  const target = url.replace(/[()\s]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
  return `[${markdownText(text)}](${target})`;
}

/** The details a case is started with (the UI's Details panel): what does not change, and where its page is. */
export function staticDetails(facts: CaseFacts, links: DetailLinks = {}): string {
  const lines = [
    `- Ansættelse: ${EMPLOYMENT_DA[facts.employment]}${facts.employerPeriodDays !== undefined ? ` · arbejdsgiverperiode ${facts.employerPeriodDays} dage` : ''}`,
    '- Frister, status og politikændringer nu: **Current Details**',
  ];
  if (links.caseworkerPageUrl) lines.push(`- ${markdownLink('Tidslinje og alle frister', links.caseworkerPageUrl)}`);
  lines.push('', '\u00a0');
  return lines.join('\n');
}

/** Current details (markdown) for the Temporal UI: no CPR number, no name, no citizen reference. */
export function describe(t: Timeline, links: DetailLinks = {}): string {
  const municipality = MUNICIPALITIES[t.municipality]?.name ?? t.municipality;
  const lines = [
    `**Sag ${markdownText(t.caseId)}** · ${municipality} (${t.municipality}) · første fraværsdag ${t.firstAbsenceDay}`,
    '',
    `- Status: **${caseStatusDa(t)}** · kategori ${t.category ?? 'ikke visiteret'} · regelsæt ${t.ruleSetId}`,
    `- Samtaleform nu: ${MODE_DA[t.conversationMode]}${t.consentRequired ? ' (kræver borgerens samtykke)' : ''}`,
    '',
    `**Frister pr. ${t.asOf}**`,
    '',
  ];
  // Open deadlines and the waived ones (they explain why a chain moved); met ones are counted, and shown
  // on the caseworker page.
  const shown = t.deadlines.filter((d) => d.status !== 'met');
  for (const d of shown) lines.push(deadlineLine(d, t.deadlines));
  const met = t.deadlines.length - shown.length;
  if (shown.length === 0) lines.push('- Ingen åbne frister');
  if (met > 0) lines.push(`- ${met} ${met === 1 ? 'frist' : 'frister'} opfyldt (se tidslinjen)`);

  const inForce = t.policies.filter((p) => p.state === 'active' || p.state === 'scheduled');
  if (inForce.length > 0) {
    lines.push('', '**Politikændringer**', '');
    for (const p of inForce) {
      const period = `${p.state === 'active' ? 'i kraft' : 'planlagt'} fra ${p.effectiveFrom}${p.effectiveTo ? ` til ${p.effectiveTo}` : ', uden slutdato'}`;
      lines.push(`- ${markdownText(p.title)} (${markdownText(p.policyId)} rev. ${p.revision}) · ${period}`);
    }
  }
  if (links.caseworkerPageUrl) lines.push('', markdownLink('Tidslinje og alle frister', links.caseworkerPageUrl));
  // See the module comment: an empty last line for the UI's iframe to cut off.
  lines.push('', '\u00a0');
  return lines.join('\n');
}
