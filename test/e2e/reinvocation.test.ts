// reinvocationPolicy: a second webhook, called after ours, adds a container; with IfNeeded
// kube-apiserver calls ours again and the added container gets the identity too.
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { useE2E } from './harness/clients.js';
import {
  container,
  createPod,
  createServiceAccount,
  createTestNamespace,
  podManifest,
  PROBE_SERVICE_ACCOUNT,
  readPod,
  roleArn,
  type TestNamespace,
} from './harness/objects.js';
import { envValue } from './harness/inspect.js';
import { createWebhookConfiguration, podIdentityWebhook, waitForDryRunPod } from './harness/registration.js';
import { startContainerAddingWebhook, type ContainerAddingWebhook } from './harness/test-webhook.js';
import { waitFor } from '../support/wait.js';
import { startWebhook, type WebhookProcess } from './harness/webhook.js';
import { ENV, TOKEN_VOLUME_NAME } from '../../src/vocabulary.js';

useE2E();

const ADDED = 'added-by-second-webhook';
const APP_ARN = roleArn('reinvoked');
let webhook: WebhookProcess;
let adder: ContainerAddingWebhook;

function addedContainer(pod: V1Pod): V1Container | undefined {
  return pod.spec?.containers?.find((c) => c.name === ADDED);
}

/** Our webhook first, the container-adding one second, in one configuration (called in order). */
async function setUp(prefix: string, reinvocationPolicy: 'IfNeeded' | 'Never'): Promise<TestNamespace> {
  const ns = await createTestNamespace(prefix);
  await createServiceAccount(ns.name, 'app', { roleArn: APP_ARN });
  await createWebhookConfiguration(`reinvocation-${prefix}`, [
    podIdentityWebhook({ endpoint: webhook, namespace: ns, reinvocationPolicy }),
    podIdentityWebhook({
      endpoint: adder,
      namespace: ns,
      name: 'container-adder.e2e.pod-identity-webhook.test',
    }),
  ]);
  await waitForDryRunPod(ns.name, `both webhooks to act in ${ns.name}`, (pod) => {
    const first = pod.spec?.containers?.[0];
    return (
      addedContainer(pod) !== undefined &&
      first !== undefined &&
      envValue(first, ENV.roleArn) === roleArn(PROBE_SERVICE_ACCOUNT)
    );
  });
  return ns;
}

beforeAll(async () => {
  webhook = await startWebhook({ name: 'reinvocation' });
  adder = await startContainerAddingWebhook(container(ADDED));
});

describe('a later webhook adding a container', () => {
  it('reinvokes ours with IfNeeded, and the added container gets the identity too', async () => {
    const ns = await setUp('ifneeded', 'IfNeeded');
    await createPod(ns.name, podManifest('reinvoked', { serviceAccountName: 'app' }));
    const stored = await readPod(ns.name, 'reinvoked');

    expect(stored.spec?.containers?.map((c) => c.name)).toEqual(['app', ADDED]);
    for (const c of stored.spec?.containers ?? []) {
      expect(c.env?.filter((e) => e.name === ENV.roleArn)).toEqual([{ name: ENV.roleArn, value: APP_ARN }]);
      expect(c.env?.filter((e) => e.name === ENV.webIdentityTokenFile)).toHaveLength(1);
      expect(c.volumeMounts?.filter((m) => m.name === TOKEN_VOLUME_NAME)).toHaveLength(1);
    }
    expect(stored.spec?.volumes?.filter((v) => v.name === TOKEN_VOLUME_NAME)).toHaveLength(1);

    expect(
      adder.reviews.some(
        (r) => r.request.namespace === ns.name && (r.request.object as V1Pod).metadata?.name === 'reinvoked',
      ),
    ).toBe(true);
    // Called twice: the initial call and the reinvocation after the container was added.
    await waitFor('the webhook to log two reviews of the Pod', () =>
      webhook.reviewedPods().filter((p) => p === `${ns.name}/reinvoked`).length === 2 ? true : undefined,
    );
  });

  it('leaves the added container without identity when reinvocation is Never', async () => {
    const ns = await setUp('never', 'Never');
    await createPod(ns.name, podManifest('not-reinvoked', { serviceAccountName: 'app' }));
    const stored = await readPod(ns.name, 'not-reinvoked');
    expect(stored.spec?.containers?.map((c) => c.name)).toEqual(['app', ADDED]);
    const [app, added] = stored.spec?.containers ?? [];
    expect(app && envValue(app, ENV.roleArn)).toBe(APP_ARN);
    expect(added).toBeDefined();
    expect(added?.env).toBeUndefined();
    expect(added?.volumeMounts?.filter((m) => m.name === TOKEN_VOLUME_NAME) ?? []).toEqual([]);
  });
});
