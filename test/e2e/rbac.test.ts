// The webhook runs with the least privilege it documents: a ServiceAccount bound only to a
// ClusterRole with get/list/watch on ServiceAccounts (token from the TokenRequest API).
import { AuthorizationV1Api, CoreV1Api, type V1ResourceAttributes } from '@kubernetes/client-node';
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
import { injectedRoleArn } from './harness/inspect.js';
import { registerPodIdentityWebhook } from './harness/registration.js';
import { limitedIdentity } from './harness/limited-identity.js';
import { startWebhook } from './harness/webhook.js';

const { core } = useE2E();

const IDENTITY = 'pod-identity-webhook';
let ns: TestNamespace;
let limited: { core: CoreV1Api; authorization: AuthorizationV1Api };

async function allowed(attributes: V1ResourceAttributes): Promise<boolean> {
  const review = await limited.authorization.createSelfSubjectAccessReview({
    body: { spec: { resourceAttributes: attributes } },
  });
  return review.status?.allowed === true;
}

beforeAll(async () => {
  ns = await createTestNamespace('rbac');
  await createServiceAccount(ns.name, 'app', { roleArn: roleArn('rbac') });
  const { kubeconfig, kubeConfig } = await limitedIdentity(ns.name, IDENTITY, [
    { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['get', 'list', 'watch'] },
  ]);
  limited = {
    core: kubeConfig.makeApiClient(CoreV1Api),
    authorization: kubeConfig.makeApiClient(AuthorizationV1Api),
  };
  const webhook = await startWebhook({ name: 'rbac', kubeconfig });
  await registerPodIdentityWebhook({ endpoint: webhook, namespace: ns });
});

describe('webhook with a least-privilege ServiceAccount', () => {
  it('mutates Pods, for a ServiceAccount cached and for one created just before its Pod', async () => {
    await createPod(ns.name, podManifest('mutated', { serviceAccountName: 'app' }));
    expect(injectedRoleArn(await readPod(ns.name, 'mutated'))).toBe(roleArn('rbac'));

    await createServiceAccount(ns.name, 'fresh', { roleArn: roleArn('fresh') });
    const fresh = await createPod(ns.name, podManifest('fresh', { serviceAccountName: 'fresh' }));
    expect(injectedRoleArn(fresh)).toBe(roleArn('fresh'));
  });

  it('has get/list/watch on ServiceAccounts and is denied updates, Secrets and Pods', async () => {
    for (const verb of ['get', 'list', 'watch']) {
      expect(await allowed({ verb, resource: 'serviceaccounts' }), verb).toBe(true);
    }
    expect(await allowed({ verb: 'update', resource: 'serviceaccounts', namespace: ns.name })).toBe(false);
    expect(await allowed({ verb: 'get', resource: 'secrets', namespace: ns.name })).toBe(false);
    expect(await allowed({ verb: 'list', resource: 'secrets' })).toBe(false);
    expect(await allowed({ verb: 'create', resource: 'pods', namespace: ns.name })).toBe(false);
  });

  it('cannot read Secrets (403 from the API server)', async () => {
    await core.createNamespacedSecret({
      namespace: ns.name,
      body: { metadata: { name: 'top-secret' }, stringData: { password: 'hunter2' } },
    });
    const get = await expectApiError(
      limited.core.readNamespacedSecret({ name: 'top-secret', namespace: ns.name }),
    );
    expect(get.code).toBe(403);
    expect(get.reason).toBe('Forbidden');
    expect(get.message).toContain(`system:serviceaccount:${ns.name}:${IDENTITY}`);
    expect((await expectApiError(limited.core.listSecretForAllNamespaces())).code).toBe(403);
  });
});
