// The webhook's own list/watch (src/serviceaccounts/list-watch.ts, src/cluster.ts) against
// kube-apiserver:
// - when the resourceVersion it watches from no longer exists (410 Gone): a ServiceAccount is
//   deleted straight from etcd while kube-apiserver is down, and etcd is compacted past it.
//   Resuming the watch cannot show that deletion (its events are compacted away); only a new list
//   can. The cache size gauge says whether the webhook made one;
// - with credentials that change: a kubeconfig exec plugin whose token is replaced and the old one
//   revoked. Every request asks client-node's KubeConfig again, which runs the plugin again once
//   its credential expires.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cluster, uniqueSuffix, useE2E } from './harness/clients.js';
import { restartApiServer, startApiServer, stopApiServer } from './harness/api-server.js';
import { writeKubeconfig } from './harness/kubeconfig.js';
import { limitedIdentity } from './harness/limited-identity.js';
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

async function cacheSize(w: WebhookProcess = webhook): Promise<number> {
  return sampleSum(await w.metrics(), CACHE_SIZE);
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

/** An ExecCredential plugin that hands out the token in `tokenFile`, valid for one second. */
const EXEC_PLUGIN = `
const token = require('node:fs').readFileSync(process.argv[2], 'utf8').trim();
const expirationTimestamp = new Date(Date.now() + 1000).toISOString();
console.log(JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token, expirationTimestamp } }));
`;

describe('credentials from a kubeconfig exec plugin', () => {
  it('are asked for again: a replaced token is used once the old one is revoked', async () => {
    const { ctx, core } = cluster();
    const name = 'rotating';
    await limitedIdentity(ns.name, name, [
      { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['get', 'list', 'watch'] },
    ]);
    /** A token of the ServiceAccount that is valid as long as the Secret `secret` exists. */
    const boundToken = async (secret: string): Promise<string> => {
      const created = await core.createNamespacedSecret({
        namespace: ns.name,
        body: { metadata: { name: secret } },
      });
      const request = await core.createNamespacedServiceAccountToken({
        name,
        namespace: ns.name,
        body: {
          spec: {
            audiences: [],
            expirationSeconds: 3600,
            boundObjectRef: { apiVersion: 'v1', kind: 'Secret', name: secret, uid: created.metadata?.uid },
          },
        },
      });
      return request.status!.token;
    };
    const dir = ctx.runDir;
    const suffix = uniqueSuffix();
    const tokenFile = join(dir, `exec-token-${suffix}`);
    const plugin = join(dir, `exec-plugin-${suffix}.cjs`);
    const kubeconfig = join(dir, `exec-${suffix}.kubeconfig`);
    await writeFile(plugin, EXEC_PLUGIN);
    await writeFile(tokenFile, await boundToken('token-a'), { mode: 0o600 });
    await writeKubeconfig(kubeconfig, ctx.apiServer.url, ctx.clusterCa.cert, {
      name: 'exec-user',
      credentials: {
        exec: {
          apiVersion: 'client.authentication.k8s.io/v1',
          command: process.execPath,
          args: [plugin, tokenFile],
          interactiveMode: 'Never',
        },
      },
    });
    const rotating = await startWebhook({ name: 'exec-credentials', kubeconfig });
    const before = await cacheSize(rotating);

    await writeFile(tokenFile, await boundToken('token-b'));
    await core.deleteNamespacedSecret({ namespace: ns.name, name: 'token-a' });
    // The watch opened with token A would outlive it: a restart makes the webhook list and watch anew.
    await restartApiServer();
    await createServiceAccount(ns.name, 'after-rotation', { roleArn: roleArn('after-rotation') });
    await waitFor(
      'the webhook, with the new token, to see a ServiceAccount created after the rotation',
      async () => ((await cacheSize(rotating)) === before + 1 ? true : undefined),
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    expect((await rotating.get('/readyz')).status).toBe(200);
  }, 240_000);
});
