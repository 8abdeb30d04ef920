// npm run bench: this webhook beside a bare Node HTTPS server and (when
// POD_IDENTITY_WEBHOOK_BENCH_GO names its binary) the Go webhook, in the same run, against the same
// real kube-apiserver and ServiceAccounts (cluster mode for both webhooks), each server on one CPU
// (BENCH_SERVER_CPU, default 0) and the load generator, etcd and kube-apiserver on another
// (BENCH_LOAD_CPU, default 1). For 1, 5 and 20 containers per Pod (BENCH_CONTAINERS):
//   closed loop: BENCH_CONCURRENCY (16) keep-alive connections for BENCH_SECONDS (5): req/s, p99;
//   open loop:   BENCH_RATE (1000) req/s on a fixed timeline for BENCH_OPEN_SECONDS (10), latency
//                from each request's scheduled time: p50, p99, p99.9;
//   peak RSS (VmHWM) of each server; for the webhook, its event-loop delay (p99, max) and GC pauses
//   by kind during the open loop, from its /metrics; then the start-up and memory results of
//   bench/startup-memory.mjs and the pure mutation's time per Pod.
// The webhook is the bundle the image runs (dist/bundle/cli.mjs, with the Dockerfile ENTRYPOINT's
// Node flags, or BENCH_NODE_FLAGS instead); BENCH_WEBHOOK=dist runs dist/cli/main.js instead. Prints a table and writes JSON to
// bench/results/latest.json or --json PATH.
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { cp, mkdir, mkdtemp, open, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { imageNodeFlags } from '../scripts/image-node-flags.mjs';
import { issueCertificate } from '../scripts/pki.mjs';
import { adminClient, startCluster } from './e2e-cluster.mjs';
import {
  formatTable as formatStartupMemory,
  startupMemory as startupMemoryBench,
} from './startup-memory.mjs';

const env = process.env;
const numbers = (value, fallback) => (value ?? fallback).split(',').map(Number);
const config = {
  closedSeconds: Number(env.BENCH_SECONDS ?? 5),
  openSeconds: Number(env.BENCH_OPEN_SECONDS ?? 10),
  rate: Number(env.BENCH_RATE ?? 1000),
  connections: Number(env.BENCH_CONCURRENCY ?? 16),
  containers: numbers(env.BENCH_CONTAINERS, '1,5,20'),
  serviceAccounts: Number(env.BENCH_SERVICE_ACCOUNTS ?? 2000),
  warmupSeconds: Number(env.BENCH_WARMUP_SECONDS ?? 3),
  serverCpu: env.BENCH_SERVER_CPU ?? '0',
  loadCpu: env.BENCH_LOAD_CPU ?? '1',
  webhook: env.BENCH_WEBHOOK === 'dist' ? 'dist/cli/main.js' : 'dist/bundle/cli.mjs',
  nodeFlags: env.BENCH_NODE_FLAGS?.split(/\s+/).filter(Boolean),
  variants: (env.BENCH_VARIANTS ?? '')
    .split(';')
    .filter((variant) => variant.includes('='))
    .map((variant) => {
      const at = variant.indexOf('=');
      return [
        `webhook-${variant.slice(0, at).trim()}`,
        variant
          .slice(at + 1)
          .split(/\s+/)
          .filter(Boolean),
      ];
    }),
  go: env.POD_IDENTITY_WEBHOOK_BENCH_GO || undefined,
};
const jsonArg = process.argv.indexOf('--json');
const root = new URL('..', import.meta.url).pathname;
const jsonPath = resolve(jsonArg > 0 ? process.argv[jsonArg + 1] : join(root, 'bench/results/latest.json'));
const NAMESPACE = 'bench';
const ROLE = 'arn:aws:iam::111122223333:role/bench';
const pin = availableParallelism() > 1;
const run = promisify(execFile);

if (!process.version.startsWith('v24.'))
  console.warn(`warning: Node ${process.version}; CI and the image run Node 24`);
// The load generator, etcd and kube-apiserver inherit this process's CPU; the servers get their own.
if (pin) await run('taskset', ['-pc', config.loadCpu, String(process.pid)]);
const loadBefore = readFileSync('/proc/loadavg', 'utf8').trim();

const webhookNodeFlags =
  config.nodeFlags ?? (config.webhook.startsWith('dist/bundle') ? imageNodeFlags() : []);

const freePort = () =>
  new Promise((resolvePort, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
    server.once('error', reject);
  });

async function startServer(name, command, args, logFile) {
  const log = await open(logFile, 'w');
  // taskset execs the command: the pid is the server's, for /proc/<pid>/status.
  const argv = pin ? ['taskset', '-c', config.serverCpu, command, ...args] : [command, ...args];
  // As in the image: this sandbox's NODE_EXTRA_CA_CERTS adds ~140 CAs to every TLS context.
  const childEnv = { ...process.env };
  delete childEnv.NODE_EXTRA_CA_CERTS;
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', log.fd, log.fd], env: childEnv });
  child.once('exit', () => void log.close());
  return { name, child, logFile };
}

function stopServer({ child }) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 12_000);
    child.once('exit', () => {
      clearTimeout(kill);
      done();
    });
    child.kill('SIGTERM');
  });
}

