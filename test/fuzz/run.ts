// `npm run fuzz -- [--inputs N] [--seed S] [--timeout MS] [--replay I] [--out DIR]`, through
// bench/fuzz.mjs. The inputs run in a worker thread; this thread is the watchdog: an input that
// blocks the event loop (a synchronous hang the per-input timeout cannot see) is reported with its
// seed and index, written out, and the run goes on from the next input in a fresh worker.
// Exit status 1 on any failure. Each failure is written to DIR/failure-<seed>-<index>.json with
// the input as generated, the input fast-check shrank it to, and the command that replays it.
// FUZZ_LOG=1 prints the app's log lines on stderr: the stack of a 500 is there.
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Worker, workerData, parentPort } from 'node:worker_threads';
import { fuzzApps } from './apps.js';
import { check } from './check.js';
import { emptyStats, fuzz, inputAt, type Failure, type FuzzRun, type FuzzStats } from './fuzz.js';

interface Args {
  inputs: number;
  seed: number;
  timeoutMs: number;
  replay: number | undefined;
  out: string;
}

interface WorkerData {
  fuzzWorker: true;
  run: Omit<FuzzRun, 'onInput' | 'onStats'>;
  progress: SharedArrayBuffer;
}

/** `stats` is printed, `snapshot` (each second) is kept in case the worker hangs, `done` ends it. */
type Message = { type: 'stats' | 'snapshot' | 'done'; stats: FuzzStats };

const USAGE = 'usage: npm run fuzz -- [--inputs N] [--seed S] [--timeout MS] [--replay INDEX] [--out DIR]';

function parseArgs(argv: string[]): Args {
  const args: Args = {
    inputs: 1_000_000,
    seed: Math.floor(Math.random() * 2 ** 31),
    timeoutMs: 10_000,
    replay: undefined,
    out: '.fuzz',
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[++i];
    const number = (): number => {
      const parsed = Number(value);
      if (value === undefined || !Number.isSafeInteger(parsed) || parsed < 0)
        throw new Error(`${flag} needs a whole number, got ${JSON.stringify(value ?? '')}\n${USAGE}`);
      return parsed;
    };
    if (flag === '--inputs') args.inputs = number();
    else if (flag === '--seed') args.seed = number();
    else if (flag === '--timeout') args.timeoutMs = number();
    else if (flag === '--replay') args.replay = number();
    else if (flag === '--out' && value !== undefined) args.out = value;
    else throw new Error(`unknown argument ${JSON.stringify(flag)}\n${USAGE}`);
  }
  return args;
}

/** The hang watchdog's bound: well over the per-input timeout, which catches asynchronous hangs. */
const hangMs = (args: Args): number => Math.max(30_000, 3 * args.timeoutMs);

export async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  if (args.replay !== undefined) return replay(args, args.replay);
  console.log(
    `fuzz: ${args.inputs} inputs, seed ${args.seed}, ${args.timeoutMs} ms per answer (replay: --seed ${args.seed})`,
  );
  const total = emptyStats();
  const started = performance.now();
  let from = 0;
  while (from < args.inputs) {
    const segment = await runWorker(args, from);
    merge(total, segment.stats);
    if (segment.hung === undefined) break;
    // Inputs in the last second before the hang were answered but not counted by status.
    total.inputs += segment.hung - from - segment.stats.inputs;
    const input = inputAt(args.seed, segment.hung);
    total.failures.push({
      seed: args.seed,
      index: segment.hung,
      input,
      problems: [`hang: the event loop was blocked for over ${hangMs(args)} ms`],
    });
    total.inputs++;
    from = segment.hung + 1;
  }
  total.seconds = (performance.now() - started) / 1000;
  report(total);
  for (const failure of total.failures) console.log(`  written ${await writeFailure(args, failure)}`);
  return total.failures.length === 0 ? 0 : 1;
}

/** Runs inputs [from, args.inputs) in a worker; `hung` is the index it stopped on, if it hung. */
async function runWorker(args: Args, from: number): Promise<{ stats: FuzzStats; hung?: number }> {
  const progress = new SharedArrayBuffer(4);
  const current = new Int32Array(progress);
  const data: WorkerData = {
    fuzzWorker: true,
    run: { seed: args.seed, from, to: args.inputs, timeoutMs: args.timeoutMs, every: 50_000 },
    progress,
  };
  const worker = new Worker(new URL(import.meta.url), { workerData: data });
  const started = performance.now();
  return new Promise((resolvePromise, reject) => {
    let seen = -1;
    let since = performance.now();
    const watchdog = setInterval(() => {
      const index = Atomics.load(current, 0);
      if (index !== seen) {
        [seen, since] = [index, performance.now()];
      } else if (performance.now() - since > hangMs(args)) {
        clearInterval(watchdog);
        console.log(`  input ${index} blocked the event loop for ${hangMs(args)} ms: stopping its worker`);
        void worker.terminate().then(() => resolvePromise({ stats: last, hung: index }));
      }
    }, 1_000);
    let last = emptyStats();
    worker.on('message', (message: Message) => {
      last = message.stats;
      if (message.type === 'snapshot') return;
      if (message.type === 'stats') {
        const done = from + message.stats.inputs;
        const rate = message.stats.inputs / ((performance.now() - started) / 1000);
        console.log(
          `  ${done} inputs, ${Math.round(rate)}/s, ${statusLine(message.stats)}, ${message.stats.failures.length} failures`,
        );
      } else {
        clearInterval(watchdog);
        resolvePromise({ stats: message.stats });
      }
    });
    worker.on('error', (error) => {
      clearInterval(watchdog);
      reject(error);
    });
  });
}

