// Start-up time and memory of `serve` in cluster mode, against the e2e harness's real etcd and
// kube-apiserver (bench/e2e-cluster.mjs) holding N ServiceAccounts: time from spawn to the first
// mutated answer (a real AdmissionReview, polled) and to /readyz 200, the cache sync, idle RSS once
// it settles, the heap (bench/memory-probe.mjs), and peak RSS after a short load (bench/load.mjs).
//
//   node bench/startup-memory.mjs [--counts 2000,100000] [--entries dist,bundle] [--runs 3]
//     [--certificates files,builtin] [--node-flags '--max-semi-space-size=2;--optimize-for-size']
//     [--compile-cache none,image] [--load-seconds 5] [--cpu 1] [--json out.json]
//
// Entries: dist = dist/cli/main.js (`npm run build`), bundle = dist/bundle/cli.mjs (`npm run
// bundle`), or NAME=PATH for another build (e.g. an earlier commit's). Each --node-flags variant
// (';'-separated, '' = none) is its own row, and so is each --compile-cache: `image` starts as the
// image does (Dockerfile), from V8's compile cache made by one `--version` run with the row's Node
// flags and read-only at run time (each start gets a fresh copy of it); `none` without. Every row
// is the median of --runs starts. The server is pinned with taskset to --cpu. Importable:
// bench/run.mjs calls `startupMemory(options)`, which returns a plain JSON result.
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { adminClient, startCluster } from './e2e-cluster.mjs';
import { createCA, issueCertificate } from '../scripts/pki.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const ENTRIES = { dist: join(root, 'dist/cli/main.js'), bundle: join(root, 'dist/bundle/cli.mjs') };
const PER_NAMESPACE = 1000;
/** dist, bundle, or NAME=PATH: another build of the CLI (e.g. of an earlier commit, to compare). */
const entryPath = (entry) => ENTRIES[entry] ?? entry.slice(entry.indexOf('=') + 1);
const ROLE = (i) => `arn:aws:iam::111122223333:role/app-${i}`;
const WEBHOOK_CONFIGURATION = 'pod-identity-webhook-bench';

export const DEFAULTS = {
  counts: [2000],
  entries: ['dist', 'bundle'],
  certificates: ['files'],
  nodeFlags: [''],
  compileCache: ['image'],
  runs: 3,
  loadSeconds: 5,
  cpu: '1',
};

const namespaceOf = (i) => `bench-${Math.floor(i / PER_NAMESPACE)}`;

/** A ServiceAccount as Helm leaves it: labels, the role, and annotations the webhook does not read. */
function serviceAccount(i) {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: {
      name: `app-${i}`,
      namespace: namespaceOf(i),
      labels: { 'app.kubernetes.io/name': `app-${i}`, 'app.kubernetes.io/managed-by': 'Helm' },
      annotations: {
        'eks.amazonaws.com/role-arn': ROLE(i),
        'meta.helm.sh/release-name': `app-${i}`,
        'meta.helm.sh/release-namespace': namespaceOf(i),
      },
    },
  };
}

