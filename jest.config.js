/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } } }],
    // node-pg-migrate 8 is an ES module. Node 20.19+ require()s it, Jest's module loader only from Node 24.9,
    // so under Jest it is compiled to CommonJS like our own sources.
    '/node_modules/node-pg-migrate/.+\\.js$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!node-pg-migrate/)'],
  // Workflow and integration suites start real servers; give them room.
  testTimeout: 120_000,
  globalSetup: '<rootDir>/test/support/global-setup.js',
  // Two cores: one file per core. Each suite starts its own servers on free ports.
  maxWorkers: 2,
  // Temporal's native runtime (core-bridge) keeps a thread-safe function referenced for the life of the
  // process (temporalio/sdk-typescript#928), so Jest would wait forever after the last suite.
  // Every suite tears down its own servers and workers in afterAll; forceExit only ends that thread.
  forceExit: true,
};
