import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec, type SerializationContext, ValueError } from '@temporalio/common';
import { UNENCRYPTED_PAYLOAD_REFUSED } from '../workflows/unencrypted';
import { type PlaintextHandling } from './payload-codec';

/**
 * Binds every payload to the workflow it belongs to (issue #23), so that a ciphertext copied out of one case's
 * history into a start, signal, update or query of another is refused. The SDK (1.24) tells a codec whose payload it
 * handles, its serialization context: the target workflow's namespace and id for a workflow's input, signals,
 * updates, queries, results and summaries, and the scheduling workflow's for an activity's input and result.
 *
 * It runs before the encryption codec (platform/temporal.ts), so the binding, two metadata entries of the payload,
 * is encrypted and authenticated with it: it can be neither read nor changed without the key. On decode the binding
 * must name the workflow the SDK decodes for, and is taken off before the value is read, so workflow code sees
 * exactly what it saw before. A mismatch is treated as a payload that is not encrypted (platform/payload-codec.ts):
 * clients (`refuse`) fail the call; the worker (`mark`) hands the workflow the refusal marker, so the one forged
 * message is refused and the case goes on.
 *
 * Not bound, and accepted as before: payloads written before this binding (running cases' histories), and those
 * encoded without a context (the codec server's /encode, for the UI and CLI); a payload decoded without a context
 * (the codec server) is not checked.
 */
export const BOUND_NAMESPACE = 'bound-namespace';
export const BOUND_WORKFLOW_ID = 'bound-workflow-id';

const utf8 = (text: string) => new TextEncoder().encode(text);
const text = (bytes: Uint8Array | null | undefined) => (bytes ? new TextDecoder().decode(bytes) : undefined);

/** The workflow that owns payloads of this context, or undefined when the SDK does not say. */
export function owningWorkflow(context: SerializationContext | undefined): { namespace: string; workflowId: string } | undefined {
  if (!context) return undefined;
  if (context.type === 'workflow') return { namespace: context.namespace, workflowId: context.workflowId };
  return context.workflowId ? { namespace: context.namespace, workflowId: context.workflowId } : undefined;
}

/** What the worker's workflows receive in place of a payload bound to another workflow (the `mark` handling). */
const REFUSED_PAYLOAD: Payload = {
  metadata: { [METADATA_ENCODING_KEY]: utf8('json/plain') },
  data: utf8(JSON.stringify(UNENCRYPTED_PAYLOAD_REFUSED)),
};

export class WorkflowBindingCodec implements PayloadCodec {
  constructor(private readonly mismatch: PlaintextHandling = 'refuse') {}

  async encode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    const owner = owningWorkflow(context);
    if (!owner) return payloads;
    return payloads.map((payload) => ({
      ...payload,
      metadata: { ...payload.metadata, [BOUND_NAMESPACE]: utf8(owner.namespace), [BOUND_WORKFLOW_ID]: utf8(owner.workflowId) },
    }));
  }

  async decode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    const owner = owningWorkflow(context);
    return payloads.map((payload) => {
      const { [BOUND_NAMESPACE]: namespace, [BOUND_WORKFLOW_ID]: workflowId, ...metadata } = payload.metadata ?? {};
      if (namespace === undefined && workflowId === undefined) return payload;
      if (owner && (text(namespace) !== owner.namespace || text(workflowId) !== owner.workflowId)) {
        if (this.mismatch === 'pass') return payload;
        if (this.mismatch === 'mark') return REFUSED_PAYLOAD;
        // Names the workflow it was meant for, never what it holds.
        throw new ValueError(`payload belongs to another workflow than ${owner.workflowId}: a ciphertext is accepted only by the workflow it was written for`);
      }
      return { ...payload, metadata };
    });
  }
}
