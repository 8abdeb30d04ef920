// ServiceAccount changes reach the webhook's cache through its informer (watch), and the informer
// recovers when kube-apiserver is stopped and started again.
import { beforeAll, describe, expect, it } from 'vitest';
import { uniqueSuffix, useE2E } from './harness/clients.js';
import { apiServerRequestCount, restartApiServer } from './harness/api-server.js';
import {
  createPod,
  createServiceAccount,
  createTestNamespace,
  podManifest,
  readPod,
  roleArn,
  setRoleArn,
  type TestNamespace,
} from './harness/objects.js';
import { injectedRoleArn, isMutated } from './harness/inspect.js';
import { registerPodIdentityWebhook, waitForDryRunPod } from './harness/registration.js';
import { startWebhook, type WebhookProcess } from './harness/webhook.js';

const { core } = useE2E();

let webhook: WebhookProcess;
let ns: TestNamespace;

/** Waits until dry-run Pods of `serviceAccountName` get `arn` (undefined: are not mutated). */
function waitForRole(
  serviceAccountName: string,
  arn: string | undefined,
  timeoutMs = 30_000,
): Promise<unknown> {
  return waitForDryRunPod(
    ns.name,
    `dry-run Pods of ServiceAccount ${serviceAccountName} to get role ${arn ?? '(none)'}`,
    (pod) => (arn === undefined ? !isMutated(pod) : injectedRoleArn(pod) === arn),
    { pod: () => podManifest(`probe-${uniqueSuffix()}`, { serviceAccountName }), timeoutMs },
  );
}

beforeAll(async () => {
  webhook = await startWebhook({ name: 'informer' });
  ns = await createTestNamespace('informer');
  // One ServiceAccount per test: each test changes only its own, so none depends on another.
  await createServiceAccount(ns.name, 'cached', { roleArn: roleArn('cached') });
  await createServiceAccount(ns.name, 'changed', { roleArn: roleArn('first') });
  await createServiceAccount(ns.name, 'removed', { roleArn: roleArn('removed') });
  await createServiceAccount(ns.name, 'restarted', { roleArn: roleArn('before-restart') });
  await registerPodIdentityWebhook({ endpoint: webhook, namespace: ns });
});

describe('ServiceAccount informer', () => {
  it('serves Pods of a known ServiceAccount from its cache, without asking the API server', async () => {
    await waitForRole('cached', roleArn('cached'));
    const before = await apiServerRequestCount({ verb: 'GET', resource: 'serviceaccounts' });
    for (let i = 0; i < 5; i++) {
      expect(
        injectedRoleArn(
          await createPod(ns.name, podManifest(`cached-${i}`, { serviceAccountName: 'cached' })),
        ),
      ).toBe(roleArn('cached'));
    }
    expect(await apiServerRequestCount({ verb: 'GET', resource: 'serviceaccounts' })).toBe(before);
    // The counter does count such requests: one GET of our own shows up.
    await core.readNamespacedServiceAccount({ name: 'cached', namespace: ns.name });
    expect(await apiServerRequestCount({ verb: 'GET', resource: 'serviceaccounts' })).toBe(before + 1);
  });

  it('reflects a changed role annotation in new Pods', async () => {
    await waitForRole('changed', roleArn('first'));
    expect(
      injectedRoleArn(await createPod(ns.name, podManifest('before', { serviceAccountName: 'changed' }))),
    ).toBe(roleArn('first'));
    await setRoleArn(ns.name, 'changed', roleArn('second'));
    await waitForRole('changed', roleArn('second'));
    await createPod(ns.name, podManifest('after-change', { serviceAccountName: 'changed' }));
    expect(injectedRoleArn(await readPod(ns.name, 'after-change'))).toBe(roleArn('second'));
  });

  it('stops mutating once the role annotation is removed', async () => {
    await waitForRole('removed', roleArn('removed'));
    await setRoleArn(ns.name, 'removed', undefined);
    await waitForRole('removed', undefined);
    await createPod(ns.name, podManifest('after-removal', { serviceAccountName: 'removed' }));
    expect(isMutated(await readPod(ns.name, 'after-removal'))).toBe(false);
  });

  it('recovers after kube-apiserver is stopped and started again', async () => {
    await waitForRole('restarted', roleArn('before-restart'));

    await restartApiServer();

    // A change to a ServiceAccount the cache already holds can only arrive through a new watch.
    await setRoleArn(ns.name, 'restarted', roleArn('after-restart'));
    await createServiceAccount(ns.name, 'created-after-restart', {
      roleArn: roleArn('created-after-restart'),
    });
    await waitForRole('restarted', roleArn('after-restart'), 90_000);
    await waitForRole('created-after-restart', roleArn('created-after-restart'));

    await createPod(ns.name, podManifest('after-restart', { serviceAccountName: 'restarted' }));
    expect(injectedRoleArn(await readPod(ns.name, 'after-restart'))).toBe(roleArn('after-restart'));
    expect((await webhook.get('/readyz')).status).toBe(200);

    // And the watch keeps working afterwards.
    await setRoleArn(ns.name, 'restarted', undefined);
    await waitForRole('restarted', undefined);
    // Room for the restart (up to 100 s) and the re-watch (90 s), so their own messages say what hung.
  }, 300_000);
});