/** Creates ServiceAccounts [from, to) with `concurrency` requests in flight; 409 counts as done. */
async function createServiceAccounts(api, from, to, concurrency = 48) {
  const started = performance.now();
  for (let ns = Math.floor(from / PER_NAMESPACE); ns * PER_NAMESPACE < to; ns++) {
    const res = await api('POST', '/api/v1/namespaces', { metadata: { name: `bench-${ns}` } });
    if (res.status !== 201 && res.status !== 409)
      throw new Error(`namespace bench-${ns}: HTTP ${res.status}`);
  }
  let next = from;
  const worker = async () => {
    while (next < to) {
      const i = next++;
      const account = serviceAccount(i);
      const res = await api(
        'POST',
        `/api/v1/namespaces/${account.metadata.namespace}/serviceaccounts`,
        account,
      );
      if (res.status !== 201 && res.status !== 409) {
        throw new Error(`ServiceAccount ${i}: HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return (performance.now() - started) / 1000;
}

/** How many ServiceAccounts the cluster holds (created by this script, in namespaces bench-N). */
async function countServiceAccounts(api) {
  const res = await api('GET', '/api/v1/serviceaccounts?limit=1');
  if (res.status !== 200) throw new Error(`counting ServiceAccounts: HTTP ${res.status}`);
  return res.body.items.length + (res.body.metadata.remainingItemCount ?? 0);
}

/** The webhook configuration the built-in certificate mode keeps current; it matches nothing. */
async function ensureWebhookConfiguration(api) {
  const res = await api('POST', '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', {
    metadata: { name: WEBHOOK_CONFIGURATION },
    webhooks: [
      {
        name: 'bench.pod-identity-webhook.example.com',
        clientConfig: { url: 'https://127.0.0.1:1/mutate' },
        rules: [
          {
            operations: ['CREATE'],
            apiGroups: ['bench.example.com'],
            apiVersions: ['v1'],
            resources: ['nothings'],
          },
        ],
        sideEffects: 'None',
        admissionReviewVersions: ['v1'],
        failurePolicy: 'Ignore',
      },
    ],
  });
  if (res.status !== 201 && res.status !== 409) throw new Error(`webhook configuration: HTTP ${res.status}`);
}

const freePort = () =>
  new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

const status = async (pid) => {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(text)[1]);
  return {
    rssMiB: kib('VmRSS') / 1024,
    hwmMiB: kib('VmHWM') / 1024,
    anonMiB: kib('RssAnon') / 1024,
    fileMiB: kib('RssFile') / 1024,
  };
};

/** CPU time the process used so far (user + system), in ms: start-up cost apart from waiting. */
const cpuMs = async (pid) => {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in 1/100 s
};

/** One POST or GET over `agent`; resolves with { status, body } or rejects on a connection error. */
function call(agent, port, method, path, body) {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent,
        timeout: 2000,
        headers: body ? { 'content-type': 'application/json', 'content-length': body.length } : {},
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/** Polls until `ok(response)`; resolves with the time since `t0` in ms. */
async function pollUntil(t0, agent, port, method, path, body, ok, exited) {
  for (;;) {
    if (exited()) throw new Error(`webhook exited before ${method} ${path} succeeded`);
    try {
      const res = await call(agent, port, method, path, body);
      if (ok(res)) return performance.now() - t0;
    } catch {
      // not listening yet
    }
    await delay(5);
  }
}

/**
 * Idle RSS: sampled every 500 ms, at least 5 s after ready, until 4 samples agree within 0.5 MiB.
 * Resolves with the last /proc status sample (RSS, and its anonymous and file-backed parts).
 */
async function settledRss(pid) {
  const samples = [];
  const started = performance.now();
  for (;;) {
    samples.push(await status(pid));
    const last = samples.slice(-4).map((sample) => sample.rssMiB);
    const elapsed = performance.now() - started;
    if (
      (elapsed >= 5000 && last.length === 4 && Math.max(...last) - Math.min(...last) < 0.5) ||
      elapsed > 30_000
    ) {
      return samples.at(-1);
    }
    await delay(500);
  }
}

function review(template, i) {
  const copy = structuredClone(template);
  const pod = copy.request.object;
  copy.request.namespace = pod.metadata.namespace = namespaceOf(i);
  pod.spec.serviceAccountName = `app-${i}`;
  return copy;
}

/** What the image's build does (Dockerfile): one `--version` run writes V8's compile cache. */
async function imageCompileCache(dir, entry, nodeFlags) {
  const cache = await mkdtemp(join(dir, 'compile-cache-'));
  await promisify(execFile)(process.execPath, [...nodeFlags, entryPath(entry), '--version'], {
    env: { ...process.env, NODE_COMPILE_CACHE: cache },
  });
  return cache;
}

async function runOnce({
  entry,
  nodeFlags,
  compileCache,
  certificates,
  context,
  tls,
  dir,
  reviewFile,
  body,
  loadSeconds,
  cpu,
}) {
  const [port, metricsPort] = [await freePort(), await freePort()];
  const probeFile = join(dir, `probe-${port}.json`);
  const serveArgs = [
    'serve',
    '--kubeconfig',
    context.kubeconfig,
    '--port',
    String(port),
    '--metrics-port',
    String(metricsPort),
    ...(certificates === 'builtin'
      ? ['--certificates=builtin', '--namespace', 'bench-0', '--webhook-configuration', WEBHOOK_CONFIGURATION]
      : ['--tls-cert', tls.cert, '--tls-key', tls.key]),
  ];
  const node = [
    process.execPath,
    ...nodeFlags,
    '--import',
    join(root, 'bench/memory-probe.mjs'),
    entryPath(entry),
  ];
  // The image's cache is read-only: what a start would add to it must not reach the next start.
  const cache = compileCache && (await mkdtemp(join(dir, 'start-cache-')));
  if (cache) await cp(compileCache, cache, { recursive: true });
  const t0 = performance.now();
  const child = spawn('taskset', ['-c', cpu, ...node, ...serveArgs], {
    // As in the image: this sandbox sets NODE_EXTRA_CA_CERTS for every process, which makes Node
    // add ~140 more certificates to every TLS context that has a CA of its own.
    env: {
      ...process.env,
      NODE_EXTRA_CA_CERTS: '',
      BENCH_MEMORY_PROBE_FILE: probeFile,
      ...(cache ? { NODE_COMPILE_CACHE: cache } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let exit;
  const exited = new Promise((resolve) =>
    child.on('exit', (code, signal) => resolve((exit = { code, signal }))),
  );
  let syncedMs;
  let output = '';
  const onOutput = (chunk) => {
    output = (output + chunk.toString('utf8')).slice(-20_000);
    if (syncedMs === undefined && output.includes('"ServiceAccount cache synced"'))
      syncedMs = performance.now() - t0;
  };
  child.stdout.on('data', onOutput);
  child.stderr.on('data', onOutput);
  // The serving certificate of the built-in mode is signed by a CA only the cluster knows.
  const agent = new Agent({
    keepAlive: true,
    ca: tls.caCert,
    rejectUnauthorized: certificates !== 'builtin',
  });
  try {
    const mutated = (res) => res.status === 200 && JSON.parse(res.body).response?.patch !== undefined;
    const [firstAnswerMs, readyzMs] = await Promise.all([
      pollUntil(t0, agent, port, 'POST', '/mutate', body, mutated, () => exit),
      pollUntil(
        t0,
        agent,
        port,
        'GET',
        '/readyz',
        undefined,
        (res) => res.status === 200,
        () => exit,
      ),
    ]);
    const startCpuMs = await cpuMs(child.pid);
    const startPeakMiB = (await status(child.pid)).hwmMiB;
    const idle = await settledRss(child.pid);
    child.kill('SIGUSR2');
    let heap;
    for (let i = 0; i < 100 && heap === undefined; i++) {
      await delay(50);
      heap = await readFile(probeFile, 'utf8').then(JSON.parse, () => undefined);
    }
    let load;
    if (loadSeconds > 0) {
      load = await runLoad(port, tls, certificates, reviewFile, loadSeconds);
      load.peakRssMiB = (await status(child.pid)).hwmMiB;
    }
    const [idleRssMiB, idleAnonMiB, idleFileMiB] = [idle.rssMiB, idle.anonMiB, idle.fileMiB];
    const times = { firstAnswerMs, readyzMs, syncedMs, startCpuMs };
    return { ...times, startPeakMiB, idleRssMiB, idleAnonMiB, idleFileMiB, heap, load };
  } catch (error) {
    error.message += `\n--- webhook output (tail) ---\n${output.slice(-3000)}`;
    throw error;
  } finally {
    agent.destroy();
    child.kill('SIGTERM');
    await exited;
  }
}

function runLoad(port, tls, certificates, reviewFile, seconds) {
  return new Promise((resolve, reject) => {
    // bench/load.mjs verifies the server with a CA file; the built-in mode's CA is in the cluster.
    const env =
      certificates === 'builtin' ? { ...process.env, NODE_TLS_REJECT_UNAUTHORIZED: '0' } : process.env;
    const child = spawn(
      process.execPath,
      [
        join(root, 'bench/load.mjs'),
        JSON.stringify({ port, ca: tls.ca, body: reviewFile, mode: 'closed', connections: 16, seconds }),
      ],
      { env, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load exited ${code}`)),
    );
  });
}

