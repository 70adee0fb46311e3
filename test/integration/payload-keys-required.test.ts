import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * Without a payload key the worker and the API stop before connecting anywhere (exit 78, EX_CONFIG), saying
 * what to set: they would otherwise hand health data to Temporal in clear. A bad key is named by its id,
 * never printed.
 */
const root = path.resolve(__dirname, '..', '..');
const run = async (entry: string, env: Record<string, string>) => {
  try {
    await promisify(execFile)(process.execPath, [path.join(root, 'dist', entry)], {
      env: { PATH: process.env.PATH ?? '', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', API_KEYS: 'reader:a-reader-key-of-16-chars', ...env },
      timeout: 20_000,
    });
    return { code: 0, stderr: '' };
  } catch (err) {
    const e = err as { code?: number; stderr?: string };
    return { code: e.code, stderr: e.stderr ?? '' };
  }
};

test.each(['worker/main.js', 'api/main.js'])('%s refuses to start without PAYLOAD_KEYS or PAYLOAD_KEY_FILE', async (entry) => {
  const { code, stderr } = await run(entry, {});
  expect(code).toBe(78);
  expect(stderr).toContain('PAYLOAD_KEYS or PAYLOAD_KEY_FILE is required');
  expect(stderr).toContain('npm run dev` keeps one in its data folder');
});

test.each(['worker/main.js', 'api/main.js'])('%s names a bad payload key by its position and never prints it', async (entry) => {
  const short = Buffer.from('sixteen byte key').toString('base64');
  const { code, stderr } = await run(entry, { PAYLOAD_KEYS: `2026-11:${short}` });
  expect(code).toBe(78);
  expect(stderr).toContain('PAYLOAD_KEYS: entry 1: its key must be 32 bytes in base64 (AES-256), not 16');
  expect(stderr).not.toContain('2026-11');
  expect(stderr).not.toContain(short);
});
