// How scripts outside vitest (the bench's cluster, `npm run fuzz`) run TypeScript of the repository:
// compiled with esbuild, with what it imports from src/ and test/, into dist/ and imported.
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Compiles `entry` (a path in the repository) into dist/`outfile` and imports it. Inside the
 * repository, so the compiled module resolves its packages from node_modules. `options`: more
 * esbuild options (e.g. sourcemap).
 */
export async function importCompiled(entry, outfile, options = {}) {
  const out = join(root, 'dist', outfile);
  await mkdir(dirname(out), { recursive: true });
  await build({
    entryPoints: [join(root, entry)],
    outfile: out,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node24',
    logLevel: 'warning',
    ...options,
  });
  return import(pathToFileURL(out).href);
}
