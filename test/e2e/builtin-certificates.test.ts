// `serve --certificates=builtin` against the real kube-apiserver: two webhook processes share one
// Secret and one MutatingWebhookConfiguration, with lifetimes short enough that the serving
// certificate is renewed and the CA rotated while Pods are being created through both of them.
import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { ApiException, type V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { splitBundle } from '../../src/certificates/authority.js';
import { describeFailure } from '../../src/cluster.js';
import { useE2E, uniqueSuffix } from './harness/clients.js';
import { httpsRequest } from './harness/https.js';
import { injectedRoleArn } from './harness/inspect.js';
import {
  createPod,
  createServiceAccount,
  createTestNamespace,
  podManifest,
  roleArn,
  type TestNamespace,
} from './harness/objects.js';
import {
  createWebhookConfiguration,
  podIdentityWebhook,
  waitUntilEffective,
} from './harness/registration.js';
import { startWebhook, type WebhookProcess } from './harness/webhook.js';
import { waitFor } from '../support/wait.js';

const { ctx, core, admission } = useE2E();
const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;

/** The fingerprint of the certificate a new TLS connection to `port` is served. */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerX509Certificate()!.fingerprint256);
      socket.end();
    });
    socket.once('error', reject);
  });
}

let ns: TestNamespace;
let secretName: string;
let configurationName: string;
let webhooks: WebhookProcess[];

async function readSecret(): Promise<Record<string, string>> {
  const secret = await core.readNamespacedSecret({ name: secretName, namespace: ns.name });
  return Object.fromEntries(
    Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64').toString()]),
  );
}

/** Points the configuration's two webhooks at the two processes, keeping the caBundle they set. */
async function pointAt(processes: WebhookProcess[]): Promise<void> {
  await waitFor('the webhook URLs to be set', async () => {
    const current = await admission.readMutatingWebhookConfiguration({ name: configurationName });
    const body: V1MutatingWebhookConfiguration = {
      ...current,
      webhooks: current.webhooks!.map((webhook, i) => ({
        ...webhook,
        clientConfig: { ...webhook.clientConfig, url: processes[i]!.url },
      })),
    };
    try {
      await admission.replaceMutatingWebhookConfiguration({ name: configurationName, body });
      return true;
    } catch (error) {
      if (error instanceof ApiException && error.code === 409) return undefined; // a webhook wrote first
      throw error;
    }
  });
}

beforeAll(async () => {
  ns = await createTestNamespace('builtin');
  await createServiceAccount(ns.name, 'app', { roleArn: roleArn('app') });
  secretName = `webhook-tls-${uniqueSuffix()}`;
  // No caBundle and an address nothing listens on: the webhooks fill in the one, the test the other.
  const placeholder = { url: 'https://127.0.0.1:1/mutate', caBundle: '' };
  const configuration = await createWebhookConfiguration('builtin', [
    { ...podIdentityWebhook({ endpoint: placeholder, namespace: ns, name: 'a.builtin.example.com' }) },
    { ...podIdentityWebhook({ endpoint: placeholder, namespace: ns, name: 'b.builtin.example.com' }) },
  ]);
  configurationName = configuration.metadata!.name!;
  const builtinArgs = [
    '--certificates=builtin',
    '--namespace',
    ns.name,
    '--tls-secret',
    secretName,
    '--webhook-configuration',
    configurationName,
    '--certificate-hosts',
    '127.0.0.1',
    '--ca-validity',
    '90s',
    '--certificate-validity',
    '30s',
  ];
  webhooks = await Promise.all(
    ['builtin-a', 'builtin-b'].map((name) =>
      startWebhook({ name, builtinCertificateArgs: builtinArgs, waitReady: false }),
    ),
  );
  await pointAt(webhooks);
  await waitUntilEffective(ns);
});

describe('built-in certificates', () => {
  it('creates the Secret, fills the caBundle, and both replicas serve its certificate and are ready', async () => {
    const data = await readSecret();
    expect(Object.keys(data).sort()).toEqual(['ca-bundle.crt', 'ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
    const configuration = await admission.readMutatingWebhookConfiguration({ name: configurationName });
    for (const webhook of configuration.webhooks!) {
      expect(Buffer.from(webhook.clientConfig.caBundle!, 'base64').toString()).toBe(data['ca-bundle.crt']);
    }
    const caFile = join(ctx.runDir, `${secretName}-ca.crt`);
    await writeFile(caFile, data['ca-bundle.crt']!);
    for (const webhook of webhooks) {
      const readyz = await httpsRequest({ url: `https://127.0.0.1:${webhook.port}/readyz`, caFile });
      expect(readyz.status).toBe(200);
    }
  });

  it('renews the serving certificate and rotates the CA while Pods are created, failing no admission', async () => {
    const start = await readSecret();
    const servingSeen = new Set([fingerprint(start['tls.crt']!)]);
    const authoritiesSeen = new Set([fingerprint(start['ca.crt']!)]);
    let created = 0;
    let retired = false;
    const failures: string[] = [];
    // Until the CA has changed and the previous one has left the bundle again (about 100 s).
    await waitFor(
      'a CA rotation with its previous CA retired',
      async () => {
        const name = `p-${uniqueSuffix()}`;
        try {
          const pod = await createPod(ns.name, podManifest(name, { serviceAccountName: 'app' }));
          if (injectedRoleArn(pod) !== roleArn('app')) failures.push(`${name}: not mutated`);
        } catch (error) {
          failures.push(`${name}: ${describeFailure(error)}`);
        }
        created += 1;
        const data = await readSecret();
        servingSeen.add(fingerprint(data['tls.crt']!));
        authoritiesSeen.add(fingerprint(data['ca.crt']!));
        retired = authoritiesSeen.size > 1 && splitBundle(data['ca-bundle.crt']!).length === 1;
        return retired ? true : undefined;
      },
      { timeoutMs: 170_000, intervalMs: 250 },
    );
    expect(failures).toEqual([]);
    expect(created).toBeGreaterThan(100);
    expect(authoritiesSeen.size).toBe(2);
    // 30 s certificates renewed with 10 s left over about 100 s: a handful, not one per replica per
    // round, which is what two replicas fighting over the Secret would give.
    expect(servingSeen.size).toBeGreaterThanOrEqual(3);
    expect(servingSeen.size).toBeLessThanOrEqual(10);
    // Both replicas end up serving the pair in the Secret.
    const current = fingerprint((await readSecret())['tls.crt']!);
    for (const webhook of webhooks) {
      await waitFor(`${webhook.name} to serve the current certificate`, async () =>
        (await servedFingerprint(webhook.port)) === current ? true : undefined,
      );
    }
  }, 200_000);
});
