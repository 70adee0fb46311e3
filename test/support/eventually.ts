/**
 * The one bounded wait the tests share: polls until `accept` holds (visibility, the read model and a run that
 * continues as new follow a little behind). 150 tries 200 ms apart leave room on a loaded machine.
 */
export async function eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean, what: string, tries = 150): Promise<T> {
  let last: T | undefined;
  for (let i = 0; i < tries; i++) {
    last = await probe();
    if (accept(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not happen; last seen: ${JSON.stringify(last)}`);
}
