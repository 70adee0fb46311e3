import { type DeadlineKind, type PolicyEffect, type PolicyRevision } from '../types';
import { type CertificateValidity, type EffectModule, type ReviewPoint, type SchemaParts, type Window, type WindowCollector } from './effect';
import { extendBenefitPeriod, extendBenefitPeriodSchema } from './extend-benefit-period';
import { extendCertificateValidity, extendCertificateValiditySchema } from './extend-certificate-validity';
import { pauseDeadlines, pauseDeadlinesSchema } from './pause-deadlines';
import { switchConversationMode, switchConversationModeSchema } from './switch-conversation-mode';
import { waiveDeadlines, waiveDeadlinesSchema } from './waive-deadlines';

/**
 * The policy effects. A new effect is a module in this folder (effect.ts says what it holds) and a line in
 * each list below: its schema makes it a PolicyEffect, and EFFECTS does not compile until it has a module, nor
 * a module until it has every part.
 */

/** Every effect's schema, in the order the API names them; their union is PolicyEffect (schemas.ts). */
export const effectSchemas = (parts: SchemaParts) =>
  [pauseDeadlinesSchema(parts), waiveDeadlinesSchema(parts), extendCertificateValiditySchema(parts), switchConversationModeSchema(parts), extendBenefitPeriodSchema(parts)] as const;

export type EffectType = PolicyEffect['type'];
export type EffectOf<T extends EffectType> = Extract<PolicyEffect, { type: T }>;

export const EFFECTS: { [T in EffectType]: EffectModule<EffectOf<T>> } = {
  pauseDeadlines,
  waiveDeadlines,
  extendCertificateValidity,
  switchConversationMode,
  extendBenefitPeriod,
};

/** The effects' type names, in the order the API names them. */
export const EFFECT_TYPES: readonly string[] = Object.keys(EFFECTS);

// Each engine part is called with the effect of its own type: a generic over the type lets TypeScript see that
// EFFECTS[effect.type] is the module of exactly that effect.

function windowsOf<T extends EffectType>(effect: EffectOf<T> & { type: T }, window: Window, add: WindowCollector): void {
  const module: EffectModule<EffectOf<T>> = EFFECTS[effect.type];
  module.engine.windows?.(effect, window, add);
}

function reviewPointOf<T extends EffectType>(effect: EffectOf<T> & { type: T }, policy: PolicyRevision, point: ReviewPoint): ReviewPoint {
  const module: EffectModule<EffectOf<T>> = EFFECTS[effect.type];
  return module.engine.reviewPoint ? module.engine.reviewPoint(effect, policy, point) : point;
}

function certificateOf<T extends EffectType>(effect: EffectOf<T> & { type: T }, policy: PolicyRevision, certificate: CertificateValidity): CertificateValidity {
  const module: EffectModule<EffectOf<T>> = EFFECTS[effect.type];
  return module.engine.certificate ? module.engine.certificate(effect, policy, certificate) : certificate;
}

/** Adds the windows of a revision's effects, in their order. */
export function addWindows(policy: PolicyRevision, window: Window, add: WindowCollector): void {
  for (const effect of policy.effects) windowsOf(effect, window, add);
}

/** The review point under every effect of the policies, in their order. */
export function reviewPointUnder(policies: readonly PolicyRevision[], point: ReviewPoint): ReviewPoint {
  for (const p of policies) for (const effect of p.effects) point = reviewPointOf(effect, p, point);
  return point;
}

/** A certificate's validity under every effect of the policies, in their order. */
export function certificateUnder(policies: readonly PolicyRevision[], certificate: CertificateValidity): CertificateValidity {
  for (const p of policies) for (const effect of p.effects) certificate = certificateOf(effect, p, certificate);
  return certificate;
}

/** The effect in the caseworker's words. */
export const effectLabelDa = (effect: Pick<PolicyEffect, 'type'>): string => EFFECTS[effect.type].labelDa;

/** How the timeline picture draws an effect; null when it is not drawn. */
export interface Drawing {
  type: string;
  laneName: string;
  lanePaint: string;
  /** The deadline rows it shades (kinds null: every kind); null: none. */
  shade: { kinds: readonly DeadlineKind[] | null; className: string; paint: string } | null;
}

function drawingOf<T extends EffectType>(effect: EffectOf<T> & { type: T }): Drawing | null {
  const { picture }: EffectModule<EffectOf<T>> = EFFECTS[effect.type];
  if (!picture) return null;
  const { type, laneName, lanePaint, shade } = picture;
  return { type, laneName, lanePaint, shade: shade ? { kinds: shade.kinds(effect), className: shade.className, paint: shade.paint } : null };
}

export const drawing = (effect: PolicyEffect): Drawing | null => drawingOf(effect);

/** The legend entries and SVG definitions of the effects that are drawn, in the registry's order. */
export const PICTURE_LEGEND = Object.values(EFFECTS).flatMap((m) => (m.picture ? [m.picture.legend] : []));
export const PICTURE_DEFS = Object.values(EFFECTS)
  .map((m) => m.picture?.defs ?? '')
  .join('');
