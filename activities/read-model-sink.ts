import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { type InjectedSinks } from '@temporalio/worker';
import { type Logger } from '../platform/logger';
import { within } from '../platform/within';
import { readModelWriteFailedSignal, type ReadModelSinks } from '../workflows/messages';
import { type CaseSnapshot } from './read-model';

export interface ReadModelSinkDeps {
  /** Writes a batch of snapshots (writeCaseSnapshots against the database). */
  write: (snapshots: CaseSnapshot[]) => Promise<void>;
  /** Reports a failed write back to the case (readModelWriteFailedSignal). */
  client: Client;
  logger: Logger;
  /** A write not done by then counts as failed; the workflow task waits at most this long for it. */
  writeTimeoutMs?: number;
  /** Snapshots in one statement at most. */
  maxBatch?: number;
  /** Statements in flight at once; snapshots arriving meanwhile wait and go together in the next one. */
  maxInFlight?: number;
  /** How long a snapshot waits for others to share its statement (each case's task waits that much longer). */
  lingerMs?: number;
}

/**
 * The worker's side of the read model's fast path. The SDK calls a sink after the activation that used
 * it and awaits it before it completes the workflow task, so a snapshot handed over here is in Postgres
 * before the server sees the change it describes: as with a local activity, but without a second
 * activation per change and without a marker in the history, and writes from many cases share one
 * statement (group commit).
 *
 * Sinks are not called while a workflow replays, and their failure does not fail the workflow task. So a
 * write that fails (Postgres down or slow) is reported back to the case by readModelWriteFailedSignal, and
 * the case writes its newest snapshot through a retrying activity. If even that signal cannot be sent
 * (Temporal unreachable), completing the workflow task fails as well and the task is retried, which hands
 * the snapshot over again. The last snapshot of every run is written by an activity, not here.
 */
export function createReadModelSinks({
  write,
  client,
  logger,
  writeTimeoutMs = 5_000,
  maxBatch = 200,
  maxInFlight = 2,
  lingerMs = 5,
}: ReadModelSinkDeps): InjectedSinks<ReadModelSinks> {
  const enqueue = groupCommit(write, { maxBatch, maxInFlight, lingerMs });
  return {
    readModel: {
      write: {
        async fn(info, snapshot) {
          try {
            await within(writeTimeoutMs, enqueue(snapshot), `not written within ${writeTimeoutMs} ms`);
          } catch (error) {
            logger.warn('read model write failed; the case will write it through an activity', {
              workflowId: info.workflowId,
              revision: snapshot.revision,
              error: error instanceof Error ? error.message : String(error),
            });
            await reportFailure(client, info.workflowId, snapshot.revision, logger);
          }
        },
        callDuringReplay: false,
      },
    },
  };
}

async function reportFailure(client: Client, workflowId: string, revision: number, logger: Logger): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await client.workflow.getHandle(workflowId).signal(readModelWriteFailedSignal, revision);
      return;
    } catch (error) {
      // A case that has ended wrote its last snapshot through an activity already.
      if (error instanceof WorkflowNotFoundError) return;
      if (attempt === 3) {
        logger.error('could not report a failed read model write to the case', { workflowId, revision, error: String(error) });
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
    }
  }
}

/**
 * Batches concurrent writes (group commit): a write waits up to lingerMs for others, then they go in one
 * call; writes that arrive while maxInFlight calls run wait and go together in the next. Each caller's
 * promise settles with its batch.
 */
export function groupCommit<T>(
  write: (batch: T[]) => Promise<void>,
  { maxBatch, maxInFlight, lingerMs }: { maxBatch: number; maxInFlight: number; lingerMs: number },
): (item: T) => Promise<void> {
  const waiting: { item: T; settle: (error?: unknown) => void }[] = [];
  let inFlight = 0;
  let lingering: NodeJS.Timeout | undefined;
  const flush = () => {
    clearTimeout(lingering);
    lingering = undefined;
    while (inFlight < maxInFlight && waiting.length > 0) {
      const batch = waiting.splice(0, maxBatch);
      inFlight++;
      write(batch.map((w) => w.item))
        .then(
          () => batch.forEach((w) => w.settle()),
          (error: unknown) => batch.forEach((w) => w.settle(error ?? new Error('write failed'))),
        )
        .finally(() => {
          inFlight--;
          flush();
        });
    }
  };
  return (item) =>
    new Promise<void>((resolve, reject) => {
      waiting.push({ item, settle: (error) => (error === undefined ? resolve() : reject(error)) });
      if (waiting.length >= maxBatch || lingerMs <= 0) flush();
      else lingering ??= setTimeout(flush, lingerMs);
    });
}