/** CPU time the server has used (user + system), in µs; /proc counts in ticks of 10 ms. */
const cpuMicros = async ({ child }) => {
  const fields = (await readFile(`/proc/${child.pid}/stat`, 'utf8')).split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
};

const peakRssMiB = async ({ child }) =>
  Number(/VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${child.pid}/status`, 'utf8'))[1]) / 1024;

/**
 * The webhook's own view of a run, from its /metrics (prom-client's defaults): the event-loop
 * delay (monitorEventLoopDelay; prom-client resets it at every scrape, so a scrape before the run
 * starts the window) and the time spent in garbage collection by kind, as totals to subtract.
 */
async function runtimeMetrics({ metricsPort }) {
  if (metricsPort === undefined) return undefined;
  const text = await new Promise((done, fail) =>
    get({ host: '127.0.0.1', port: metricsPort, path: '/metrics' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => done(body));
    }).on('error', fail),
  );
  const value = (name) => Number(new RegExp(`^${name} ([^ \\n]+)`, 'm').exec(text)?.[1] ?? NaN);
  const gc = {};
  for (const [, field, kind, number] of text.matchAll(
    /^nodejs_gc_duration_seconds_(sum|count)\{kind="(\w+)"\} (\S+)$/gm,
  )) {
    gc[kind] ??= { count: 0, seconds: 0 };
    gc[kind][field === 'sum' ? 'seconds' : 'count'] = Number(number);
  }
  return {
    eventLoopDelayP99Ms: value('nodejs_eventloop_lag_p99_seconds') * 1000,
    eventLoopDelayMaxMs: value('nodejs_eventloop_lag_max_seconds') * 1000,
    gc,
  };
}

/** GC during a run: count and total pause by kind, from two runtimeMetrics readings. */
function gcDuring(before, after) {
  if (!before || !after) return undefined;
  return Object.fromEntries(
    Object.entries(after.gc).map(([kind, { count, seconds }]) => [
      kind,
      {
        count: count - (before.gc[kind]?.count ?? 0),
        ms: Math.round((seconds - (before.gc[kind]?.seconds ?? 0)) * 1e5) / 100,
      },
    ]),
  );
}

/** One POST of `body` over a fresh connection: the parsed AdmissionReview answer, or undefined. */
async function answer(port, ca, body) {
  const { request } = await import('node:https');
  return new Promise((done) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/mutate',
        method: 'POST',
        ca,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => {
          try {
            done(res.statusCode === 200 ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined);
          } catch {
            done(undefined);
          }
        });
      },
    );
    req.on('error', () => done(undefined));
    req.end(body);
  });
}

const patchOf = (review) =>
  review?.response?.patch
    ? JSON.parse(Buffer.from(review.response.patch, 'base64').toString('utf8'))
    : undefined;

/** Waits until the server answers; webhooks must answer with a patch (their cache is synced). */
async function ready(server, ca, body) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (server.child.exitCode !== null) throw new Error(`${server.name} exited; log: ${server.logFile}`);
    const review = await answer(server.port, ca, body);
    if (review && (server.name === 'bare' || patchOf(review))) return;
    if (Date.now() > deadline) throw new Error(`${server.name} not ready after 60 s; log: ${server.logFile}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** One run of bench/load.mjs against `server`, with the server's CPU time per answered request. */
async function load(server, ca, bodyFile, mode, seconds) {
  const cpuBefore = await cpuMicros(server);
  const { stdout } = await run(
    process.execPath,
    [
      join(root, 'bench/load.mjs'),
      JSON.stringify({
        port: server.port,
        ca,
        body: bodyFile,
        mode,
        connections: config.connections,
        seconds,
        rate: config.rate,
      }),
    ],
    { maxBuffer: 1 << 20 },
  );
  const result = JSON.parse(stdout);
  return { ...result, cpuMicrosPerRequest: ((await cpuMicros(server)) - cpuBefore) / result.requests };
}

// A recorded review as kube-apiserver sends it, widened to n containers.
const template = JSON.parse(await readFile(join(root, 'test/fixtures/existing-volumes/review.json'), 'utf8'));
function review(containers, serviceAccount) {
  const copy = structuredClone(template);
  const pod = copy.request.object;
  pod.metadata.namespace = NAMESPACE;
  copy.request.namespace = NAMESPACE;
  pod.spec.serviceAccountName = serviceAccount;
  pod.spec.containers = Array.from({ length: containers }, (_, i) => ({
    ...structuredClone(template.request.object.spec.containers[0]),
    name: `c${i}`,
  }));
  return copy;
}

const dir = await mkdtemp(join(tmpdir(), 'piw-bench-'));
console.log(`bench: files and server logs in ${dir}`);
// The bundle is copied, so that a rebuild of dist/ during the run (npm run bundle elsewhere) cannot
// pull it from under the servers.
const entry = config.webhook.startsWith('dist/bundle')
  ? (await cp(join(root, 'dist/bundle'), join(dir, 'bundle'), { recursive: true }),
    join(dir, 'bundle/cli.mjs'))
  : join(root, config.webhook);
const cluster = await startCluster();
const servers = [];
const results = [];
try {
  const { context } = cluster;
  const { api, close } = adminClient(context);
  const created = await api('POST', '/api/v1/namespaces', { metadata: { name: NAMESPACE } });
  if (created.status !== 201) throw new Error(`creating namespace ${NAMESPACE}: HTTP ${created.status}`);
  // `bench` has a role, `plain` none; the others (every other one with a role) fill the cache.
  const accounts = [
    { name: 'bench', role: ROLE },
    { name: 'plain' },
    ...Array.from({ length: Math.max(0, config.serviceAccounts - 2) }, (_, i) => ({
      name: `app-${i}`,
      role: i % 2 === 0 ? `${ROLE}-${i}` : undefined,
    })),
  ];
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < accounts.length) {
        const { name, role } = accounts[next++];
        const annotations = role ? { 'eks.amazonaws.com/role-arn': role } : undefined;
        const res = await api('POST', `/api/v1/namespaces/${NAMESPACE}/serviceaccounts`, {
          metadata: { name, annotations },
        });
        if (res.status !== 201) throw new Error(`creating ServiceAccount ${name}: HTTP ${res.status}`);
      }
    }),
  );
  close();

  const tls = await issueCertificate(dir, 'serving', context.webhookCa, {
    commonName: 'bench',
    hosts: ['127.0.0.1'],
  });
  const ca = readFileSync(context.webhookCa.cert);
  const ports = async () => [await freePort(), await freePort()];
  const [barePort] = await ports();
  servers.push({
    ...(await startServer(
      'bare',
      process.execPath,
      [join(root, 'bench/bare-server.mjs'), String(barePort), tls.cert, tls.key],
      join(dir, 'bare.log'),
    )),
    port: barePort,
  });
  // The webhook, and each BENCH_VARIANTS entry (`name=flags;...`) as another webhook with those
  // Node flags instead, measured in the same run (e.g. to weigh V8 flags).
  for (const [name, flags] of [['webhook', webhookNodeFlags], ...config.variants]) {
    const [port, metricsPort] = await ports();
    const serve = [
      '--port',
      port,
      '--metrics-port',
      metricsPort,
      '--tls-cert',
      tls.cert,
      '--tls-key',
      tls.key,
    ];
    servers.push({
      ...(await startServer(
        name,
        process.execPath,
        [...flags, entry, 'serve', ...serve.map(String), '--kubeconfig', context.kubeconfig],
        join(dir, `${name}.log`),
      )),
      port,
      metricsPort,
      nodeFlags: flags,
    });
  }
  if (config.go) {
    const [goPort, goMetrics] = await ports();
    const flags = [
      `--port=${goPort}`,
      `--metrics-port=${goMetrics}`,
      `--tls-cert=${tls.cert}`,
      `--tls-key=${tls.key}`,
    ];
    servers.push({
      ...(await startServer(
        'go',
        config.go,
        ['--in-cluster=false', `--kubeconfig=${context.kubeconfig}`, ...flags],
        join(dir, 'go.log'),
      )),
      port: goPort,
    });
  }
  const warmup = join(dir, 'warmup.json');
  await writeFile(warmup, JSON.stringify(review(5, 'bench')));
  for (const server of servers) {
    await ready(server, ca, readFileSync(warmup));
    await load(server, context.webhookCa.cert, warmup, 'closed', config.warmupSeconds);
  }

  for (const containers of config.containers) {
    const file = join(dir, `review-${containers}.json`);
    await writeFile(file, JSON.stringify(review(containers, 'bench')));
    const rows = [];
    for (const server of servers) {
      const patch = patchOf(await answer(server.port, ca, readFileSync(file)));
      if (server.name !== 'bare' && !patch)
        throw new Error(`${server.name} did not mutate the ${containers}-container Pod`);
      const row = { containers, server: server.name, patchOperations: patch?.length ?? 0 };
      row.closed = await load(server, context.webhookCa.cert, file, 'closed', config.closedSeconds);
      rows.push(row);
    }
    for (const row of rows) {
      const server = servers.find((s) => s.name === row.server);
      const before = await runtimeMetrics(server);
      row.open = await load(server, context.webhookCa.cert, file, 'open', config.openSeconds);
      const after = await runtimeMetrics(server);
      if (after) {
        row.open.eventLoopDelayP99Ms = after.eventLoopDelayP99Ms;
        row.open.eventLoopDelayMaxMs = after.eventLoopDelayMaxMs;
        row.open.gc = gcDuring(before, after);
      }
      row.peakRssMiB = await peakRssMiB(server);
    }
    results.push(...rows);
  }
} finally {
  await Promise.all(servers.map(stopServer));
  await cluster.stop();
}
const loadAfter = readFileSync('/proc/loadavg', 'utf8').trim();

