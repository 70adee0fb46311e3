import { groupCommit } from '../../activities/group-commit';

/** The read model's group commit (activities/group-commit.ts): writes that arrive together share one call; a failure reaches each of them. */
function recorder(fail?: (batch: number[]) => boolean) {
  const calls: number[][] = [];
  let gate = Promise.resolve();
  return {
    calls,
    /** Calls made from now on wait until the returned function is called. */
    hold(): () => void {
      let release: () => void = () => undefined;
      gate = new Promise<void>((resolve) => (release = resolve));
      return release;
    },
    write: async (batch: number[]) => {
      calls.push(batch);
      await gate;
      if (fail?.(batch)) throw new Error(`batch ${batch.join(',')} failed`);
    },
  };
}

test('writes arriving within the linger go in one call, in order', async () => {
  const r = recorder();
  const enqueue = groupCommit(r.write, { maxBatch: 100, maxInFlight: 1, lingerMs: 20 });
  await Promise.all([1, 2, 3].map(enqueue));
  expect(r.calls).toEqual([[1, 2, 3]]);
});

test('a full batch goes at once; writes arriving while the calls run wait for the next one', async () => {
  const r = recorder();
  const enqueue = groupCommit(r.write, { maxBatch: 2, maxInFlight: 1, lingerMs: 1_000 });
  const releaseFirst = r.hold();
  const first = [enqueue(1), enqueue(2)];
  await new Promise((resolve) => setImmediate(resolve));
  expect(r.calls).toEqual([[1, 2]]);
  const later = [enqueue(3), enqueue(4), enqueue(5)];
  await new Promise((resolve) => setImmediate(resolve));
  expect(r.calls).toEqual([[1, 2]]);
  const releaseSecond = r.hold();
  releaseFirst();
  await Promise.all(first);
  await new Promise((resolve) => setImmediate(resolve));
  expect(r.calls).toEqual([[1, 2], [3, 4]]);
  r.hold()();
  releaseSecond();
  await Promise.all(later);
  expect(r.calls).toEqual([[1, 2], [3, 4], [5]]);
});

test('a failed call rejects every write in it and no other', async () => {
  const r = recorder((batch) => batch.includes(2));
  const enqueue = groupCommit(r.write, { maxBatch: 2, maxInFlight: 2, lingerMs: 0 });
  const results = await Promise.allSettled([enqueue(1), enqueue(2), enqueue(3)]);
  expect(r.calls).toEqual([[1], [2], [3]]);
  expect(results.map((x) => x.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  expect((results[1] as PromiseRejectedResult).reason.message).toBe('batch 2 failed');
});
