// tsc compiles TypeScript only; the SQL migrations of both stores ship beside the compiled store.
import { cpSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Copies what the build needs besides compiled code from `root`'s sources into `outDir`. */
export function copyAssets(root, outDir) {
  for (const store of ['sqlite', 'postgres']) {
    cpSync(path.join(root, 'src/store', store, 'migrations'), path.join(outDir, 'store', store, 'migrations'), { recursive: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) copyAssets(process.cwd(), 'dist');
