// The webhook, registered with a MutatingWebhookConfiguration, mutating Pods created through a real
// kube-apiserver: what the API server stores (and returns for dry runs) is asserted.
import { ApiException, type V1Pod } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { useE2E } from './harness/clients.js';
import {
  createPod,
  createServiceAccount,
  createTestNamespace,
  expectApiError,
  podManifest,
  readPod,
  roleArn,
  type TestNamespace,
} from './harness/objects.js';
import { allContainers, envValue, injectedRoleArn, isMutated } from './harness/inspect.js';
import { registerPodIdentityWebhook } from './harness/registration.js';
import { waitFor } from '../support/wait.js';
import { startWebhook, type WebhookProcess } from './harness/webhook.js';
import {
  DEFAULT_TOKEN_AUDIENCE,
  DEFAULT_TOKEN_EXPIRATION,
  DEFAULT_TOKEN_MOUNT_PATH,
  ENV,
  SKIP_LABEL,
  TOKEN_FILE,
  TOKEN_VOLUME_NAME,
} from '../../src/vocabulary.js';

const { core } = useE2E();

const APP_ARN = roleArn('e2e-app');
let webhook: WebhookProcess;
let ns: TestNamespace;
/** A namespace no webhook selects: what the API server stores for a Pod nobody mutates. */
let control: TestNamespace;

/** The Pod spec with the random suffix of the kube-api-access volume normalized away. */
function comparableSpec(pod: V1Pod): unknown {
  return JSON.parse(
    JSON.stringify(pod.spec).replace(/kube-api-access-[a-z0-9]{5}/g, 'kube-api-access-xxxxx'),
  );
}

async function expectStoredUnchanged(pod: V1Pod, serviceAccountName: string): Promise<void> {
  await createServiceAccount(control.name, serviceAccountName).catch((error: unknown) => {
    if (!(error instanceof ApiException && error.code === 409)) throw error;
  });
  const reference = await createPod(control.name, pod);
  const stored = await readPod(ns.name, pod.metadata?.name ?? '');
  expect(isMutated(stored)).toBe(false);
  expect(comparableSpec(stored)).toEqual(comparableSpec(reference));
}

beforeAll(async () => {
  webhook = await startWebhook({ name: 'mutation' });
  ns = await createTestNamespace('mutation');
  control = await createTestNamespace('control');
  await createServiceAccount(ns.name, 'app', { roleArn: APP_ARN });
  await createServiceAccount(ns.name, 'no-role');
  await registerPodIdentityWebhook({ endpoint: webhook, namespace: ns });
});