const median = (values) => {
  const sorted = values.filter((v) => typeof v === 'number').sort((a, b) => a - b);
  return sorted.length === 0 ? undefined : sorted[Math.floor((sorted.length - 1) / 2)];
};

function summarize(runs) {
  const pick = (f) => median(runs.map(f));
  return {
    firstAnswerMs: pick((r) => r.firstAnswerMs),
    readyzMs: pick((r) => r.readyzMs),
    syncedMs: pick((r) => r.syncedMs),
    startCpuMs: pick((r) => r.startCpuMs),
    startPeakMiB: pick((r) => r.startPeakMiB),
    idleRssMiB: pick((r) => r.idleRssMiB),
    idleAnonMiB: pick((r) => r.idleAnonMiB),
    idleFileMiB: pick((r) => r.idleFileMiB),
    heapUsedMiB: pick((r) => r.heap?.afterGc.heapUsed),
    heapTotalMiB: pick((r) => r.heap?.before.heapTotal),
    externalMiB: pick((r) => r.heap?.afterGc.external),
    loadPeakRssMiB: pick((r) => r.load?.peakRssMiB),
    loadRps: pick((r) => r.load?.rps),
    loadP99Ms: pick((r) => r.load?.p99),
  };
}

/** Runs every combination of options; returns { node, cpu, create: [...], scenarios: [...] }. */
export async function startupMemory(options = {}) {
  const o = { ...DEFAULTS, ...options };
  const entries = o.entries.filter((entry) => existsSync(entryPath(entry)));
  const skipped = o.entries.filter((entry) => !entries.includes(entry));
  const dir = await mkdtemp(join(tmpdir(), 'piw-startup-'));
  const ca = await createCA(dir);
  const tls = await issueCertificate(dir, 'tls', ca, { commonName: 'bench', hosts: ['127.0.0.1'] });
  tls.ca = ca.cert;
  tls.caCert = await readFile(ca.cert);
  const template = JSON.parse(
    await readFile(join(root, 'test/fixtures/existing-volumes/review.json'), 'utf8'),
  );
  const body = Buffer.from(JSON.stringify(review(template, 0)));
  const reviewFile = join(dir, 'review.json');
  await writeFile(reviewFile, body);

  // BENCH_CLUSTER=<file with an E2EContext as JSON>: a cluster kept running between runs (creating
  // 100,000 ServiceAccounts takes minutes); the ServiceAccounts it already has are not created again.
  const cluster = process.env.BENCH_CLUSTER
    ? { context: JSON.parse(await readFile(process.env.BENCH_CLUSTER, 'utf8')), stop: async () => {} }
    : await startCluster();
  const { api, close } = adminClient(cluster.context);
  const result = { node: process.version, cpu: o.cpu, skippedEntries: skipped, create: [], scenarios: [] };
  try {
    if (o.certificates.includes('builtin')) await ensureWebhookConfiguration(api);
    let created = await countServiceAccounts(api);
    for (const count of [...o.counts].sort((a, b) => a - b)) {
      if (created < count) {
        const seconds = await createServiceAccounts(api, created, count);
        result.create.push({ from: created, to: count, seconds, perSecond: (count - created) / seconds });
        created = count;
      }
      for (const entry of entries) {
        for (const certificates of o.certificates) {
          for (const [flags, cacheMode] of o.nodeFlags.flatMap((f) => o.compileCache.map((c) => [f, c]))) {
            const nodeFlags = flags.split(/\s+/).filter(Boolean);
            const compileCache =
              cacheMode === 'image' ? await imageCompileCache(dir, entry, nodeFlags) : undefined;
            const runs = [];
            for (let r = 0; r < o.runs; r++) {
              const run = {
                entry,
                nodeFlags,
                compileCache,
                certificates,
                context: cluster.context,
                tls,
                dir,
                reviewFile,
                body,
              };
              runs.push(await runOnce({ ...run, loadSeconds: o.loadSeconds, cpu: o.cpu }));
            }
            result.scenarios.push({
              entry,
              certificates,
              nodeFlags: flags,
              compileCache: cacheMode,
              serviceAccounts: count,
              ...summarize(runs),
              runs,
            });
          }
        }
      }
    }
  } finally {
    close();
    await cluster.stop();
  }
  return result;
}

