// `helm install --wait` of the chart in each certificate mode that can run on kind, and the
// readiness gate: while helm installs, every webhook Pod is watched, and the moment one is seen
// Ready it must answer a review itself; once --wait returns and kube-proxy routes the Service to
// the Ready Pods (a second or two later), Pods created through kube-apiserver come back mutated.
// certManager is the one mode not proven here: cert-manager's images cannot be built or pulled on
// the offline CI machine (the chart proof, test/chart, checks its objects against the real CRDs).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { addDiagnostics, kind, useKind } from './harness/cluster.js';
import {
  installRelease,
  isReady,
  reviewThroughPod,
  webhookPods,
  type Release,
  type Values,
} from './harness/releases.js';
import { createWorkspace, parkedPod, waitUntilRouted, type Workspace } from './harness/workloads.js';
import { injectedRoleArn, isMutated } from '../e2e/harness/inspect.js';
import { describeError } from '../support/wait.js';
import { createCA, issueCertificate } from '../../scripts/pki.mjs';
import { serviceHosts } from '../../src/certificates/builtin.js';

const { core, admission } = useKind();

interface FirstReady {
  pod: string;
  /** Its own answer to a review, at once: true, or why not. */
  answered: boolean | string;
}

/** Watches a release's webhook Pods while it installs; checks each one when first seen Ready. */
function watchReadiness(release: Release, workspace: Workspace): { stop(): Promise<FirstReady[]> } {
  const seen: FirstReady[] = [];
  const probe = parkedPod('probe', workspace.serviceAccount);
  let stopped = false;
  const poll = async (): Promise<void> => {
    const pods = await webhookPods(release).catch(() => []);
    for (const pod of pods.filter(isReady)) {
      const name = pod.metadata!.name!;
      if (seen.some((s) => s.pod === name)) continue;
      const entry: FirstReady = { pod: name, answered: false };
      seen.push(entry);
      entry.answered = await reviewThroughPod(pod, probe, workspace.namespace).then(
        (answer) =>
          answer.allowed &&
          Buffer.from(answer.patch ?? '', 'base64')
            .toString()
            .includes(workspace.role),
        (error: unknown) => describeError(error),
      );
    }
  };
  const loop = (async () => {
    while (!stopped) {
      await poll();
      await new Promise((resolve) => setTimeout(resolve, 100)); // polling interval
    }
    await poll();
  })();
  addDiagnostics(() => `readiness watch of ${release.name}: ${JSON.stringify(seen)}`);
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return seen;
    },
  };
}

/** Installs a release while watching its readiness; returns it, its workspace and what was seen. */
async function installWatched(
  purpose: string,
  values: (release: Release) => Promise<Values> = () => Promise.resolve({}),
): Promise<{ release: Release; workspace: Workspace; firstReady: FirstReady[] }> {
  let workspace: Workspace | undefined;
  let watch: { stop(): Promise<FirstReady[]> } | undefined;
  const release = await installRelease(purpose, async (r) => {
    workspace = await createWorkspace(r, 'install');
    watch = watchReadiness(r, workspace);
    return values(r);
  });
  return { release, workspace: workspace!, firstReady: await watch!.stop() };
}

/**
 * What a freshly installed release must do: each replica answered when first Ready; after --wait,
 * Pods created through the Service are mutated.
 * Returns the caBundles of its webhook configuration.
 */
async function expectAnswering(installed: {
  release: Release;
  workspace: Workspace;
  firstReady: FirstReady[];
}): Promise<string[]> {
  const { release, workspace, firstReady } = installed;
  expect(firstReady).toHaveLength(2); // the chart's default replicaCount
  for (const entry of firstReady) expect(entry.answered, entry.pod).toBe(true);

  const ms = await waitUntilRouted(workspace);
  console.log(`[kind] ${release.name}: kube-apiserver reached the webhook ${ms} ms after --wait`);

  // Enough creates for kube-apiserver to reach both replicas through the Service.
  for (let i = 0; i < 6; i++) {
    const stored = await core.createNamespacedPod({
      namespace: workspace.namespace,
      body: parkedPod(`app-${i}`, workspace.serviceAccount),
    });
    expect(isMutated(stored), stored.metadata!.name).toBe(true);
    expect(injectedRoleArn(stored)).toBe(workspace.role);
  }
  const configuration = await admission.readMutatingWebhookConfiguration({ name: release.fullname });
  return configuration.webhooks!.map((w) => w.clientConfig.caBundle ?? '');
}

const secretData = async (release: Release, name: string): Promise<Record<string, string>> =>
  (await core.readNamespacedSecret({ name, namespace: release.namespace })).data ?? {};

describe('helm install --wait: each webhook Pod answers from the moment it is Ready', () => {
  it('default values: built-in certificates, the caBundle written by the webhook', async () => {
    const installed = await installWatched('builtin');
    const { release } = installed;
    const caBundles = await expectAnswering(installed);
    const secret = await secretData(release, `${release.fullname}-tls`);
    expect(Object.keys(secret)).toEqual(expect.arrayContaining(['tls.crt', 'tls.key', 'ca.crt']));
    // The chart renders no caBundle in this mode: the webhook wrote it, and trusts its own CA.
    const bundle = Buffer.from(caBundles[0]!, 'base64').toString();
    expect(bundle).toContain(Buffer.from(secret['ca.crt']!, 'base64').toString().trim());
  });

  it('certificates.mode=helm: the pair Helm generated, its CA as the caBundle', async () => {
    const installed = await installWatched('helm-certs', () =>
      Promise.resolve({ certificates: { mode: 'helm' } }),
    );
    const { release } = installed;
    const caBundles = await expectAnswering(installed);
    const secret = await secretData(release, `${release.fullname}-tls`);
    expect(caBundles).toEqual([secret['ca.crt']]);
  });

  it('certificates.mode=existingSecret: a Secret and CA brought by the operator', async () => {
    let caPem = '';
    const installed = await installWatched('existing', async (r): Promise<Values> => {
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
    const caBundles = await expectAnswering(installed);
    expect(caBundles.map((b) => Buffer.from(b, 'base64').toString())).toEqual([caPem]);
  });
});
