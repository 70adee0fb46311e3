import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * Every repository path a code comment names exists (issue #24): a comment that sends the reader to a file
 * must not send them nowhere after a move or a rename. A path counts when it begins with one of the
 * repository's top-level folders (or ./ or ../, resolved from the commenting file) and ends in a file
 * extension or '/'. Comments only: strings and code are the compiler's business.
 */
const root = path.resolve(__dirname, '..', '..');
const SOURCE = /\.(ts|js|cjs|mjs|sh|sql)$/;
const SKIPPED = new Set(['node_modules', 'dist', '.data', '.git', 'coverage']);
const topLevel = readdirSync(root).filter((name) => !SKIPPED.has(name) && statSync(path.join(root, name)).isDirectory());

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (SKIPPED.has(entry.name)) return [];
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return SOURCE.test(entry.name) ? [full] : [];
  });
}

/** The comment text of a file: // and block comments in code, # in shell, -- in SQL. */
export function commentsOf(file: string, text: string): string[] {
  if (file.endsWith('.sh')) return [...text.matchAll(/(?:^|\s)#(?!!)(.*)$/gm)].map((m) => m[1]!);
  if (file.endsWith('.sql')) return [...text.matchAll(/--(.*)$/gm)].map((m) => m[1]!);
  const withoutStrings = text.replace(/(['"`])(?:\\.|(?!\1)[^\\\n])*\1/g, '""');
  return [...withoutStrings.matchAll(/\/\*[\s\S]*?\*\/|\/\/(.*)$/gm)].map((m) => m[0]!);
}

/** The paths a comment names that are not in the repository, one line each. */
export function missingPaths(file: string, comments: string[], folders: string[] = topLevel): string[] {
  const problems: string[] = [];
  const token = /(?<![\w@/.-])((?:\.{1,2}\/)?[\w@.-]+(?:\/[\w@.+-]+)+\/?)/g;
  for (const comment of comments) {
    for (const [, raw] of comment.matchAll(token)) {
      const span = raw!.replace(/[.,;:]+$/, '');
      const relative = span.startsWith('./') || span.startsWith('../');
      if (!relative && !folders.includes(span.split('/')[0]!)) continue;
      if (!span.endsWith('/') && !/\.[A-Za-z0-9]+$/.test(span)) continue;
      const target = relative ? path.resolve(path.dirname(file), span) : path.resolve(root, span);
      if (!(target === root || target.startsWith(root + path.sep))) problems.push(`${path.relative(root, file)}: ${span} is outside the repository`);
      else if (!existsSync(target)) problems.push(`${path.relative(root, file)}: ${span} does not exist`);
    }
  }
  return problems;
}

test('every path a code comment names exists', () => {
  const files = topLevel.flatMap((folder) => sourceFiles(path.join(root, folder)));
  expect(files.length).toBeGreaterThan(50);
  const problems = files.flatMap((file) => missingPaths(file, commentsOf(file, readFileSync(file, 'utf8'))));
  expect(problems).toEqual([]);
});

test('the check finds a moved file and a path outside the repository, and ignores strings and code', () => {
  const file = path.join(root, 'api', 'example.ts');
  const text = [
    "// Written by activities/read-model.ts, read by api/gone.ts (see ../workflows/messages.ts and ../../elsewhere.md).",
    "const where = 'api/also-gone.ts'; // a string is not a comment",
    '/* block: scripts/nowhere.sh */',
  ].join('\n');
  expect(missingPaths(file, commentsOf(file, text), ['api', 'activities', 'workflows', 'scripts'])).toEqual([
    'api/example.ts: api/gone.ts does not exist',
    'api/example.ts: ../../elsewhere.md is outside the repository',
    'api/example.ts: scripts/nowhere.sh does not exist',
  ]);
});
