// certificates.mode=helm: Helm generates the CA and serving certificate once, and `helm upgrade`
// with other values keeps them (the chart looks the existing Secret up), so the caBundle kube-
// apiserver trusts never changes under running webhooks. Installed into the real kube-apiserver,
// without --wait: no kubelet runs here, so the Deployment's Pods never become ready.
import { AppsV1Api } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { deferCleanup, uniqueSuffix, useE2E } from '../e2e/harness/clients.js';
import { chartDir, createNamespace, helm, helmOk, parseManifests } from './harness.js';

const { ctx, core, admission, kubeConfig } = useE2E();
const apps = kubeConfig.makeApiClient(AppsV1Api);

async function release(name: string, namespace: string) {
  const manifest = parseManifests(
    await helmOk(['get', 'manifest', name, '-n', namespace, '--kubeconfig', ctx.kubeconfig]),
  );
  // The Secret holding the pair (Opaque or kubernetes.io/tls: the chart may pick either).
  const secret = manifest.find(
    (o) => o.kind === 'Secret' && 'tls.crt' in ((o as { data?: object }).data ?? {}),
  );
  const webhook = manifest.find((o) => o.kind === 'MutatingWebhookConfiguration');
  const deployment = manifest.find((o) => o.kind === 'Deployment');
  if (!secret || !webhook || !deployment) {
    throw new Error(`release ${name} has no Secret with tls.crt, MutatingWebhookConfiguration or Deployment`);
  }
  const liveSecret = await core.readNamespacedSecret({ name: secret.metadata.name, namespace });
  const liveWebhook = await admission.readMutatingWebhookConfiguration({ name: webhook.metadata.name });
  const liveDeployment = await apps.readNamespacedDeployment({ name: deployment.metadata.name, namespace });
  return {
    tlsCrt: liveSecret.data?.['tls.crt'],
    tlsKey: liveSecret.data?.['tls.key'],
    caCrt: liveSecret.data?.['ca.crt'],
    caBundles: (liveWebhook.webhooks ?? []).map((w) => w.clientConfig.caBundle),
    args: liveDeployment.spec?.template.spec?.containers[0]?.args ?? [],
    replicas: liveDeployment.spec?.replicas,
  };
}

describe('helm upgrade', () => {
  it('keeps the Helm-generated certificate and caBundle when the values change', async () => {
    const suffix = uniqueSuffix();
    const namespace = `chart-upgrade-${suffix}`;
    const name = `piw-upgrade-${suffix}`;
    await createNamespace(namespace);
    const common = [chartDir, '-n', namespace, '--kubeconfig', ctx.kubeconfig, '--timeout', '60s'];
    deferCleanup(async () => {
      await helm(['uninstall', name, '-n', namespace, '--kubeconfig', ctx.kubeconfig, '--timeout', '60s']);
    });

    await helmOk([
      'install',
      name,
      ...common,
      '--set',
      'certificates.mode=helm',
      '--set',
      'config.logLevel=info',
    ]);
    const before = await release(name, namespace);
    expect(before.tlsCrt).toBeTruthy();
    expect(before.tlsKey).toBeTruthy();
    expect(before.caCrt).toBeTruthy();
    expect(before.caBundles.length).toBeGreaterThan(0);
    for (const caBundle of before.caBundles) expect(caBundle).toBe(before.caCrt); // base64 of the CA PEM

    await helmOk([
      'upgrade',
      name,
      ...common,
      '--set',
      'certificates.mode=helm',
      '--set',
      'config.logLevel=debug',
      '--set',
      'replicaCount=3',
    ]);
    const after = await release(name, namespace);
    // The upgrade happened...
    expect(after.args.join(' ')).toMatch(/--log-level[= ]debug/);
    expect(before.args.join(' ')).toMatch(/--log-level[= ]info/);
    expect(after.replicas).toBe(3);
    const status = JSON.parse(
      await helmOk(['status', name, '-n', namespace, '--kubeconfig', ctx.kubeconfig, '-o', 'json']),
    ) as {
      version: number;
    };
    expect(status.version).toBe(2);
    // ...and the certificate did not change.
    expect(after.tlsCrt).toBe(before.tlsCrt);
    expect(after.tlsKey).toBe(before.tlsKey);
    expect(after.caCrt).toBe(before.caCrt);
    expect(after.caBundles).toEqual(before.caBundles);
  });
});
