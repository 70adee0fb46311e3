import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * Every relative link and every repository path that README.md and docs/*.md name exists, so a reader who
 * follows one lands somewhere (issue #24). A link resolves from its document's folder, and its #fragment must
 * be a heading of the target. A backticked path resolves from the repository root when it reads as one: no
 * spaces or placeholders, a '/', and a file extension or a trailing '/'. Paths under folders that .gitignore
 * names (.data/, dist/, ...) are made at run time and are not checked. The dated records in docs/benchmarks/
 * are kept as written, so they are not checked either.
 */
const root = path.resolve(__dirname, '..', '..');
const documents = ['README.md', ...readdirSync(path.join(root, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];
const generatedFolders = readFileSync(path.join(root, '.gitignore'), 'utf8')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line.endsWith('/') && !line.startsWith('#'));

/** Code blocks hold commands and output, not references: `# comment` lines are not headings there. */
const prose = (text: string): string => text.replace(/^```[^\n]*\n[\s\S]*?^```/gm, '');

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as '-'. */
const anchor = (heading: string): string =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');

const anchorsOf = (file: string): string[] => [...prose(readFileSync(file, 'utf8')).matchAll(/^#{1,6} +(.+)$/gm)].map((m) => anchor(m[1]!));

const looksLikePath = (span: string): boolean =>
  /^[\w@.+-]+(\/[\w@.+-]+)*\/?$/.test(span) && span.includes('/') && (span.endsWith('/') || /\.[A-Za-z0-9]+$/.test(span));

const insideRepository = (target: string): boolean => target === root || target.startsWith(root + path.sep);

/** What a document names that is not there, one line each. */
function problemsOf(document: string, text: string): string[] {
  const problems: string[] = [];
  const body = prose(text);
  for (const [, link] of body.matchAll(/\]\(([^)\s]+)\)/g)) {
    if (/^[a-z][a-z+.-]*:/i.test(link!)) continue;
    const [file = '', fragment] = link!.split('#');
    const target = file === '' ? path.join(root, document) : path.resolve(root, path.dirname(document), file);
    if (!insideRepository(target)) problems.push(`link ${link}: outside the repository`);
    else if (!existsSync(target)) problems.push(`link ${link}: no such file`);
    else if (fragment && statSync(target).isFile() && target.endsWith('.md') && !anchorsOf(target).includes(fragment)) {
      problems.push(`link ${link}: no such heading`);
    }
  }
  for (const [, span] of body.matchAll(/`([^`\n]+)`/g)) {
    if (!looksLikePath(span!) || generatedFolders.some((folder) => span!.startsWith(folder))) continue;
    const target = path.resolve(root, span!);
    if (!insideRepository(target)) problems.push(`path ${span}: outside the repository`);
    else if (!existsSync(target)) problems.push(`path ${span}: no such file`);
  }
  return problems;
}

test.each(documents)('every link and path in %s exists', (document) => {
  expect(problemsOf(document, readFileSync(path.join(root, document), 'utf8'))).toEqual([]);
});

test('a missing file, a missing heading and a link or path outside the repository are reported', () => {
  const text = [
    'See [the API](api.md#keys-and-roles), [a gone page](gone.md), [a gone heading](api.md#no-such-heading),',
    '[a sibling clone](../../shared/domain.md), `platform/db.ts`, `platform/gone.ts`, `../shared/domain.md`,',
    '`dist/api/main.js` (built), `/api/v1/cases` (a route) and [the web](https://temporal.io).',
    '```bash',
    'cat `platform/also-gone.ts`',
    '```',
  ].join('\n');
  expect(problemsOf('docs/example.md', text)).toEqual([
    'link gone.md: no such file',
    'link api.md#no-such-heading: no such heading',
    'link ../../shared/domain.md: outside the repository',
    'path platform/gone.ts: no such file',
    'path ../shared/domain.md: outside the repository',
  ]);
});
