// The cache-miss path, made certain: the webhook runs as an identity that may `get` ServiceAccounts
// but not list or watch them, so its informer never fills and every lookup is a live GET.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createPod,
  createServiceAccount,
  createTestNamespace,
  injectedRoleArn,
  isMutated,
  podManifest,
  registerPodIdentityWebhook,
  roleArn,
  useE2E,
  type TestNamespace,
} from './harness/cluster.js';
import { limitedIdentity, startWebhook, type WebhookProcess } from './harness/webhook.js';
import { sampleSum } from '../support/prometheus.js';

useE2E();
let ns: TestNamespace;
let webhook: WebhookProcess;

beforeAll(async () => {
  ns = await createTestNamespace('lookup');
  const { kubeconfig } = await limitedIdentity(ns.name, 'get-only', [
    { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['get'] },
  ]);
  webhook = await startWebhook({ name: 'live-lookup', kubeconfig, waitReady: false });
  await registerPodIdentityWebhook({ endpoint: webhook, namespace: ns });
});

describe('a webhook whose ServiceAccount cache cannot sync', () => {
  it('reports not ready, naming why', async () => {
    const readyz = await webhook.get('/readyz');
    expect(readyz.status).toBe(503);
    expect(JSON.parse(readyz.body)).toEqual({
      status: 'not ready',
      reasons: ['ServiceAccount cache not synced'],
    });
  });

  it('still mutates through one live GET per lookup, and counts the misses', async () => {
    const before = await webhook.metrics();
    await createServiceAccount(ns.name, 'app', { roleArn: roleArn('live') });
    await createServiceAccount(ns.name, 'plain');
    const mutated = await createPod(ns.name, podManifest('mutated', { serviceAccountName: 'app' }));
    const plain = await createPod(ns.name, podManifest('plain', { serviceAccountName: 'plain' }));
    expect(injectedRoleArn(mutated)).toBe(roleArn('live'));
    expect(isMutated(plain)).toBe(false);

    const after = await webhook.metrics();
    const grew = (name: string, labels: Record<string, string> = {}) =>
      sampleSum(after, name, labels) - sampleSum(before, name, labels);
    expect(grew('pod_identity_webhook_service_account_cache_misses_total')).toBe(2);
    expect(grew('pod_identity_webhook_service_account_live_lookups_total', { result: 'found' })).toBe(2);
    expect(sampleSum(after, 'pod_identity_webhook_service_account_cache_size')).toBe(0);
  });
});
