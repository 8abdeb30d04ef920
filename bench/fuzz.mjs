// npm run fuzz: compiles the fuzzer (test/fuzz/run.ts, with the sources it tests, straight from src/)
// with esbuild into dist/fuzz/ and runs it. Arguments: see test/fuzz/run.ts.
import { importCompiled } from './compiled.mjs';

const { main } = await importCompiled('test/fuzz/run.ts', 'fuzz/run.mjs', { sourcemap: 'inline' });
process.exitCode = await main(process.argv.slice(2));
