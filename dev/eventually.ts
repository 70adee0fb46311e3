/**
 * The one bounded wait that the stack harness, the benchmarks and the tests share: polls until `accept` holds
 * (a server answering, visibility, the read model, a run that continues as new). 150 tries 200 ms apart (30 s)
 * by default; a server's start gets more tries. Both leave room on a loaded machine.
 */
export async function eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean, what: string, tries = 150): Promise<T> {
  let last: T | undefined;
  for (let i = 0; i < tries; i++) {
    last = await probe();
    if (accept(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not happen within ${(tries * 0.2).toFixed(0)} s; last seen: ${JSON.stringify(last)}`);
}

/** Tries for a server's start: 120 s. */
export const SERVER_START_TRIES = 600;
