import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * No code file outside the tests and the SQL migrations is over 400 lines (issue #24): a file that long is doing
 * several jobs, and the next reader pays for it. Code here is what git tracks with a code extension.
 */
const root = path.resolve(__dirname, '..', '..');
const LIMIT = 400;
const CODE = /\.(ts|js|mjs|cjs|sh|ya?ml)$/;

function codeFiles(): string[] {
  return execFileSync('git', ['ls-files'], { cwd: root, encoding: 'utf8' })
    .split('\n')
    .filter((f) => CODE.test(f) && !f.startsWith('test/'));
}

test('the check sees the code: the worker, the stack harness and the tool scripts are among the files', () => {
  expect(codeFiles()).toEqual(expect.arrayContaining(['worker/worker.ts', 'dev/stack.ts', 'dev/tools/go.sh']));
});

test(`no code file outside test/ is over ${LIMIT} lines`, () => {
  const long = codeFiles()
    .map((file) => ({ file, lines: readFileSync(path.join(root, file), 'utf8').split('\n').length - 1 }))
    .filter(({ lines }) => lines > LIMIT);
  expect(long).toEqual([]);
});
