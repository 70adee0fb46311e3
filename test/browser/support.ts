import { execFileSync } from 'node:child_process';
import path from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import { type ProcessSystem, startProcessSystem } from '../support/processes';

/**
 * What the browser tests run against: the system as `npm run dev` runs it (the one stack harness, through
 * test/support/processes.ts), the Temporal dev server serving its Web UI (the UI a caseworker opens), each part
 * on free ports, and a headless Chromium (dev/tools/browser.sh finds or installs it; run alone, the test asks
 * that script too).
 */
const root = path.resolve(__dirname, '..', '..');

/** Where the screenshots go, for a reviewer to look at (README, Tests). */
export const SCREENSHOT_DIR = path.join(root, 'test-results', 'screenshots');

export function chromiumPath(): string {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  const out = execFileSync('bash', ['-c', 'source dev/tools/browser.sh && ensure_chromium && echo "CHROMIUM_PATH=$CHROMIUM_PATH"'], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const found = /CHROMIUM_PATH=(.*)/.exec(out)?.[1];
  if (!found) throw new Error('dev/tools/browser.sh did not report a Chromium');
  return found;
}

export function launchBrowser(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: chromiumPath(),
    headless: true,
    // As root (CI, this machine) Chromium refuses its sandbox; /dev/shm is small in containers.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--lang=da-DK'],
    defaultViewport: { width: 1400, height: 900 },
  });
}

/** The system as `npm run dev` runs it, each part its own process, with Temporal's Web UI. */
export type UiSystem = ProcessSystem & { ui: string };

export async function startSystemWithUi(taskQueue: string): Promise<UiSystem> {
  const system = await startProcessSystem({ taskQueue, signalsPerSecond: 100, ui: true });
  return { ...system, ui: system.ui! };
}
