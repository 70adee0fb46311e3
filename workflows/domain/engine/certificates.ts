import { compareNatural } from '../compare';
import { addDays, daysBetween, type IsoDate } from '../dates';
import { certificateUnder } from '../effects';
import { type RuleSet } from '../rules';
import { type CaseEvent, type Deadline, type PolicyRevision } from '../types';
import { type Ctx, push } from './deadline';

/** T10, T11: requested certificates, and a renewal when a received certificate's validity (as the policies' effects leave it) runs out. */
export function certificateDeadlines(ctx: Ctx, out: Deadline[], sorted: CaseEvent[], policies: PolicyRevision[], ruleSet: RuleSet) {
  const r = ruleSet.rules;
  const received = sorted.filter((e) => e.type === 'certificate-received');
  let next = 0;
  sorted
    .filter((e) => e.type === 'certificate-requested')
    .forEach((request, i) => {
      while (received[next] && received[next]!.occurredOn < request.occurredOn) next++;
      const answer = received[next];
      if (answer) next++;
      push(ctx, out, {
        id: `certificate-${i + 1}`,
        kind: 'certificate',
        anchor: request.occurredOn,
        days: r.certificateDueDays.value,
        met: answer?.occurredOn ?? null,
        reasons: [`Anmodet ${request.occurredOn}; frist ${r.certificateDueDays.value} dage (${r.certificateDueDays.ref})`],
      });
    });

  received.forEach((certificate, i) => {
    if (certificate.type !== 'certificate-received') return;
    const stated = certificate.validUntil;
    const original = stated ?? addDays(certificate.occurredOn, r.certificateValidityDays.value);
    const { validUntil, reasons, extendedBy } = certificateUnder(policies, {
      receivedOn: certificate.occurredOn,
      original,
      validUntil: original,
      reasons: [
        stated
          ? `Attest modtaget ${certificate.occurredOn}, gyldig til ${stated}`
          : `Attest modtaget ${certificate.occurredOn}; gyldig ${r.certificateValidityDays.value} dage (${r.certificateValidityDays.ref})`,
      ],
      extendedBy: [],
    });
    const renewal = received[i + 1];
    push(ctx, out, {
      id: `certificate-renewal-${i + 1}`,
      kind: 'certificate-renewal',
      anchor: certificate.occurredOn,
      days: daysBetween(certificate.occurredOn, validUntil),
      originalDueDate: original,
      met: renewal?.occurredOn ?? null,
      reasons,
      policyIds: extendedBy,
    });
  });
}

export function lastCertificateValidUntil(deadlines: Deadline[]): IsoDate | null {
  const renewals = deadlines.filter((d) => d.kind === 'certificate-renewal');
  const last = renewals.sort((a, b) => compareNatural(a.id, b.id))[renewals.length - 1];
  return last ? last.dueDate : null;
}
