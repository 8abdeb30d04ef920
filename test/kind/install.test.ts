// `helm install --wait` of the chart in each certificate mode that can run on kind, and the
// readiness gate: once helm's --wait has seen every webhook Pod Ready, each of them answers a
// review at once, and kube-apiserver's calls for a real Pod create succeed (the caBundle it
// verifies with is in place). certManager is the one mode not proven here: cert-manager's images
// cannot be built or pulled on the offline CI machine (the chart proof, test/chart, checks its
// objects against the real CRDs instead).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kind, useKind } from './harness/cluster.js';
import {
  installRelease,
  isReady,
  reviewThroughPod,
  webhookPods,
  type Release,
  type Values,
} from './harness/releases.js';
import { createWorkspace, parkedPod } from './harness/workloads.js';
import { injectedRoleArn, isMutated } from '../e2e/harness/inspect.js';
import { createCA, issueCertificate } from '../../scripts/pki.mjs';
import { serviceHosts } from '../../src/certificates/builtin.js';

const { core, admission } = useKind();

/** What a freshly installed release must do at once: every Pod ready and answering, Pods mutated. */
async function expectAnswering(release: Release): Promise<string[]> {
  const pods = await webhookPods(release);
  expect(pods.map((p) => p.metadata!.name)).toHaveLength(2); // the chart's default replicaCount
  expect(pods.every(isReady)).toBe(true);

  const workspace = await createWorkspace(release, 'install');
  const probe = parkedPod('probe', workspace.serviceAccount);
  for (const pod of pods) {
    const answer = await reviewThroughPod(pod, probe, workspace.namespace);
    expect(answer.allowed, pod.metadata!.name).toBe(true);
    expect(Buffer.from(answer.patch ?? '', 'base64').toString()).toContain(workspace.role);
  }

  // Through kube-apiserver, the Service and the caBundle; enough creates to reach both replicas.
  const stored = [];
  for (let i = 0; i < 6; i++) {
    stored.push(
      await core.createNamespacedPod({
        namespace: workspace.namespace,
        body: parkedPod(`app-${i}`, workspace.serviceAccount),
      }),
    );
  }
  for (const pod of stored) {
    expect(isMutated(pod), pod.metadata!.name).toBe(true);
    expect(injectedRoleArn(pod)).toBe(workspace.role);
  }
  const configuration = await admission.readMutatingWebhookConfiguration({ name: release.fullname });
  return configuration.webhooks!.map((w) => w.clientConfig.caBundle ?? '');
}

const secretData = async (release: Release, name: string): Promise<Record<string, string>> =>
  (await core.readNamespacedSecret({ name, namespace: release.namespace })).data ?? {};

describe('helm install --wait, then every webhook Pod answers at once', () => {
  it('default values: built-in certificates, the caBundle written by the webhook', async () => {
    const release = await installRelease('builtin');
    const caBundles = await expectAnswering(release);
    const secret = await secretData(release, `${release.fullname}-tls`);
    expect(Object.keys(secret)).toEqual(expect.arrayContaining(['tls.crt', 'tls.key', 'ca.crt']));
    // The chart renders no caBundle in this mode: the webhook wrote it, and trusts its own CA.
    const bundle = Buffer.from(caBundles[0]!, 'base64').toString();
    expect(bundle).toContain(Buffer.from(secret['ca.crt']!, 'base64').toString().trim());
  });

  it('certificates.mode=helm: the pair Helm generated, its CA as the caBundle', async () => {
    const release = await installRelease('helm-certs', { certificates: { mode: 'helm' } });
    const caBundles = await expectAnswering(release);
    const secret = await secretData(release, `${release.fullname}-tls`);
    expect(caBundles).toEqual([secret['ca.crt']]);
  });

  it('certificates.mode=existingSecret: a Secret and CA brought by the operator', async () => {
    let caPem = '';
    const release = await installRelease('existing', async (r): Promise<Values> => {
      const dir = join(kind().ctx.runDir, 'pki', r.name);
      const ca = await createCA(dir, 'ca', `${r.name} test CA`);
      const serving = await issueCertificate(dir, 'serving', ca, {
        commonName: `${r.fullname}.${r.namespace}.svc`,
        hosts: serviceHosts(r.fullname, r.namespace),
      });
      caPem = await readFile(ca.cert, 'utf8');
      await core.createNamespacedSecret({
        namespace: r.namespace,
        body: {
          metadata: { name: 'webhook-serving' },
          type: 'kubernetes.io/tls',
          stringData: {
            'tls.crt': await readFile(serving.cert, 'utf8'),
            'tls.key': await readFile(serving.key, 'utf8'),
          },
        },
      });
      return {
        certificates: {
          mode: 'existingSecret',
          existingSecret: { name: 'webhook-serving', caBundle: Buffer.from(caPem).toString('base64') },
        },
      };
    });
    const caBundles = await expectAnswering(release);
    expect(caBundles.map((b) => Buffer.from(b, 'base64').toString())).toEqual([caPem]);
  });
});