const fmt = (value, digits = 0) => (typeof value === 'number' ? value.toFixed(digits) : '-');

export function formatTable(result) {
  const lines = [
    `serve in cluster mode: start-up and memory (node ${result.node}, server on cpu ${result.cpu}, median of runs)`,
    ...result.create.map(
      (c) =>
        `created ServiceAccounts ${c.from}..${c.to} in ${c.seconds.toFixed(1)} s (${c.perSecond.toFixed(0)}/s)`,
    ),
    ...(result.skippedEntries.length ? [`skipped (not built): ${result.skippedEntries.join(', ')}`] : []),
    'entry   certs    SAs     cache  node flags                    first ms  readyz ms  synced ms  cpu ms  start peak  idle RSS  (anon  file)  heap used  heap total  external  load peak  load req/s',
  ];
  for (const s of result.scenarios) {
    lines.push(
      [
        s.entry.padEnd(7),
        s.certificates.padEnd(8),
        String(s.serviceAccounts).padEnd(7),
        s.compileCache.padEnd(6),
        (s.nodeFlags || '-').padEnd(29),
        fmt(s.firstAnswerMs).padStart(8),
        fmt(s.readyzMs).padStart(10),
        fmt(s.syncedMs).padStart(10),
        fmt(s.startCpuMs).padStart(7),
        fmt(s.startPeakMiB, 1).padStart(11),
        fmt(s.idleRssMiB, 1).padStart(9),
        `(${fmt(s.idleAnonMiB, 1)} ${fmt(s.idleFileMiB, 1)})`.padStart(13),
        fmt(s.heapUsedMiB, 1).padStart(10),
        fmt(s.heapTotalMiB, 1).padStart(11),
        fmt(s.externalMiB, 1).padStart(9),
        fmt(s.loadPeakRssMiB, 1).padStart(10),
        fmt(s.loadRps).padStart(11),
      ].join(' '),
    );
  }
  lines.push(
    '(MiB; first = spawn to first mutated /mutate answer; cpu = CPU time used until both; heap used after a full GC;',
    ' cache = image: from the compile cache the image ships, none: without one)',
  );
  return lines.join('\n');
}