function merge(total: FuzzStats, part: FuzzStats): void {
  total.inputs += part.inputs;
  total.patched += part.patched;
  for (const [status, count] of Object.entries(part.statuses))
    total.statuses[status] = (total.statuses[status] ?? 0) + count;
  for (const [shape, count] of Object.entries(part.shapes))
    total.shapes[shape] = (total.shapes[shape] ?? 0) + count;
  total.failures.push(...part.failures);
  total.slowest = [...total.slowest, ...part.slowest].sort((a, b) => b.ms - a.ms).slice(0, 10);
}

const statusLine = (stats: FuzzStats): string =>
  Object.entries(stats.statuses)
    .map(([status, count]) => `${status}: ${count}`)
    .join(', ');

function report(stats: FuzzStats): void {
  console.log(
    `fuzz: ${stats.inputs} inputs in ${stats.seconds.toFixed(1)} s, ${Math.round(stats.inputs / stats.seconds)} inputs/s (each sent twice)`,
  );
  console.log(`  statuses: ${statusLine(stats)} (200 with a patch: ${stats.patched})`);
  console.log(
    `  shapes: ${Object.entries(stats.shapes)
      .map(([shape, count]) => `${shape}: ${count}`)
      .join(', ')}`,
  );
  console.log('  slowest answers:');
  for (const slow of stats.slowest)
    console.log(
      `    ${slow.ms.toFixed(1)} ms  input ${slow.index} (${slow.shape}, ${slow.bytes} chars, ${slow.status})`,
    );
  console.log(`  failures: ${stats.failures.length}`);
  for (const failure of stats.failures) {
    console.log(`    input ${failure.index} (seed ${failure.seed}): ${failure.problems.join('; ')}`);
    if (failure.minimal) console.log(`      shrunk: ${failure.minimal.problems.join('; ')}`);
  }
}

async function writeFailure(args: Args, failure: Failure): Promise<string> {
  const dir = resolve(args.out);
  await mkdir(dir, { recursive: true });
  const file = join(dir, `failure-${failure.seed}-${failure.index}.json`);
  const replayCommand = `npm run fuzz -- --seed ${failure.seed} --replay ${failure.index}`;
  await writeFile(file, `${JSON.stringify({ replay: replayCommand, ...failure }, null, 2)}\n`);
  return file;
}

/** One input again, by seed and index: its verdict, and its request written out for curl. */
async function replay(args: Args, index: number): Promise<number> {
  const input = inputAt(args.seed, index);
  const apps = await fuzzApps();
  const { answer, problems } = await check(apps[input.config]!, input, args.timeoutMs);
  console.log(`input ${index} of seed ${args.seed}: ${input.shape}, config ${input.config}, ${input.url}`);
  console.log(`  headers ${JSON.stringify(input.headers)}`);
  console.log(`  answer ${answer.status} in ${answer.ms.toFixed(1)} ms: ${answer.body.slice(0, 500)}`);
  console.log(problems.length === 0 ? '  no problem' : `  problems: ${problems.join('; ')}`);
  const file = await writeFailure(args, { seed: args.seed, index, problems, input });
  console.log(`  written ${file}`);
  await Promise.all(apps.map((app) => app.close()));
  return problems.length === 0 ? 0 : 1;
}

async function work(data: WorkerData): Promise<void> {
  const current = new Int32Array(data.progress);
  const apps = await fuzzApps();
  let posted = performance.now();
  const stats = await fuzz(apps, {
    ...data.run,
    onInput: (index, snapshot) => {
      Atomics.store(current, 0, index);
      if (performance.now() - posted < 1_000) return;
      posted = performance.now();
      parentPort!.postMessage({ type: 'snapshot', stats: snapshot } satisfies Message);
    },
    onStats: (snapshot) => parentPort!.postMessage({ type: 'stats', stats: snapshot } satisfies Message),
  });
  await Promise.all(apps.map((app) => app.close()));
  parentPort!.postMessage({ type: 'done', stats } satisfies Message);
}

if ((workerData as Partial<WorkerData> | null)?.fuzzWorker === true) await work(workerData as WorkerData);