// Goals (issue 10): at the steady rate, p99 <= 1.5x and p99.9 <= 2x the bare server's, and no
// worse than the Go webhook's.
const webhooks = servers.map((server) => server.name).filter((name) => name.startsWith('webhook'));
const ratios = config.containers.flatMap((containers) => {
  const of = (name) => results.find((r) => r.containers === containers && r.server === name);
  const [bare, go] = [of('bare'), of('go')];
  const ratio = (a, b) => Math.round((a / b) * 100) / 100;
  return webhooks.map((name) => {
    const webhook = of(name);
    const p99 = ratio(webhook.open.p99, bare.open.p99);
    const p999 = ratio(webhook.open.p999, bare.open.p999);
    return {
      containers,
      server: name,
      p99VsBare: p99,
      p999VsBare: p999,
      ...(go && {
        p99VsGo: ratio(webhook.open.p99, go.open.p99),
        p999VsGo: ratio(webhook.open.p999, go.open.p999),
      }),
      goals: {
        p99WithinBare: p99 <= 1.5,
        p999WithinBare: p999 <= 2,
        ...(go && {
          p99NoWorseThanGo: webhook.open.p99 <= go.open.p99,
          p999NoWorseThanGo: webhook.open.p999 <= go.open.p999,
        }),
      },
    };
  });
});