function parseArgs(argv) {
  const options = {};
  let json;
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    const list = () => value.split(',').filter(Boolean);
    switch (flag) {
      case '--counts':
        options.counts = list().map(Number);
        break;
      case '--entries':
        options.entries = list();
        break;
      case '--certificates':
        options.certificates = list();
        break;
      case '--node-flags':
        options.nodeFlags = value.split(';');
        break;
      case '--compile-cache':
        options.compileCache = list();
        break;
      case '--runs':
        options.runs = Number(value);
        break;
      case '--load-seconds':
        options.loadSeconds = Number(value);
        break;
      case '--cpu':
        options.cpu = value;
        break;
      case '--json':
        json = value;
        break;
      default:
        throw new Error(`unknown flag ${flag} (see the comment at the top of bench/startup-memory.mjs)`);
    }
  }
  for (const entry of options.entries ?? []) {
    if (!(entry in ENTRIES) && !entry.includes('=')) {
      throw new Error(`--entries: ${entry} is not one of ${Object.keys(ENTRIES).join(', ')} or NAME=PATH`);
    }
  }
  for (const mode of options.compileCache ?? []) {
    if (mode !== 'none' && mode !== 'image') throw new Error(`--compile-cache: ${mode} is not none or image`);
  }
  for (const mode of options.certificates ?? []) {
    if (mode !== 'files' && mode !== 'builtin')
      throw new Error(`--certificates: ${mode} is not files or builtin`);
  }
  return { options, json };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { options, json } = parseArgs(process.argv.slice(2));
  const result = await startupMemory(options);
  console.log(formatTable(result));
  if (json) await writeFile(json, `${JSON.stringify(result, null, 2)}\n`);
}
