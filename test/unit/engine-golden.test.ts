import { readFileSync } from 'node:fs';
import path from 'node:path';
import { engineCorpusHashes } from '../support/engine-corpus';

/**
 * The engine answers as it did before its effects became modules (issue #24): a running case replays its
 * history with today's engine, and any change in a timeline would change its commands (timers, search
 * attributes), which fails replay. test/unit/fixtures/engine-golden.json holds the hashes of 1,500 generated
 * cases' timelines and pictures, recorded with the engine of commit a2f1c51 (test/support/engine-corpus.ts says
 * how). A change to the engine that is meant must go behind patched() and re-record this file.
 */
test('1,500 generated cases compute the same timeline and picture as the engine before the effect modules', () => {
  const golden = JSON.parse(readFileSync(path.join(__dirname, 'fixtures', 'engine-golden.json'), 'utf8')) as string[];
  const now = engineCorpusHashes();
  expect(now).toHaveLength(golden.length);
  const differing = now.flatMap((hash, i) => (hash === golden[i] ? [] : [`G-${i}`]));
  expect(differing).toEqual([]);
});
