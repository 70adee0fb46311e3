// Builds dist/ once before the suites that run the compiled entry points (local stack, worker, ops CLI).
const { execFileSync } = require('node:child_process');
const path = require('node:path');

module.exports = async function globalSetup() {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: path.resolve(__dirname, '..', '..'), stdio: 'inherit' });
};
