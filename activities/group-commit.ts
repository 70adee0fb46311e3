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
