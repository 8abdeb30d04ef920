// The Go webhook's own way of deploying (hack/kind/manifests/go-webhook.yaml: its deploy/ shape,
// everything in `default`, `/webhook --in-cluster=false ...` on port 443 with no securityContext,
// v1beta1 reviews), with only the image changed to this project's: it runs and mutates a Pod,
// which then reads its token. The Go manifests get their certificate from cert-manager, which
// cannot run on the offline CI cluster (no images): the test does what cert-manager would do, as
// the Go README's "install cert-manager first" leaves it to the operator: the self-signed CA
// certificate of the Certificate object in its Secret, and the caBundle its cainjector writes.
import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PatchStrategy, type KubernetesObject, type V1Pod } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { deferCleanup, uniqueSuffix, useKind, watchNamespace } from './harness/cluster.js';
import { helm, ok } from './harness/commands.js';
import { createNamespace, isReady, reviewCounts } from './harness/releases.js';
import {
  checkTokenPodSpec,
  createCheckTokenConfigMap,
  createServiceAccount,
  readManifest,
  ROLE_ARN_KEY,
  roleArn,
  tokenReport,
  waitForPodEnd,
} from './harness/workloads.js';
import { injectedRoleArn, isMutated } from '../e2e/harness/inspect.js';
import { repoRoot } from '../support/paths.js';
import { waitFor } from '../support/wait.js';

const { core, apps, admission, objects, ctx } = useKind();
const MANIFEST = join(repoRoot, 'hack/kind/manifests/go-webhook.yaml');
const NAME = 'pod-identity-webhook';
const NAMESPACE = 'default';
const FIELD_MANAGER = 'pod-identity-webhook-kind-tests';

interface CertificateSpec {
  secretName: string;
  commonName: string;
  dnsNames: string[];
  isCA: boolean;
}

/** cert-manager's part: a self-signed certificate as the Certificate asks (RSA 2048, its default). */
async function selfSigned(spec: CertificateSpec): Promise<{ cert: string; key: string }> {
  const dir = join(ctx.runDir, 'pki', 'go-webhook');
  await mkdir(dir, { recursive: true });
  const cert = join(dir, 'tls.crt');
  const key = join(dir, 'tls.key');
  await promisify(execFile)('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '90',
    '-subj',
    `/CN=${spec.commonName}`,
    '-addext',
    `subjectAltName=${spec.dnsNames.map((name) => `DNS:${name}`).join(',')}`,
    '-addext',
    `basicConstraints=critical,CA:${spec.isCA ? 'TRUE' : 'FALSE'}`,
    '-addext',
    `keyUsage=critical,digitalSignature,keyEncipherment${spec.isCA ? ',keyCertSign' : ''}`,
  ]);
  return { cert: await readFile(cert, 'utf8'), key: await readFile(key, 'utf8') };
}

async function apply(object: KubernetesObject): Promise<void> {
  await objects.patch(object, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
}

async function goWebhookPods(): Promise<V1Pod[]> {
  return (await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: `app=${NAME}` })).items;
}

