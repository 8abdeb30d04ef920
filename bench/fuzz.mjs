// npm run fuzz: compiles the fuzzer (test/fuzz/run.ts, with the sources it tests, straight from src/)
// with esbuild into dist/fuzz/ and runs it. Arguments: see test/fuzz/run.ts.
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'dist', 'fuzz', 'run.mjs');
await build({
  entryPoints: [join(root, 'test', 'fuzz', 'run.ts')],
  outfile,
  bundle: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node24',
  sourcemap: 'inline',
  logLevel: 'warning',
});
const { main } = await import(pathToFileURL(outfile).href);
process.exitCode = await main(process.argv.slice(2));
