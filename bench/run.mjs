// npm run bench: the HTTPS server under keep-alive load from a second process, then the pure
// mutation alone. Prints requests/s, p50/p99/p99.9 latency, the server's peak RSS and µs per Pod.
// Bounded: BENCH_SECONDS (default 5) per scenario, concurrency BENCH_CONCURRENCY (default 16).
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createCA, issueCertificate } from '../scripts/pki.mjs';
import { injectIdentity } from '../dist/mutation/inject.js';
import { diffPods } from '../dist/mutation/patch.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const ROLE = 'arn:aws:iam::111122223333:role/bench';
const root = new URL('..', import.meta.url).pathname;

const dir = await mkdtemp(join(tmpdir(), 'piw-bench-'));
const ca = await createCA(dir);
const tls = await issueCertificate(dir, 'tls', ca, { commonName: 'bench', hosts: ['127.0.0.1'] });
await writeFile(
  join(dir, 'accounts.yaml'),
  `apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ServiceAccount, metadata: {name: bench, namespace: bench, annotations: {eks.amazonaws.com/role-arn: "${ROLE}"}}}\n- {apiVersion: v1, kind: ServiceAccount, metadata: {name: plain, namespace: bench}}\n`,
);

// A recorded review as kube-apiserver sends it, widened to n containers.
const template = JSON.parse(await readFile(join(root, 'test/fixtures/existing-volumes/review.json'), 'utf8'));
function review(containers, serviceAccount) {
  const copy = structuredClone(template);
  const pod = copy.request.object;
  pod.metadata.namespace = 'bench';
  copy.request.namespace = 'bench';
  pod.spec.serviceAccountName = serviceAccount;
  pod.spec.containers = Array.from({ length: containers }, (_, i) => ({
    ...structuredClone(template.request.object.spec.containers[0]),
    name: `c${i}`,
  }));
  return copy;
}

const freePort = () =>
  new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

const port = await freePort();
const metricsPort = await freePort();
const server = spawn(
  process.execPath,
  [
    join(root, 'dist/cli/main.js'),
    'serve',
    '--port',
    String(port),
    '--metrics-port',
    String(metricsPort),
    '--tls-cert',
    tls.cert,
    '--tls-key',
    tls.key,
    '--service-accounts',
    join(dir, 'accounts.yaml'),
  ],
  { stdio: ['ignore', 'ignore', 'inherit'] },
);
for (;;) {
  const up = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then(
    () => true,
    () => false,
  );
  if (up) break;
  await new Promise((r) => setTimeout(r, 50));
}

const peakRss = async () => {
  const status = await readFile(`/proc/${server.pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)[1]) / 1024;
};

const rows = [];
const load = (file, seconds) =>
  promisify(execFile)(process.execPath, [
    join(root, 'bench/load.mjs'),
    String(port),
    ca.cert,
    file,
    String(CONCURRENCY),
    String(seconds),
  ]);
try {
  // Warm-up, so the first scenario does not pay for the JIT.
  await writeFile(join(dir, 'warmup.json'), JSON.stringify(review(5, 'bench')));
  await load(join(dir, 'warmup.json'), Math.min(2, SECONDS));
  for (const containers of [1, 5, 20]) {
    for (const [label, account] of [
      ['mutated', 'bench'],
      ['unchanged', 'plain'],
    ]) {
      const file = join(dir, `review-${containers}-${label}.json`);
      await writeFile(file, JSON.stringify(review(containers, account)));
      const { stdout } = await load(file, SECONDS);
      const result = JSON.parse(stdout);
      rows.push({ scenario: `${containers} container(s), ${label}`, ...result, peakRssMiB: await peakRss() });
    }
  }
} finally {
  server.kill('SIGTERM');
}

console.log(
  `HTTPS /mutate, keep-alive, concurrency ${CONCURRENCY}, ${SECONDS}s per scenario (node ${process.version})`,
);
console.log(
  'scenario                        req/s    p50 ms   p99 ms  p99.9 ms  failures  server peak RSS MiB',
);
for (const r of rows) {
  console.log(
    `${r.scenario.padEnd(30)} ${r.rps.toFixed(0).padStart(6)} ${r.p50.toFixed(2).padStart(9)} ${r.p99.toFixed(2).padStart(8)} ${r.p999.toFixed(2).padStart(9)} ${String(r.failures).padStart(9)} ${r.peakRssMiB.toFixed(1).padStart(20)}`,
  );
}

console.log('\npure mutation (inject + diff), in process');
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
for (const containers of [1, 5, 20]) {
  const pod = review(containers, 'bench').request.object;
  const iterations = 20000 / containers;
  for (let i = 0; i < 1000; i++) diffPods(pod, injectIdentity(pod, identity).pod);
  const started = performance.now();
  for (let i = 0; i < iterations; i++) diffPods(pod, injectIdentity(pod, identity).pod);
  const micros = ((performance.now() - started) * 1000) / iterations;
  console.log(`${String(containers).padStart(2)} container(s): ${micros.toFixed(1)} µs per Pod`);
}

console.log('\nServiceAccount cache memory (heap growth per cached ServiceAccount)');
const { trimServiceAccount } = await import('../dist/serviceaccounts/cluster-source.js');
const COUNT = 20000;
const account = (i) => ({
  apiVersion: 'v1',
  kind: 'ServiceAccount',
  metadata: {
    name: `app-${i}`,
    namespace: `team-${i % 200}`,
    uid: crypto.randomUUID(),
    resourceVersion: String(100000 + i),
    creationTimestamp: '2026-01-01T00:00:00Z',
    labels: { 'app.kubernetes.io/name': `app-${i}`, 'app.kubernetes.io/managed-by': 'Helm' },
    annotations: {
      'eks.amazonaws.com/role-arn': `arn:aws:iam::111122223333:role/app-${i}`,
      'meta.helm.sh/release-name': `app-${i}`,
      'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({
        metadata: { name: `app-${i}` },
      }).repeat(8),
    },
    managedFields: [
      {
        manager: 'helm',
        operation: 'Update',
        apiVersion: 'v1',
        time: '2026-01-01T00:00:00Z',
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:metadata': {} },
      },
    ],
  },
  secrets: [{ name: `app-${i}-token` }],
});
const heapFor = (make) => {
  globalThis.gc?.();
  const before = process.memoryUsage().heapUsed;
  const kept = Array.from({ length: COUNT }, (_, i) => make(i));
  globalThis.gc?.();
  const bytes = (process.memoryUsage().heapUsed - before) / COUNT;
  return { bytes, kept };
};
const full = heapFor(account);
full.kept.length = 0;
const trimmed = heapFor((i) => trimServiceAccount('eks.amazonaws.com', account(i)));
console.log(`full objects:    ${full.bytes.toFixed(0)} bytes each`);
console.log(
  `trimmed (cache): ${trimmed.bytes.toFixed(0)} bytes each (${COUNT} ServiceAccounts${globalThis.gc ? '' : '; run with --expose-gc for steadier numbers'})`,
);
