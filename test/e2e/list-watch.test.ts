// The webhook's own list/watch (src/serviceaccounts/list-watch.ts) against kube-apiserver when the
// resourceVersion it watches from no longer exists (410 Gone): a ServiceAccount is deleted straight
// from etcd while kube-apiserver is down, and etcd is compacted past it. Resuming the watch cannot
// show that deletion (its events are compacted away); only a new list can. The cache size gauge
// says whether the webhook made one.
import { beforeAll, describe, expect, it } from 'vitest';
import { cluster, useE2E } from './harness/clients.js';
import { startApiServer, stopApiServer } from './harness/api-server.js';
import { createServiceAccount, createTestNamespace, roleArn, type TestNamespace } from './harness/objects.js';
import { startWebhook, type WebhookProcess } from './harness/webhook.js';
import { sampleSum } from '../support/prometheus.js';
import { waitFor } from '../support/wait.js';

useE2E();
let ns: TestNamespace;
let webhook: WebhookProcess;

const CACHE_SIZE = 'pod_identity_webhook_service_account_cache_size';
const base64 = (text: string): string => Buffer.from(text).toString('base64');

/** A call to etcd's JSON gateway (etcd runs without TLS on loopback in the harness). */
async function etcd(
  path: string,
  body: unknown,
): Promise<{ header: { revision: string }; deleted?: string }> {
  const res = await fetch(`${cluster().ctx.etcdUrl}${path}`, {
    method: 'POST',
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  if (!res.ok) throw new Error(`etcd ${path}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as { header: { revision: string }; deleted?: string };
}

async function cacheSize(): Promise<number> {
  return sampleSum(await webhook.metrics(), CACHE_SIZE);
}

beforeAll(async () => {
  ns = await createTestNamespace('relist');
  await createServiceAccount(ns.name, 'kept', { roleArn: roleArn('kept') });
  await createServiceAccount(ns.name, 'deleted-in-etcd', { roleArn: roleArn('deleted-in-etcd') });
  webhook = await startWebhook({ name: 'relist' });
});

describe('the ServiceAccount list/watch', () => {
  it('lists again when its resourceVersion is gone (410), and drops what the list no longer has', async () => {
    const before = await cacheSize();
    expect(before).toBeGreaterThanOrEqual(2);

    await stopApiServer();
    try {
      const deleted = await etcd('/v3/kv/deleterange', {
        key: base64(`/registry/serviceaccounts/${ns.name}/deleted-in-etcd`),
      });
      expect(deleted.deleted).toBe('1');
      await etcd('/v3/kv/compaction', { revision: deleted.header.revision, physical: true });
    } finally {
      await startApiServer();
    }

    await waitFor(
      'the webhook cache to lose the ServiceAccount deleted in etcd',
      async () => ((await cacheSize()) === before - 1 ? true : undefined),
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    expect((await webhook.get('/readyz')).status).toBe(200);

    // The new watch, from the new list's resourceVersion, carries on.
    await createServiceAccount(ns.name, 'after-relist', { roleArn: roleArn('after-relist') });
    await waitFor('the webhook cache to see a ServiceAccount created after the relist', async () =>
      (await cacheSize()) === before ? true : undefined,
    );
  }, 240_000);
});
