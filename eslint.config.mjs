// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = builtinModules.flatMap((name) => [name, `node:${name}`]);
// The engine computes the same timeline on every host: the worker's, the API's, a replay's (LANG differs).
const localeMessage = 'Locale-dependent: its result depends on the host (LANG). Compare strings with workflows/domain/compare.ts and format dates and numbers explicitly.';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.data/**', 'coverage/**', '.build-test/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },
  {
    // Workflow code is replayed: it must be deterministic and runs in Temporal's sandbox, which has
    // no Node built-ins. Only types may come from activities; side effects belong there.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.map((name) => ({ name, message: 'Workflow code must not use Node built-ins.' })),
            { name: '@temporalio/client', message: 'Workflows talk to Temporal through @temporalio/workflow only.' },
            { name: '@temporalio/worker', message: 'Workflows talk to Temporal through @temporalio/workflow only.' },
            { name: '@temporalio/activity', message: 'Activity code belongs in activities/.' },
            { name: 'pg', message: 'Database access belongs in activities/.' },
            { name: 'express', message: 'HTTP belongs in api/.' },
          ],
          patterns: [
            { group: ['../activities', '../activities/*', '../../activities/*'], allowTypeImports: true, message: 'Import only types from activities.' },
            { group: ['../api/*', '../worker/*', '../platform/*', '../../api/*', '../../worker/*', '../../platform/*'], message: 'Workflow code must not import process-level modules.' },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'Not available in workflow code.' },
        { name: 'require', message: 'Use static imports in workflow code.' },
        { name: 'setInterval', message: 'Use sleep() or condition() in workflow code.' },
        { name: 'fetch', message: 'I/O belongs in activities.' },
        { name: 'Intl', message: localeMessage },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'crypto', property: 'randomUUID', message: 'Use uuid4() from @temporalio/workflow.' },
        { object: 'globalThis', property: 'Intl', message: localeMessage },
      ],
      'no-restricted-syntax': [
        'error',
        { selector: 'MemberExpression[property.name=/^(localeCompare|toLocale)/]', message: localeMessage },
        { selector: 'MemberExpression[computed=true][property.value=/^(localeCompare|toLocale)/]', message: localeMessage },
      ],
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // Tests read JSON responses loosely.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['jest.config.js', 'test/support/global-setup.js', 'test/support/kill-after-write.js', 'test/support/kill-after-update.js'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly', __dirname: 'readonly', process: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