beforeAll(async () => {
  // kind.sh's release is named pod-identity-webhook too: its ClusterRole, ClusterRoleBinding and
  // webhook configuration have the Go manifests' names. Make room (kind.sh up reinstalls it).
  const releases = JSON.parse(ok(await helm(['list', '--all-namespaces', '--output', 'json']))) as Array<{
    name: string;
    namespace: string;
  }>;
  for (const release of releases.filter((r) => r.name === NAME)) {
    console.log(
      `[kind] uninstalling release ${release.namespace}/${release.name}: the Go manifests use its names`,
    );
    ok(await helm(['uninstall', release.name, '--namespace', release.namespace, '--wait']));
  }

  const manifest = readManifest(MANIFEST) as Array<KubernetesObject & { kind: string; spec?: unknown }>;
  const certificate = manifest.find((o) => o.kind === 'Certificate');
  const spec = certificate?.spec as CertificateSpec | undefined;
  if (!spec) throw new Error(`${MANIFEST} has no Certificate`);
  const pair = await selfSigned(spec);
  const caBundle = Buffer.from(pair.cert).toString('base64'); // self-signed: the CA is itself

  watchNamespace(NAMESPACE);
  const applied: KubernetesObject[] = [];
  deferCleanup(async () => {
    for (const object of applied.reverse()) await objects.delete(object).catch(() => undefined);
    await core.deleteNamespacedSecret({ namespace: NAMESPACE, name: spec.secretName }).catch(() => undefined);
    await waitFor(
      'the Go manifests’ webhook Pods to be gone',
      async () => ((await goWebhookPods()).length === 0 ? true : undefined),
      { timeoutMs: 60_000, intervalMs: 500 },
    );
  });
  await core.deleteNamespacedSecret({ namespace: NAMESPACE, name: spec.secretName }).catch(() => undefined);
  await core.createNamespacedSecret({
    namespace: NAMESPACE,
    body: {
      metadata: { name: spec.secretName },
      type: 'kubernetes.io/tls',
      stringData: { 'tls.crt': pair.cert, 'tls.key': pair.key, 'ca.crt': pair.cert },
    },
  });
  for (const object of manifest) {
    if (object.apiVersion?.startsWith('cert-manager.io/')) continue; // done above, as cert-manager would
    if (object.kind === 'MutatingWebhookConfiguration') {
      const webhooks = (object as unknown as { webhooks: Array<{ clientConfig: { caBundle?: string } }> })
        .webhooks;
      for (const webhook of webhooks) webhook.clientConfig.caBundle = caBundle;
    }
    await apply(object);
    applied.push(object);
  }
  await waitFor(
    'the Go manifests’ Deployment to be available',
    async () => {
      const status = (await apps.readNamespacedDeployment({ namespace: NAMESPACE, name: NAME })).status;
      return status?.availableReplicas === 1 ? true : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 500 },
  );
});

describe('the Go webhook’s manifests with this image', () => {
  it('serve on port 443 as uid 65532 and mutate a Pod (v1beta1 reviews) that reads its token', async () => {
    const namespace = await createNamespace(`go-manifests-${uniqueSuffix()}`, {});
    const role = roleArn('go-manifests');
    await createServiceAccount(namespace, 'app', { [ROLE_ARN_KEY]: role });
    await createCheckTokenConfigMap(namespace);
    const pod: V1Pod = { metadata: { name: 'app' }, spec: checkTokenPodSpec('app') };

    // failurePolicy Ignore and no readiness probe (as in the Go manifests): the first calls may
    // come before the process listens and leave the Pod alone. Dry runs until it answers.
    await waitFor(
      'the Go manifests’ webhook to mutate a dry-run Pod',
      async () =>
        isMutated(await core.createNamespacedPod({ namespace, body: pod, dryRun: 'All' })) ? true : undefined,
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    const stored = await core.createNamespacedPod({ namespace, body: pod });
    expect(injectedRoleArn(stored)).toBe(role);
    expect(await waitForPodEnd(namespace, 'app')).toBe('Succeeded');
    const report = await tokenReport(namespace, 'app');
    expect(report.ok, JSON.stringify(report)).toBe(true);
    expect(report.token?.claims['sub']).toBe(`system:serviceaccount:${namespace}:app`);

    // The webhook as the Go manifests run it: the command line, no securityContext, port 443.
    const [webhook] = (await goWebhookPods()).filter(isReady);
    const container = webhook!.spec!.containers[0]!;
    expect(container.image).toBe(`${ctx.image.repository}:${ctx.image.tag}`);
    expect(container.command?.[0]).toBe('/webhook');
    expect(container.securityContext).toBeUndefined();
    expect(webhook!.spec!.securityContext?.runAsUser).toBeUndefined();
    const log = await core.readNamespacedPodLog({ namespace: NAMESPACE, name: webhook!.metadata!.name! });
    expect(log).toMatch(/"port":443\b/);
    const configuration = await admission.readMutatingWebhookConfiguration({ name: NAME });
    expect(configuration.webhooks!.map((w) => w.admissionReviewVersions)).toEqual([['v1beta1']]);
    const counts = await reviewCounts([webhook!]);
    expect([...counts.values()][0]).toBeGreaterThanOrEqual(2);
  });
});
