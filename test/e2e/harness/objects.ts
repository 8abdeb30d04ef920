// The objects tests create through the API server: namespaces, ServiceAccounts and Pods, and the
// error of an API call that was meant to be rejected.
import { ApiException, type V1Container, type V1Pod, type V1ServiceAccount } from '@kubernetes/client-node';
import { cluster, uniqueSuffix } from './clients.js';
import { ANNOTATION, DEFAULT_ANNOTATION_PREFIX } from '../../../src/vocabulary.js';

const ROLE_ARN_ANNOTATION = `${DEFAULT_ANNOTATION_PREFIX}/${ANNOTATION.roleArn}`;
export const NAMESPACE_SELECTOR_LABEL = 'e2e.pod-identity-webhook.test/selector';
/** An annotated ServiceAccount in every test namespace, used to see a webhook take effect. */
export const PROBE_SERVICE_ACCOUNT = 'e2e-probe';
export const IMAGE = 'registry.k8s.io/pause:3.10';

export function roleArn(name: string): string {
  return `arn:aws:iam::111122223333:role/${name}`;
}

// ---------------------------------------------------------------------------------------------
// Namespaces and ServiceAccounts

export interface TestNamespace {
  name: string;
  /** Label (on the namespace) that webhook configurations of this test select. */
  selector: { key: string; value: string };
}

/**
 * Creates a uniquely named namespace, labelled for a webhook namespaceSelector, with its `default`
 * ServiceAccount (no controller-manager runs to create it) and an annotated probe ServiceAccount
 * used to detect when a webhook configuration has taken effect.
 */
export async function createTestNamespace(prefix: string): Promise<TestNamespace> {
  const { core } = cluster();
  const name = `e2e-${prefix}-${uniqueSuffix()}`;
  await core.createNamespace({ body: { metadata: { name, labels: { [NAMESPACE_SELECTOR_LABEL]: name } } } });
  await createServiceAccount(name, 'default');
  await createServiceAccount(name, PROBE_SERVICE_ACCOUNT, { roleArn: roleArn(PROBE_SERVICE_ACCOUNT) });
  return { name, selector: { key: NAMESPACE_SELECTOR_LABEL, value: name } };
}

export async function createServiceAccount(
  namespace: string,
  name: string,
  options: { roleArn?: string; annotations?: Record<string, string> } = {},
): Promise<V1ServiceAccount> {
  const annotations = { ...options.annotations };
  if (options.roleArn !== undefined) annotations[ROLE_ARN_ANNOTATION] = options.roleArn;
  return cluster().core.createNamespacedServiceAccount({
    namespace,
    body: { metadata: { name, annotations } },
  });
}

/** Sets (string) or removes (undefined) the role-arn annotation with a read-modify-replace. */
export async function setRoleArn(
  namespace: string,
  name: string,
  arn: string | undefined,
): Promise<V1ServiceAccount> {
  const { core } = cluster();
  const sa = await core.readNamespacedServiceAccount({ name, namespace });
  const annotations = { ...sa.metadata?.annotations };
  if (arn === undefined) delete annotations[ROLE_ARN_ANNOTATION];
  else annotations[ROLE_ARN_ANNOTATION] = arn;
  sa.metadata = { ...sa.metadata, annotations };
  return core.replaceNamespacedServiceAccount({ name, namespace, body: sa });
}

// ---------------------------------------------------------------------------------------------
// Pods

export interface PodOptions {
  serviceAccountName?: string;
  labels?: Record<string, string>;
  containers?: string[];
  initContainers?: string[];
  env?: Array<{ name: string; value: string }>;
}

export function container(name: string, env: Array<{ name: string; value: string }> = []): V1Container {
  return { name, image: IMAGE, env: env.length > 0 ? env : undefined };
}

export function podManifest(name: string, options: PodOptions = {}): V1Pod {
  const { containers = ['app'], initContainers = [], env = [] } = options;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: options.labels },
    spec: {
      serviceAccountName: options.serviceAccountName,
      containers: containers.map((c) => container(c, env)),
      initContainers: initContainers.length > 0 ? initContainers.map((c) => container(c, env)) : undefined,
    },
  };
}

export async function createPod(
  namespace: string,
  pod: V1Pod,
  options: { dryRun?: boolean } = {},
): Promise<V1Pod> {
  return cluster().core.createNamespacedPod({
    namespace,
    body: pod,
    dryRun: options.dryRun ? 'All' : undefined,
  });
}

export async function readPod(namespace: string, name: string): Promise<V1Pod> {
  return cluster().core.readNamespacedPod({ namespace, name });
}

// ---------------------------------------------------------------------------------------------
// Rejected API calls

/** Error of a rejected API call, with its HTTP status and the API server's Status message. */
export async function expectApiError(
  promise: Promise<unknown>,
): Promise<{ code: number; message: string; reason?: string }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ApiException) {
      const body: unknown = typeof error.body === 'string' ? safeJson(error.body) : error.body;
      const status = (typeof body === 'object' && body !== null ? body : {}) as {
        message?: string;
        reason?: string;
      };
      return { code: error.code, message: status.message ?? String(error.body), reason: status.reason };
    }
    throw error;
  }
  throw new Error('expected the API call to fail, but it succeeded');
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
