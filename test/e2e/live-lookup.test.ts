// The cache-miss path, made certain: the webhook runs as an identity that may `get` ServiceAccounts
// but not list or watch them, so its informer never fills and every lookup is a live GET.
import { beforeAll, describe, expect, it } from 'vitest';
import { useE2E } from './harness/clients.js';
import {
  createPod,
  createServiceAccount,
  createTestNamespace,
  podManifest,
  roleArn,
  type TestNamespace,
} from './harness/objects.js';
import { injectedRoleArn, isMutated } from './harness/inspect.js';
import { registerPodIdentityWebhook } from './harness/registration.js';
import { limitedIdentity } from './harness/limited-identity.js';
import { startWebhook, type WebhookProcess } from './harness/webhook.js';
import { sampleSum } from '../support/prometheus.js';
import { waitFor } from '../support/wait.js';

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

/** The webhook's JSON log lines. */
function logEntries(w: WebhookProcess): Array<{ level: number; msg: string; reason?: string }> {
  return w
    .logs()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { level: number; msg: string; reason?: string });
}

describe('a webhook whose ServiceAccount cache cannot sync', () => {
  it('reports not ready, naming why, and logs the failed list', async () => {
    // The reason carries the list's failure once the first list has failed (right after start).
    const readyz = await waitFor('/readyz to name why the cache is not synced', async () => {
      const res = await webhook.get('/readyz');
      return res.status === 503 && res.body.includes('not synced:') ? res : undefined;
    });
    expect(JSON.parse(readyz.body)).toEqual({
      status: 'not ready',
      reasons: [expect.stringMatching(/^ServiceAccount cache not synced: HTTP 403\b/)],
    });
    const failures = logEntries(webhook).filter((e) => e.msg.startsWith('ServiceAccount list/watch failed'));
    expect(failures[0]).toMatchObject({ level: 40, reason: expect.stringMatching(/^HTTP 403\b/) });
    expect(failures[0]?.msg).toMatch(/; retrying in \d+ms$/);
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
