// The webhook runs under exactly the RBAC the chart renders (default values: builtin certificates),
// with the arguments of the chart's Deployment, against the real kube-apiserver: it works, and the
// chart's ServiceAccount may do nothing more than that (no other Secret, no ServiceAccount writes).
// The Deployment and Service are not created (no kubelet or Service routing here): the webhook
// runs as a local process with the Deployment's args and a token of the chart's ServiceAccount.
import { join } from 'node:path';
import {
  AuthorizationV1Api,
  CoreV1Api,
  KubeConfig,
  type V1Container,
  type V1MutatingWebhookConfiguration,
  type V1ResourceAttributes,
} from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { deferCleanup, uniqueSuffix, useE2E } from '../e2e/harness/clients.js';
import { injectedRoleArn } from '../e2e/harness/inspect.js';
import { writeTokenKubeconfig } from '../e2e/harness/limited-identity.js';
import {
  createPod,
  createServiceAccount,
  createTestNamespace,
  expectApiError,
  podManifest,
  roleArn,
  type TestNamespace,
} from '../e2e/harness/objects.js';
import { waitUntilEffective } from '../e2e/harness/registration.js';
import { startWebhook } from '../e2e/harness/webhook.js';
import { waitFor } from '../support/wait.js';
import {
  createNamespace,
  createStrict,
  deleteObject,
  describeObject,
  render,
  statusMessage,
  type KubeObject,
} from './harness.js';

const { ctx, core, admission } = useE2E();

/** What the chart makes that the webhook's identity and RBAC consist of. */
const APPLIED = [
  'ServiceAccount',
  'Secret',
  'ClusterRole',
  'ClusterRoleBinding',
  'Role',
  'RoleBinding',
  'MutatingWebhookConfiguration',
];

let workloads: TestNamespace;
let release: string;
let fullname: string;
let asChart: { core: CoreV1Api; authorization: AuthorizationV1Api };

async function allowed(attributes: V1ResourceAttributes): Promise<boolean> {
  const review = await asChart.authorization.createSelfSubjectAccessReview({
    body: { spec: { resourceAttributes: attributes } },
  });
  return review.status?.allowed === true;
}

/** The chart's webhook configuration, sent to `url` and scoped to the test's namespace. */
function forThisTest(object: KubeObject, url: string): KubeObject {
  const configuration = object as unknown as V1MutatingWebhookConfiguration;
  return {
    ...object,
    webhooks: configuration.webhooks!.map((webhook) => ({
      ...webhook,
      clientConfig: { url },
      namespaceSelector: { matchLabels: { [workloads.selector.key]: workloads.selector.value } },
    })),
  } as unknown as KubeObject;
}