const f = (n, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
console.log(
  `\nHTTPS /mutate, cluster mode (${config.serviceAccounts} ServiceAccounts), webhook = node ${webhookNodeFlags.join(' ')} ${config.webhook}; node ${process.version}; ` +
    `servers on CPU ${config.serverCpu}, load on CPU ${config.loadCpu}`,
);
for (const [name, flags] of config.variants)
  console.log(`${name}: node ${flags.join(' ')} ${config.webhook}`);
console.log(
  `closed loop: ${config.connections} connections, ${config.closedSeconds} s; open loop: ${config.rate} req/s for ${config.openSeconds} s, ` +
    'latency from the scheduled send time',
);
console.log(
  'containers  server          closed req/s  closed p99 ms  CPU µs/req  open p50 ms  open p99 ms  open p99.9 ms  open max ms  failures  peak RSS MiB',
);
for (const r of results) {
  console.log(
    `${String(r.containers).padStart(10)}  ${r.server.padEnd(14)} ${f(r.closed.rps, 0).padStart(13)} ${f(r.closed.p99).padStart(14)} ${f(r.closed.cpuMicrosPerRequest, 0).padStart(11)} ${f(r.open.p50).padStart(12)} ` +
      `${f(r.open.p99).padStart(12)} ${f(r.open.p999).padStart(14)} ${f(r.open.max).padStart(12)} ${String(r.closed.failures + r.open.failures).padStart(9)} ${f(r.peakRssMiB, 1).padStart(13)}`,
  );
}
const mark = (ok) => (ok === undefined ? '' : ok ? ' ok' : ' MISSED');
console.log('\nat the steady rate: ratio to bare (goal p99 <= 1.5, p99.9 <= 2) and to Go (goal <= 1)');
for (const r of ratios) {
  console.log(
    `${String(r.containers).padStart(10)}  ${r.server.padEnd(14)} p99 ${f(r.p99VsBare)}x bare${mark(r.goals.p99WithinBare)}, p99.9 ${f(r.p999VsBare)}x bare${mark(r.goals.p999WithinBare)}` +
      (r.p99VsGo === undefined
        ? '  (Go webhook: set POD_IDENTITY_WEBHOOK_BENCH_GO)'
        : `; p99 ${f(r.p99VsGo)}x Go${mark(r.goals.p99NoWorseThanGo)}, p99.9 ${f(r.p999VsGo)}x Go${mark(r.goals.p999NoWorseThanGo)}`),
  );
}
console.log(
  "\nthe webhook's event loop and GC during the open loop (its /metrics: monitorEventLoopDelay, which samples every 10 ms, so an idle loop reads ~10 ms; GC pauses by kind)",
);
for (const r of results.filter((row) => row.open.gc)) {
  const gc = Object.entries(r.open.gc)
    .filter(([, { count }]) => count > 0)
    .map(([kind, { count, ms }]) => `${kind} ${count} (${f(ms, 1)} ms)`)
    .join(', ');
  console.log(
    `${String(r.containers).padStart(10)}  ${r.server.padEnd(14)} event-loop delay p99 ${f(r.open.eventLoopDelayP99Ms)} ms, max ${f(r.open.eventLoopDelayMaxMs)} ms; GC ${gc}`,
  );
}
console.log(`\nload average before: ${loadBefore}; after: ${loadAfter}`);

// Start-up and memory (bench/startup-memory.mjs, its own cluster), after the latency runs.
const startupMemory = await startupMemoryBench({
  counts: [config.serviceAccounts],
  entries: [config.webhook.startsWith('dist/bundle') ? 'bundle' : 'dist'],
  nodeFlags: [webhookNodeFlags.join(' ')],
  runs: Number(env.BENCH_STARTUP_RUNS ?? 3),
  loadSeconds: config.closedSeconds,
  cpu: config.serverCpu,
});
console.log(`\n${formatStartupMemory(startupMemory)}`);

// The pure mutation, in this process: what one Pod costs without HTTP.
const { injectIdentity } = await import('../dist/mutation/inject.js');
const { diffPods } = await import('../dist/mutation/patch.js');
const identity = {
  roleArn: ROLE,
  audience: 'sts.amazonaws.com',
  expirationSeconds: 86400,
  tokenMountPath: '/var/run/secrets/eks.amazonaws.com/serviceaccount',
  regionalSts: true,
  stsEndpoint: '',
  region: 'eu-west-1',
  skipContainers: new Set(),
};
const pureMutation = config.containers.map((containers) => {
  const pod = review(containers, 'bench').request.object;
  const iterations = 20000 / containers;
  for (let i = 0; i < 1000; i++) diffPods(pod, injectIdentity(pod, identity).pod);
  const started = performance.now();
  for (let i = 0; i < iterations; i++) diffPods(pod, injectIdentity(pod, identity).pod);
  return { containers, microsPerPod: ((performance.now() - started) * 1000) / iterations };
});
console.log(
  `\npure mutation (inject + diff): ${pureMutation.map((m) => `${m.containers} container(s) ${f(m.microsPerPod, 1)} µs`).join(', ')}`,
);

await mkdir(dirname(jsonPath), { recursive: true });
await writeFile(
  jsonPath,
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      node: process.version,
      loadBefore,
      loadAfter,
      config,
      webhookNodeFlags,
      results,
      ratios,
      startupMemory,
      pureMutation,
    },
    null,
    2,
  )}\n`,
);
console.log(`JSON: ${jsonPath}`);
