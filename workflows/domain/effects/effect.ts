import type { z } from 'zod';
import { type IsoDate } from '../dates';
import type * as Schemas from '../schemas';
import { type DeadlineKind, type PolicyRevision } from '../types';

/**
 * What a policy effect is made of: one module per effect in this folder, registered in index.ts, where a
 * module missing for an effect, or a part missing from a module, does not compile.
 *
 * Effect modules are workflow code and are also loaded with the schemas (shared-schemas.ts): they import
 * only types of zod and of schemas.ts, and build their schema from the parts schemas.ts lends them.
 */
export interface EffectModule<E> {
  /** The effect's message, built on first use by schemas.ts (a `type` literal and the effect's fields). */
  schema: (parts: SchemaParts) => z.ZodType<E>;
  /** The effect in the caseworker's words (the caseworker page's list of a policy's effects). */
  labelDa: string;
  /** What the effect does to a case's timeline. */
  engine: EffectEngine<E>;
  /** How the timeline picture shows it: a lane of its own, and shading on the deadlines it applies to; null: not drawn. */
  picture: EffectPicture<E> | null;
}

/** What schemas.ts lends an effect's schema: zod, loaded on first use (shared-schemas.ts), and shared field schemas. */
export interface SchemaParts {
  z: typeof z;
  isoDate: typeof Schemas.isoDate;
  deadlineKinds: typeof Schemas.deadlineKinds;
}

/**
 * The places where the timeline engine asks the effects of a case's policies (each optional: an effect does
 * what it does in some of them). Each is called for every effect of every current revision, in the order of
 * the revisions (by effectiveFrom, then policyId) and of the effects within a revision.
 */
export interface EffectEngine<E> {
  /**
   * The windows in which the effect stops the clock, waives deadlines or sets the conversation mode. `window`
   * is the revision's (its dates, label and id); revisions whose window ends before it starts are not asked.
   */
  windows?: (effect: E, window: Window, add: WindowCollector) => void;
  /** T12: where the review point lies, after the effects before this one. */
  reviewPoint?: (effect: E, policy: PolicyRevision, point: ReviewPoint) => ReviewPoint;
  /** T11: how long a received certificate is valid, after the effects before this one. */
  certificate?: (effect: E, policy: PolicyRevision, certificate: CertificateValidity) => CertificateValidity;
}

/** The days a revision applies (both included; `to` null while open-ended), as reasons name it. */
export interface Window {
  from: IsoDate;
  to: IsoDate | null;
  label: string;
  policyIds: string[];
}

export interface ModeWindow extends Window {
  mode: 'phone' | 'video';
  consentRequired: boolean;
}

/** Where an effect's windows go: clock stops and waivers for some kinds of deadline (all when none are named), mode switches. */
export interface WindowCollector {
  pause(kinds: readonly DeadlineKind[] | undefined, window: Window): void;
  waive(kinds: readonly DeadlineKind[] | undefined, window: Window): void;
  mode(window: ModeWindow): void;
}

export interface ReviewPoint {
  /** Where the rule alone puts it. */
  original: IsoDate;
  date: IsoDate;
  /** The rule's reason, then one for each effect that moved it. */
  reasons: string[];
  movedBy: string[];
}

export interface CertificateValidity {
  receivedOn: IsoDate;
  /** The stated date, or the rule's validity. */
  original: IsoDate;
  validUntil: IsoDate;
  /** The rule's (or the certificate's) reason, then one for each effect that extended it. */
  reasons: string[];
  extendedBy: string[];
}

/** How the picture draws an effect (api/timeline-svg.ts). Paint is SVG attributes. */
export interface EffectPicture<E> {
  /** The lane's data-type, and what its label starts with ("Pause: <title>"). */
  type: string;
  laneName: string;
  lanePaint: string;
  /** The deadline rows it shades: the kinds (null: all), with the shade's class and paint. Absent: it shades none. */
  shade?: { kinds: (effect: E) => readonly DeadlineKind[] | null; className: string; paint: string };
  /** Its entry in the legend: a shape centred on 0,0 and its text. */
  legend: { shape: string; text: string };
  /** SVG definitions its paint refers to. */
  defs?: string;
}
