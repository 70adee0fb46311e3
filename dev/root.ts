import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * The repository's folder, whether this code runs from its TypeScript source (tests, ts-jest) or compiled into
 * dist/ (npm run dev, the benchmarks): the nearest folder above with a package.json.
 */
export function repositoryRoot(from: string = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}
