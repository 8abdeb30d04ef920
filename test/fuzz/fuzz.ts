// The fuzz loop, shared by `npm run fuzz` (test/fuzz/run.ts) and the CI test (fuzz.test.ts).
// Input i of a run is drawn from its own seed, derived from the run's seed and i: any input can be
// regenerated alone (after a hang, or to replay it), and a failure shrinks with fast-check from
// exactly that seed.
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { check } from './check.js';
import { fuzzInput, type FuzzInput } from './inputs.js';

export interface Failure {
  seed: number;
  index: number;
  problems: string[];
  input: FuzzInput;
  /** The smallest input fast-check shrank it to that still fails, when shrinking ran. */
  minimal?: { input: FuzzInput; problems: string[] };
}

export interface Slow {
  index: number;
  shape: string;
  status: number;
  ms: number;
  bytes: number;
}

export interface FuzzStats {
  inputs: number;
  seconds: number;
  statuses: Record<string, number>;
  /** Answers 200 with a patch. */
  patched: number;
  shapes: Record<string, number>;
  failures: Failure[];
  /** The slowest answers (the first of the two sends), slowest first. */
  slowest: Slow[];
}

export interface FuzzRun {
  seed: number;
  /** Inputs [from, to) of the run. */
  from: number;
  to: number;
  /** Bound on one answer; a longer wait is a failure (a hang). */
  timeoutMs: number;
  /** Failures shrunk and kept in full; later ones are only counted. */
  keepFailures?: number;
  /** Called before each input (the hang watchdog reads it) and every `every` inputs with the stats. */
  onInput?(index: number, stats: FuzzStats): void;
  onStats?(stats: FuzzStats): void;
  every?: number;
}

const SLOWEST = 10;

/** The seed of input `index` of the run seeded `seed`: fast-check takes 32-bit integers. */
export function inputSeed(seed: number, index: number): number {
  return (seed ^ Math.imul(index + 1, 0x9e3779b1)) | 0;
}

export function inputAt(seed: number, index: number): FuzzInput {
  return fc.sample(fuzzInput, { seed: inputSeed(seed, index), numRuns: 1 })[0]!;
}

export function emptyStats(): FuzzStats {
  return { inputs: 0, seconds: 0, statuses: {}, patched: 0, shapes: {}, failures: [], slowest: [] };
}

export async function fuzz(apps: FastifyInstance[], run: FuzzRun): Promise<FuzzStats> {
  const stats = emptyStats();
  const started = performance.now();
  const every = run.every ?? 10_000;
  for (let index = run.from; index < run.to; index++) {
    run.onInput?.(index, stats);
    const input = inputAt(run.seed, index);
    const { answer, patched, problems } = await check(apps[input.config]!, input, run.timeoutMs);
    stats.inputs++;
    if (patched) stats.patched++;
    stats.statuses[answer.status] = (stats.statuses[answer.status] ?? 0) + 1;
    stats.shapes[input.shape] = (stats.shapes[input.shape] ?? 0) + 1;
    if (stats.slowest.length < SLOWEST || answer.ms > stats.slowest.at(-1)!.ms) {
      const slow = {
        index,
        shape: input.shape,
        status: answer.status,
        ms: answer.ms,
        bytes: input.body.length,
      };
      stats.slowest = [...stats.slowest, slow].sort((a, b) => b.ms - a.ms).slice(0, SLOWEST);
    }
    if (problems.length > 0) {
      const failure: Failure = { seed: run.seed, index, problems, input };
      if (stats.failures.length < (run.keepFailures ?? 5))
        failure.minimal = await shrink(apps, failure, run.timeoutMs);
      stats.failures.push(failure);
    }
    if ((index + 1 - run.from) % every === 0) {
      stats.seconds = (performance.now() - started) / 1000;
      run.onStats?.(stats);
    }
  }
  stats.seconds = (performance.now() - started) / 1000;
  return stats;
}

/** fast-check replays the failing input from its seed and shrinks it to a small one that still fails. */
export async function shrink(
  apps: FastifyInstance[],
  failure: Pick<Failure, 'seed' | 'index'>,
  timeoutMs: number,
): Promise<{ input: FuzzInput; problems: string[] } | undefined> {
  let last: { input: FuzzInput; problems: string[] } | undefined;
  await fc.check(
    fc.asyncProperty(fuzzInput, async (input) => {
      const { problems } = await check(apps[input.config]!, input, timeoutMs);
      if (problems.length > 0) last = { input, problems };
      return problems.length === 0;
    }),
    { seed: inputSeed(failure.seed, failure.index), numRuns: 1, interruptAfterTimeLimit: 120_000 },
  );
  return last;
}