describe('Pods created through kube-apiserver', () => {
  it('stores the identity env, mount and projected token volume next to kube-api-access', async () => {
    const pod = podManifest('injected', {
      serviceAccountName: 'app',
      containers: ['app', 'sidecar'],
      initContainers: ['init'],
      env: [{ name: 'EXISTING', value: 'kept' }],
    });
    const created = await createPod(ns.name, pod);
    const stored = await readPod(ns.name, 'injected');
    expect(stored.spec).toEqual(created.spec);

    const containers = allContainers(stored);
    expect(containers.map((c) => c.name)).toEqual(['init', 'app', 'sidecar']);
    for (const c of containers) {
      expect(envValue(c, 'EXISTING')).toBe('kept');
      expect(envValue(c, ENV.roleArn)).toBe(APP_ARN);
      expect(envValue(c, ENV.webIdentityTokenFile)).toBe(`${DEFAULT_TOKEN_MOUNT_PATH}/${TOKEN_FILE}`);
      expect(c.volumeMounts).toContainEqual(
        expect.objectContaining({ name: TOKEN_VOLUME_NAME, mountPath: DEFAULT_TOKEN_MOUNT_PATH }),
      );
      // The ServiceAccount admission plugin's mount is still there.
      expect(c.volumeMounts).toContainEqual(
        expect.objectContaining({
          name: expect.stringMatching(/^kube-api-access-/),
          mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
        }),
      );
    }

    const volumes = stored.spec?.volumes ?? [];
    expect(volumes.map((v) => v.name).sort()).toEqual([
      TOKEN_VOLUME_NAME,
      expect.stringMatching(/^kube-api-access-[a-z0-9]{5}$/),
    ]);
    const tokenVolume = volumes.find((v) => v.name === TOKEN_VOLUME_NAME);
    expect(tokenVolume?.projected?.sources).toEqual([
      {
        serviceAccountToken: {
          audience: DEFAULT_TOKEN_AUDIENCE,
          expirationSeconds: DEFAULT_TOKEN_EXPIRATION,
          path: TOKEN_FILE,
        },
      },
    ]);
    const apiAccess = volumes.find((v) => v.name.startsWith('kube-api-access-'));
    expect(apiAccess?.projected?.sources?.[0]?.serviceAccountToken).toMatchObject({ path: 'token' });
  });

  it('stores a Pod whose ServiceAccount has no role annotation unchanged', async () => {
    const pod = podManifest('no-role', { serviceAccountName: 'no-role' });
    const created = await createPod(ns.name, pod);
    expect(isMutated(created)).toBe(false);
    await expectStoredUnchanged(pod, 'no-role');
  });

  it('does not mutate a Pod with the skip label even though its ServiceAccount is annotated', async () => {
    const pod = podManifest('skipped', { serviceAccountName: 'app', labels: { [SKIP_LABEL]: 'true' } });
    const created = await createPod(ns.name, pod);
    expect(isMutated(created)).toBe(false);
    await expectStoredUnchanged(pod, 'app');
    // Not sent at all: the webhook logs every review in order; once the review of a Pod created
    // after this one is logged, this one would be too, had kube-apiserver sent it.
    await createPod(ns.name, podManifest('after-skipped', { serviceAccountName: 'app' }));
    const reviewed = await waitFor('the webhook to log the review of after-skipped', () => {
      const pods = webhook.reviewedPods();
      return pods.includes(`${ns.name}/after-skipped`) ? pods : undefined;
    });
    expect(reviewed).not.toContain(`${ns.name}/skipped`);
  });

  // Whether the informer or the live GET wins varies; live-lookup.test.ts makes the miss certain.
  it('mutates a Pod whose ServiceAccount was created immediately before it', async () => {
    for (let i = 0; i < 5; i++) {
      const name = `fresh-${i}`;
      await createServiceAccount(ns.name, name, { roleArn: roleArn(name) });
      const created = await createPod(ns.name, podManifest(`fresh-pod-${i}`, { serviceAccountName: name }));
      expect(injectedRoleArn(created)).toBe(roleArn(name));
      expect(injectedRoleArn(await readPod(ns.name, `fresh-pod-${i}`))).toBe(roleArn(name));
    }
  });

  it('speaks AdmissionReview v1beta1 when that is the only version registered', async () => {
    const legacy = await createTestNamespace('v1beta1');
    await createServiceAccount(legacy.name, 'app', { roleArn: APP_ARN });
    await registerPodIdentityWebhook({
      endpoint: webhook,
      namespace: legacy,
      admissionReviewVersions: ['v1beta1'],
    });
    const created = await createPod(legacy.name, podManifest('legacy', { serviceAccountName: 'app' }));
    expect(injectedRoleArn(created)).toBe(APP_ARN);
  });
});

describe('dry runs and warnings', () => {
  it('returns the mutated Pod for a dryRun=All create without storing it', async () => {
    const returned = await createPod(ns.name, podManifest('dry', { serviceAccountName: 'app' }), {
      dryRun: true,
    });
    expect(injectedRoleArn(returned)).toBe(APP_ARN);
    expect(returned.spec?.volumes?.map((v) => v.name)).toContain(TOKEN_VOLUME_NAME);
    const missing = await expectApiError(readPod(ns.name, 'dry'));
    expect(missing.code).toBe(404);
  });

  it('passes admission warnings to the client and still injects an unusual role ARN', async () => {
    await createServiceAccount(ns.name, 'bad-arn', { roleArn: 'not-an-arn' });
    for (const dryRun of ['All', undefined]) {
      const res = await core.createNamespacedPodWithHttpInfo({
        namespace: ns.name,
        body: podManifest(`bad-arn-${dryRun ? 'dry' : 'real'}`, { serviceAccountName: 'bad-arn' }),
        dryRun,
      });
      expect(res.httpStatusCode).toBe(201);
      expect(res.headers.warning).toMatch(/^299 - ".*not-an-arn.*"/);
      expect(injectedRoleArn(res.data)).toBe('not-an-arn');
    }
  });

  it('sends no warning for a well-formed role ARN', async () => {
    const res = await core.createNamespacedPodWithHttpInfo({
      namespace: ns.name,
      body: podManifest('good-arn', { serviceAccountName: 'app' }),
    });
    expect(res.headers.warning).toBeUndefined();
    expect(injectedRoleArn(res.data)).toBe(APP_ARN);
  });
});
