// `--watch-config-map` on the real control plane: the webhook runs as an identity that may read
// ServiceAccounts and only the ConfigMap pod-identity-webhook (resourceNames: its list and watch
// name the object through fieldSelector metadata.name), and follows the ConfigMap as it is
// created, changed, broken and deleted.
import type { V1ConfigMap } from '@kubernetes/client-node';
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
import { CONFIG_MAP_NAME } from '../../src/identity/role-mapping.js';

const { core } = useE2E();
let ns: TestNamespace;
let webhook: WebhookProcess;
let pods = 0;

beforeAll(async () => {
  ns = await createTestNamespace('configmap');
  const { kubeconfig } = await limitedIdentity(ns.name, 'config-map-reader', [
    { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['get', 'list', 'watch'] },
    {
      apiGroups: [''],
      resources: ['configmaps'],
      resourceNames: [CONFIG_MAP_NAME],
      verbs: ['get', 'list', 'watch'],
    },
  ]);
  webhook = await startWebhook({
    name: 'config-map',
    kubeconfig,
    args: ['--watch-config-map', '--namespace', ns.name],
  });
  await registerPodIdentityWebhook({ endpoint: webhook, namespace: ns });
  await createServiceAccount(ns.name, 'mapped');
  await createServiceAccount(ns.name, 'annotated', { roleArn: roleArn('annotated') });
});

interface LogEntry {
  level: number;
  msg: string;
  reason?: string;
}

function logEntries(): LogEntry[] {
  return webhook
    .logs()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogEntry);
}

const configMap = (config: string): V1ConfigMap => ({
  metadata: { name: CONFIG_MAP_NAME, namespace: ns.name },
  data: { config },
});

/** Waits until the webhook has logged that it loaded this version of the ConfigMap. */
async function loaded(object: V1ConfigMap): Promise<void> {
  const rv = object.metadata?.resourceVersion;
  const line = `ConfigMap ${ns.name}/${CONFIG_MAP_NAME} loaded (resourceVersion ${rv})`;
  await waitFor(`the webhook to log "${line}"`, () => logEntries().some((e) => e.msg === line) || undefined);
}

async function podAs(serviceAccountName: string) {
  return createPod(ns.name, podManifest(`p${++pods}`, { serviceAccountName }));
}

async function metric(name: string): Promise<number> {
  return sampleSum(await webhook.metrics(), name);
}

describe('--watch-config-map', () => {
  it('is ready without the ConfigMap, and maps nothing', async () => {
    expect((await webhook.get('/readyz')).status).toBe(200);
    expect(isMutated(await podAs('mapped'))).toBe(false);
    expect(await metric('pod_identity_webhook_config_map_entries')).toBe(0);
  });

  it('follows the ConfigMap: created, changed, broken (last good kept), deleted', async () => {
    const entry = (key: string, role: string) => JSON.stringify({ [key]: { RoleARN: role } });

    // Created: the mapped ServiceAccount gets the role; an annotated one keeps its own.
    const created = await core.createNamespacedConfigMap({
      namespace: ns.name,
      body: configMap(entry(`${ns.name}/mapped`, roleArn('first'))),
    });
    await loaded(created);
    expect(injectedRoleArn(await podAs('mapped'))).toBe(roleArn('first'));
    expect(injectedRoleArn(await podAs('annotated'))).toBe(roleArn('annotated'));
    expect(await metric('pod_identity_webhook_config_map_entries')).toBe(1);

    // Changed, to a namespace glob: the new role.
    const changed = await core.replaceNamespacedConfigMap({
      name: CONFIG_MAP_NAME,
      namespace: ns.name,
      body: configMap(entry(`${ns.name.slice(0, 12)}*/*`, roleArn('second'))),
    });
    await loaded(changed);
    expect(injectedRoleArn(await podAs('mapped'))).toBe(roleArn('second'));

    // Broken: reported (warning with the reason, counter), the last good mapping still used.
    await core.replaceNamespacedConfigMap({
      name: CONFIG_MAP_NAME,
      namespace: ns.name,
      body: configMap(`{"${ns.name}/mapped": {"RoleARN": 42}}`),
    });
    await waitFor('the errors counter', async () =>
      (await metric('pod_identity_webhook_config_map_errors_total')) === 1 ? true : undefined,
    );
    const warning = logEntries().find((e) =>
      e.msg.startsWith(`ConfigMap ${ns.name}/${CONFIG_MAP_NAME} not used`),
    );
    expect(warning).toMatchObject({
      level: 40,
      msg: expect.stringContaining('keeping the last good mapping (1 entries)'),
      reason: `ConfigMap ${ns.name}/${CONFIG_MAP_NAME}: key "${ns.name}/mapped": field RoleARN must be a string, got 42`,
    });
    expect(injectedRoleArn(await podAs('mapped'))).toBe(roleArn('second'));
    expect(await metric('pod_identity_webhook_config_map_entries')).toBe(1);

    // Deleted: its entries are gone.
    await core.deleteNamespacedConfigMap({ name: CONFIG_MAP_NAME, namespace: ns.name });
    const deleted = `ConfigMap ${ns.name}/${CONFIG_MAP_NAME} deleted; no ServiceAccount is mapped`;
    await waitFor(
      'the deletion to be logged',
      () => logEntries().some((e) => e.msg === deleted) || undefined,
    );
    expect(isMutated(await podAs('mapped'))).toBe(false);
    expect(await metric('pod_identity_webhook_config_map_entries')).toBe(0);
  });
});