beforeAll(async () => {
  release = `rbac-${uniqueSuffix()}`;
  await createNamespace(release);
  workloads = await createTestNamespace('chart-rbac');
  await createServiceAccount(workloads.name, 'app', { roleArn: roleArn('chart-rbac') });
  const rendered = await render({ release, namespace: release });
  const deployment = rendered.find((o) => o.kind === 'Deployment')!;
  fullname = deployment.metadata.name;
  const objects = rendered.filter((o) => APPLIED.includes(o.kind));
  expect(objects.map((o) => o.kind).sort()).toEqual([...APPLIED].sort());
  for (const object of objects) {
    const created =
      object.kind === 'MutatingWebhookConfiguration'
        ? forThisTest(object, 'https://127.0.0.1:1/mutate') // pointed at the process once it runs
        : object;
    const response = await createStrict(created, release);
    if (response.status !== 201) throw new Error(`${describeObject(object)}: ${statusMessage(response)}`);
    deferCleanup(() => deleteObject(object, release));
  }

  const token = await core.createNamespacedServiceAccountToken({
    name: fullname,
    namespace: release,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const kubeconfig = await writeTokenKubeconfig(
    join(ctx.runDir, `${release}.kubeconfig`),
    token.status!.token!,
    `system:serviceaccount:${release}:${fullname}`,
  );
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfig);
  asChart = {
    core: kubeConfig.makeApiClient(CoreV1Api),
    authorization: kubeConfig.makeApiClient(AuthorizationV1Api),
  };
  // kube-apiserver's RBAC authorizer learns of new bindings through its own informer.
  await waitFor('the chart’s RBAC to take effect', async () =>
    (await allowed({ verb: 'list', resource: 'serviceaccounts' })) ? true : undefined,
  );

  // The Deployment's own arguments, on a free local port, with the address the test dials added.
  const container = (deployment['spec'] as { template: { spec: { containers: V1Container[] } } }).template
    .spec.containers[0]!;
  const args = container.args!.filter((arg) => arg !== 'serve' && !/^--(metrics-)?port=/.test(arg));
  const webhook = await startWebhook({
    name: 'chart-rbac',
    kubeconfig,
    builtinCertificateArgs: [...args, '--certificate-hosts=127.0.0.1'],
    waitReady: false,
  });
  await waitFor('the webhook configuration to point at the webhook', async () => {
    const current = await admission.readMutatingWebhookConfiguration({ name: fullname });
    if (!current.webhooks?.[0]?.clientConfig.caBundle) return undefined; // the webhook writes it
    const updated = forThisTest(current as unknown as KubeObject, webhook.url);
    await admission.replaceMutatingWebhookConfiguration({
      name: fullname,
      body: {
        ...(updated as unknown as V1MutatingWebhookConfiguration),
        webhooks: (updated as unknown as V1MutatingWebhookConfiguration).webhooks!.map((w, i) => ({
          ...w,
          clientConfig: { ...w.clientConfig, caBundle: current.webhooks![i]!.clientConfig.caBundle },
        })),
      },
    });
    return true;
  });
  await waitUntilEffective(workloads);
});

describe('the webhook under the chart’s RBAC', () => {
  it('mutates Pods, for a ServiceAccount cached and for one created just before its Pod', async () => {
    const cached = await createPod(workloads.name, podManifest('cached', { serviceAccountName: 'app' }));
    expect(injectedRoleArn(cached)).toBe(roleArn('chart-rbac'));
    await createServiceAccount(workloads.name, 'fresh', { roleArn: roleArn('fresh') });
    const fresh = await createPod(workloads.name, podManifest('fresh', { serviceAccountName: 'fresh' }));
    expect(injectedRoleArn(fresh)).toBe(roleArn('fresh'));
  });

  it('wrote its certificates into the chart’s Secret, and the caBundle into the chart’s configuration', async () => {
    const secret = await core.readNamespacedSecret({ name: `${fullname}-tls`, namespace: release });
    expect(Object.keys(secret.data ?? {})).toEqual(expect.arrayContaining(['ca.crt', 'tls.crt', 'tls.key']));
    const configuration = await admission.readMutatingWebhookConfiguration({ name: fullname });
    expect(Buffer.from(configuration.webhooks![0]!.clientConfig.caBundle!, 'base64').toString()).toBe(
      Buffer.from(secret.data!['ca-bundle.crt']!, 'base64').toString(),
    );
  });

  it.each<[string, V1ResourceAttributes]>([
    ['get ServiceAccounts', { verb: 'get', resource: 'serviceaccounts' }],
    ['list ServiceAccounts', { verb: 'list', resource: 'serviceaccounts' }],
    ['watch ServiceAccounts', { verb: 'watch', resource: 'serviceaccounts' }],
  ])('may %s', async (_name, attributes) => {
    expect(await allowed(attributes)).toBe(true);
  });

  it('may get and update its own Secret and webhook configuration, by name only', async () => {
    for (const verb of ['get', 'update']) {
      expect(await allowed({ verb, resource: 'secrets', namespace: release, name: `${fullname}-tls` })).toBe(
        true,
      );
      expect(
        await allowed({
          verb,
          group: 'admissionregistration.k8s.io',
          resource: 'mutatingwebhookconfigurations',
          name: fullname,
        }),
      ).toBe(true);
    }
  });

  it.each<[string, () => V1ResourceAttributes]>([
    [
      'update ServiceAccounts',
      () => ({ verb: 'update', resource: 'serviceaccounts', namespace: workloads.name }),
    ],
    [
      'create ServiceAccount tokens',
      () => ({ verb: 'create', resource: 'serviceaccounts', subresource: 'token', namespace: release }),
    ],
    [
      'get another Secret in its namespace',
      () => ({ verb: 'get', resource: 'secrets', namespace: release, name: 'other' }),
    ],
    ['list Secrets in its namespace', () => ({ verb: 'list', resource: 'secrets', namespace: release })],
    ['create Secrets', () => ({ verb: 'create', resource: 'secrets', namespace: release })],
    [
      'delete its own Secret',
      () => ({ verb: 'delete', resource: 'secrets', namespace: release, name: `${fullname}-tls` }),
    ],
    [
      'get Secrets elsewhere',
      () => ({ verb: 'get', resource: 'secrets', namespace: workloads.name, name: `${fullname}-tls` }),
    ],
    [
      'update another webhook configuration',
      () => ({
        verb: 'update',
        group: 'admissionregistration.k8s.io',
        resource: 'mutatingwebhookconfigurations',
        name: 'other',
      }),
    ],
    [
      'patch its webhook configuration',
      () => ({
        verb: 'patch',
        group: 'admissionregistration.k8s.io',
        resource: 'mutatingwebhookconfigurations',
        name: fullname,
      }),
    ],
    ['create Pods', () => ({ verb: 'create', resource: 'pods', namespace: workloads.name })],
  ])('may not %s', async (_name, attributes) => {
    expect(await allowed(attributes())).toBe(false);
  });

  it('is refused another Secret by the API server itself (403)', async () => {
    await core.createNamespacedSecret({
      namespace: release,
      body: { metadata: { name: 'top-secret' }, stringData: { password: 'hunter2' } },
    });
    const get = await expectApiError(
      asChart.core.readNamespacedSecret({ name: 'top-secret', namespace: release }),
    );
    expect(get.code).toBe(403);
    expect(get.message).toContain(`system:serviceaccount:${release}:${fullname}`);
  });
});
