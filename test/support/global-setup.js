// Builds dist/ once before the suites that run the compiled entry points (local stack, worker, ops CLI): the
// production build with the local stack and benchmarks (tsconfig.dev.json).
const { execFileSync } = require('node:child_process');
const path = require('node:path');

module.exports = async function globalSetup() {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.dev.json'], { cwd: path.resolve(__dirname, '..', '..'), stdio: 'inherit' });
};
