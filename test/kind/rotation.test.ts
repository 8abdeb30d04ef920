// Built-in certificates renewed under load: with a 30-second serving certificate (the shortest
// `serve` accepts, set through the chart's values) the webhook replaces it every 20 seconds or so
// while Pods are created steadily with failurePolicy Fail. No create may fail, every Pod must be
// mutated, and the certificate served through the Service (seen by a probe Pod inside the
// cluster, as kube-apiserver sees it) must really change, each one signed by a CA of the caBundle.
import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { addDiagnostics, deferCleanup, useKind } from './harness/cluster.js';
import { installRelease, type Release } from './harness/releases.js';
import {
  createWorkspace,
  deleteParkedPods,
  startSteadyLoad,
  waitUntilRouted,
  type Workspace,
} from './harness/workloads.js';
import { waitFor } from '../support/wait.js';

const { core, admission, ctx } = useKind();
let release: Release;
let workspace: Workspace;

/** Connects to the webhook's Service twice a second; prints each certificate it has not seen yet. */
const PROBE = `
const tls = require('node:tls');
const host = process.env.TARGET;
const seen = new Set();
const probe = () => {
  const socket = tls.connect({ host, port: 443, servername: host, rejectUnauthorized: false }, () => {
    const cert = socket.getPeerCertificate();
    if (!seen.has(cert.fingerprint256)) {
      seen.add(cert.fingerprint256);
      console.log(JSON.stringify({ at: new Date().toISOString(), fingerprint: cert.fingerprint256, der: cert.raw.toString('base64') }));
    }
    socket.end();
  });
  socket.setTimeout(3000, () => socket.destroy(new Error('timed out')));
  socket.on('error', (error) => console.log(JSON.stringify({ at: new Date().toISOString(), error: error.message })));
};
probe();
setInterval(probe, 500);
`;

interface Seen {
  at: string;
  fingerprint?: string;
  der?: string;
  error?: string;
}

async function probeLines(): Promise<Seen[]> {
  const log = await core.readNamespacedPodLog({ namespace: release.namespace, name: 'tls-probe' });
  return log
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Seen);
}

beforeAll(async () => {
  release = await installRelease('rotation', {
    certificates: { builtin: { certificateValidity: '30s' } },
    mutatingWebhook: { failurePolicy: 'Fail' },
  });
  workspace = await createWorkspace(release, 'rotation');
  await waitUntilRouted(workspace);
  deferCleanup(() => deleteParkedPods(workspace.namespace));
  const target = `${release.fullname}.${release.namespace}.svc`;
  await core.createNamespacedPod({
    namespace: release.namespace,
    body: {
      metadata: { name: 'tls-probe' },
      spec: {
        securityContext: { runAsNonRoot: true, runAsUser: 65532 },
        containers: [
          {
            name: 'probe',
            image: `${ctx.image.repository}:${ctx.image.tag}`,
            imagePullPolicy: 'IfNotPresent',
            command: ['/nodejs/bin/node', '-e', PROBE],
            env: [{ name: 'TARGET', value: target }],
          },
        ],
      },
    },
  });
  await waitFor(
    'the TLS probe to see the first certificate',
    async () => ((await probeLines().catch(() => [])).some((l) => l.fingerprint) ? true : undefined),
    { timeoutMs: 90_000, intervalMs: 500 },
  );
});

describe('built-in certificates rotating under steady Pod creation', () => {
  it('fail no create, mutate every Pod, and really change the served certificate', async () => {
    const started = new Date();
    const load = startSteadyLoad(workspace, { perSecond: 5, durationMs: 45_000, prefix: 'rotating' });
    addDiagnostics(() => `load: ${JSON.stringify(load.result).slice(0, 4000)}`);
    const result = await load.done;
    expect(result.failures).toEqual([]);
    expect(result.unmutated).toEqual([]);
    expect(result.created).toBe(225);

    const lines = await probeLines();
    const served = lines.filter((l) => l.der !== undefined);
    const during = served.filter((l) => new Date(l.at) > started);
    // At least one new certificate appeared while Pods were being created.
    expect(
      during.length,
      JSON.stringify(lines.map((l) => ({ at: l.at, f: l.fingerprint, e: l.error }))),
    ).toBeGreaterThanOrEqual(1);
    expect(served.length).toBeGreaterThanOrEqual(2);

    const configuration = await admission.readMutatingWebhookConfiguration({ name: release.fullname });
    const bundle = Buffer.from(configuration.webhooks![0]!.clientConfig.caBundle!, 'base64').toString();
    const cas = bundle
      .split(/(?=-----BEGIN CERTIFICATE-----)/)
      .filter((pem) => pem.includes('BEGIN CERTIFICATE'))
      .map((pem) => new X509Certificate(pem));
    for (const line of served) {
      const cert = new X509Certificate(Buffer.from(line.der!, 'base64'));
      expect(cert.subjectAltName).toContain(`DNS:${release.fullname}.${release.namespace}.svc`);
      expect(
        cas.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey)),
        `${line.fingerprint} signed by a CA of the caBundle`,
      ).toBe(true);
      const lifetimeMs = new Date(cert.validTo).getTime() - new Date(cert.validFrom).getTime();
      // 30 s, valid from a minute back (clock skew); X.509 times have whole seconds.
      expect(Math.abs(lifetimeMs - 90_000)).toBeLessThanOrEqual(1000);
    }
  });
});
