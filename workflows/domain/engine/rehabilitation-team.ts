import { type RuleSet } from '../rules';
import { type CaseEvent, type Category, type Deadline } from '../types';
import { type CategoryChange } from './categories';
import { type Ctx, push } from './deadline';

/** T9: category 3 goes before the rehabilitation team within 28 days after each visitation into it. */
export function rehabilitationTeamDeadlines(ctx: Ctx, out: Deadline[], sorted: CaseEvent[], categories: CategoryChange[], ruleSet: RuleSet) {
  const r = ruleSet.rules;
  const meetings = sorted.filter((e) => e.type === 'rehabilitation-team-held');
  let previous: Category | null = null;
  let n = 0;
  let next = 0;
  for (const change of categories) {
    if (change.category === 3 && previous !== 3) {
      while (meetings[next] && meetings[next]!.occurredOn < change.on) next++;
      const meeting = meetings[next];
      if (meeting) next++;
      n++;
      push(ctx, out, {
        id: `rehabilitation-team-${n}`,
        kind: 'rehabilitation-team',
        anchor: change.on,
        days: r.rehabilitationTeamDays.value,
        met: meeting?.occurredOn ?? null,
        reasons: [`Visiteret til kategori 3 ${change.on}; rehabiliteringsteam inden ${r.rehabilitationTeamDays.value} dage (${r.rehabilitationTeamDays.ref})`],
      });
    }
    previous = change.category;
  }
}
