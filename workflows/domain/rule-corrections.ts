import { type RuleSet } from './rules';

/**
 * Corrections of a rule set that running cases must pick up: a number found wrong, a reading of the law
 * revised (README, Safe deploys). A rule set is data every case keeps for years, and the engine's answer
 * decides which commands a case issues (whether its timer is cancelled and restarted, whether its search
 * attributes are upserted, when it completes). So a correction never edits `RULE_SETS` in place: it is
 * added here under a new id, and the case workflow applies it only behind `patched(id)`. A case replays
 * its past with the rule set it had then, and takes the correction from its next change on; a case that
 * starts later has it from the start. The API (what-if, a new case's first answer) applies every one.
 *
 * Each correction names the rule set it corrects, the rules it replaces (with their reference and
 * confidence, as in rules.ts) and why.
 */
export interface RuleCorrection {
  /** Also the patch id: never reused, never renamed. */
  id: string;
  ruleSetId: string;
  rules: Partial<RuleSet['rules']>;
  reason: string;
}

export const RULE_CORRECTIONS: readonly RuleCorrection[] = [];
