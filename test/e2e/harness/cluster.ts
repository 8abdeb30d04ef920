// Test-side helpers: API clients for the e2e cluster, namespaces, ServiceAccounts, Pods, webhook
// registration (waiting until it takes effect), kube-apiserver restarts and failure diagnostics.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  AdmissionregistrationV1Api,
  ApiException,
  AuthorizationV1Api,
  CoreV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
  type V1Container,
  type V1MutatingWebhook,
  type V1MutatingWebhookConfiguration,
  type V1Pod,
  type V1ServiceAccount,
} from '@kubernetes/client-node';
import { afterAll, beforeEach, inject } from 'vitest';
import type { E2EContext } from './context.js';
import { httpsRequest } from './https.js';
import { waitFor } from '../../support/wait.js';
import { sampleSum } from '../../support/prometheus.js';

export const ROLE_ARN_ANNOTATION = 'eks.amazonaws.com/role-arn';
export const SKIP_LABEL = 'eks.amazonaws.com/skip-pod-identity-webhook';
export const TOKEN_VOLUME = 'aws-iam-token';
export const TOKEN_MOUNT_PATH = '/var/run/secrets/eks.amazonaws.com/serviceaccount';
export const TOKEN_FILE = `${TOKEN_MOUNT_PATH}/token`;
export const NAMESPACE_SELECTOR_LABEL = 'e2e.pod-identity-webhook.test/selector';
export const PROBE_SERVICE_ACCOUNT = 'e2e-probe';
export const IMAGE = 'registry.k8s.io/pause:3.10';

export function roleArn(name: string): string {
  return `arn:aws:iam::111122223333:role/${name}`;
}

export function uniqueSuffix(): string {
  return randomBytes(3).toString('hex');
}

export interface Clients {
  ctx: E2EContext;
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  admission: AdmissionregistrationV1Api;
  rbac: RbacAuthorizationV1Api;
  authorization: AuthorizationV1Api;
}

let clients: Clients | undefined;

/** The e2e context and cluster-admin API clients (one set per worker). */
export function cluster(): Clients {
  if (clients) return clients;
  const ctx = inject('e2e');
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(ctx.kubeconfig);
  clients = {
    ctx,
    kubeConfig,
    core: kubeConfig.makeApiClient(CoreV1Api),
    admission: kubeConfig.makeApiClient(AdmissionregistrationV1Api),
    rbac: kubeConfig.makeApiClient(RbacAuthorizationV1Api),
    authorization: kubeConfig.makeApiClient(AuthorizationV1Api),
  };
  return clients;
}

// ---------------------------------------------------------------------------------------------
// Diagnostics and cleanup

type DiagnosticSource = () => string;
const diagnosticSources = new Set<DiagnosticSource>();
const cleanups: Array<() => Promise<void>> = [];

/** Adds text (e.g. a webhook's log tail) to what is printed when a test fails. */
export function addDiagnostics(source: DiagnosticSource): () => void {
  diagnosticSources.add(source);
  return () => diagnosticSources.delete(source);
}

/** Registers a cleanup run (last registered first) after all tests of the file. */
export function deferCleanup(cleanup: () => Promise<void>): void {
  cleanups.push(cleanup);
}

export function logLocations(): string {
  const { ctx } = cluster();
  return [
    `kube-apiserver log: ${ctx.logs.apiServer}`,
    `etcd log:           ${ctx.logs.etcd}`,
    `all logs:           ${ctx.logs.dir}`,
  ].join('\n');
}

/**
 * Call once at the top of every e2e test file: prints where the logs are (and webhook log tails)
 * when a test fails, and runs the deferred cleanups (webhooks, configurations) after the file.
 */
export function useE2E(): Clients {
  const c = cluster();
  beforeEach((context) => {
    context.onTestFailed(() => {
      const sections = [logLocations(), ...[...diagnosticSources].map((source) => source())];
      console.error(`\n----- e2e diagnostics for "${context.task.name}" -----\n${sections.join('\n\n')}\n`);
    });
  });
  afterAll(async () => {
    const errors: unknown[] = [];
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup().catch((error: unknown) => errors.push(error));
    }
    if (errors.length > 0) throw new AggregateError(errors, 'e2e cleanup failed');
  });
  return c;
}

// ---------------------------------------------------------------------------------------------
// kube-apiserver lifecycle (owned by global-setup, driven over its loopback control endpoint)

async function control(action: 'restart' | 'stop' | 'start'): Promise<void> {
  // A restart waits for kube-apiserver's /readyz; bounded so a stuck one fails here, with the logs.
  const res = await fetch(`${cluster().ctx.controlUrl}/apiserver/${action}`, {
    method: 'POST',
    signal: AbortSignal.timeout(100_000),
  });
  if (!res.ok) throw new Error(`kube-apiserver ${action} failed: ${await res.text()}\n${logLocations()}`);
}

/** Stops kube-apiserver and starts it again (same port, same etcd); resolves once /readyz is 200. */
export function restartApiServer(): Promise<void> {
  return control('restart');
}

export function stopApiServer(): Promise<void> {
  return control('stop');
}

export function startApiServer(): Promise<void> {
  return control('start');
}

/**
 * Sum of kube-apiserver's `apiserver_request_total` over the series with these labels, e.g.
 * { verb: 'GET', resource: 'serviceaccounts' }: how often clients made such requests.
 */
export async function apiServerRequestCount(labels: Record<string, string>): Promise<number> {
  const { ctx } = cluster();
  const res = await httpsRequest({
    url: `${ctx.apiServer.url}/metrics`,
    caFile: ctx.clusterCa.cert,
    clientCert: ctx.admin,
    headers: { accept: 'text/plain' },
  });
  if (res.status !== 200) throw new Error(`GET /metrics: HTTP ${res.status}`);
  return sampleSum(res.body, 'apiserver_request_total', labels);
}

// ---------------------------------------------------------------------------------------------
// Namespaces, ServiceAccounts, Pods

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

// ---------------------------------------------------------------------------------------------
// Inspecting what the webhook did

export function allContainers(pod: V1Pod): V1Container[] {
  return [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
}

export function envValue(c: V1Container, name: string): string | undefined {
  return c.env?.find((e) => e.name === name)?.value;
}

/** The role ARN injected into the Pod's first container, if any. */
export function injectedRoleArn(pod: V1Pod): string | undefined {
  const first = pod.spec?.containers?.[0];
  return first ? envValue(first, 'AWS_ROLE_ARN') : undefined;
}

/** True when any trace of the identity injection is on the Pod. */
export function isMutated(pod: V1Pod): boolean {
  return (
    (pod.spec?.volumes ?? []).some((v) => v.name === TOKEN_VOLUME) ||
    allContainers(pod).some(
      (c) =>
        (c.env ?? []).some((e) => e.name.startsWith('AWS_')) ||
        (c.volumeMounts ?? []).some((m) => m.name === TOKEN_VOLUME),
    )
  );
}

// ---------------------------------------------------------------------------------------------
// Webhook configurations

export interface WebhookEndpoint {
  /** https://127.0.0.1:<port>/mutate (or another path). */
  url: string;
  /** base64 of the PEM CA bundle that verifies the webhook's serving certificate. */
  caBundle: string;
}

export function caBundleOf(caFile: string): string {
  return readFileSync(caFile).toString('base64');
}

export interface PodIdentityWebhookOptions {
  endpoint: WebhookEndpoint;
  namespace: TestNamespace;
  name?: string;
  failurePolicy?: 'Fail' | 'Ignore';
  reinvocationPolicy?: 'Never' | 'IfNeeded';
  timeoutSeconds?: number;
  admissionReviewVersions?: string[];
}

/** Our webhook as the chart registers it, restricted to one test namespace by label. */
export function podIdentityWebhook(options: PodIdentityWebhookOptions): V1MutatingWebhook {
  return {
    name: options.name ?? 'pod-identity-webhook.amazonaws.com',
    clientConfig: { url: options.endpoint.url, caBundle: options.endpoint.caBundle },
    namespaceSelector: {
      matchLabels: { [options.namespace.selector.key]: options.namespace.selector.value },
    },
    objectSelector: { matchExpressions: [{ key: SKIP_LABEL, operator: 'DoesNotExist' }] },
    rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
    sideEffects: 'None',
    admissionReviewVersions: options.admissionReviewVersions ?? ['v1', 'v1beta1'],
    failurePolicy: options.failurePolicy ?? 'Fail',
    reinvocationPolicy: options.reinvocationPolicy ?? 'Never',
    timeoutSeconds: options.timeoutSeconds ?? 10,
    matchPolicy: 'Equivalent',
  };
}

/** Creates a MutatingWebhookConfiguration (deleted after the file's tests). */
export async function createWebhookConfiguration(
  namePrefix: string,
  webhooks: V1MutatingWebhook[],
): Promise<V1MutatingWebhookConfiguration> {
  const { admission } = cluster();
  const name = `${namePrefix}-${uniqueSuffix()}`;
  const created = await admission.createMutatingWebhookConfiguration({
    body: { metadata: { name }, webhooks },
  });
  deferCleanup(async () => {
    await admission.deleteMutatingWebhookConfiguration({ name }).catch((error: unknown) => {
      if (!(error instanceof ApiException && error.code === 404)) throw error;
    });
  });
  return created;
}

export async function deleteWebhookConfiguration(name: string): Promise<void> {
  await cluster().admission.deleteMutatingWebhookConfiguration({ name });
}

/**
 * Polls `dryRun=All` creates of a probe Pod (ServiceAccount e2e-probe, annotated) in `namespace`
 * until `accept` is true for what the API server returns, i.e. until registered webhooks act.
 */
export async function waitForDryRunPod(
  namespace: string,
  description: string,
  accept: (pod: V1Pod) => boolean,
  options: { pod?: () => V1Pod; timeoutMs?: number } = {},
): Promise<V1Pod> {
  const makePod =
    options.pod ??
    (() => podManifest(`probe-${uniqueSuffix()}`, { serviceAccountName: PROBE_SERVICE_ACCOUNT }));
  return waitFor(
    description,
    async () => {
      const pod = await createPod(namespace, makePod(), { dryRun: true });
      return accept(pod) ? pod : undefined;
    },
    { timeoutMs: options.timeoutMs ?? 30_000, intervalMs: 250, hint: logLocations },
  );
}

/** Waits until Pods in the namespace are mutated (the probe ServiceAccount's role is injected). */
export function waitUntilEffective(namespace: TestNamespace, timeoutMs = 30_000): Promise<V1Pod> {
  return waitForDryRunPod(
    namespace.name,
    `the webhook to mutate dry-run Pods in ${namespace.name}`,
    (pod) => injectedRoleArn(pod) === roleArn(PROBE_SERVICE_ACCOUNT),
    { timeoutMs },
  );
}

/** Registers our webhook for one namespace and waits until it mutates Pods there. */
export async function registerPodIdentityWebhook(
  options: PodIdentityWebhookOptions & { wait?: boolean },
): Promise<V1MutatingWebhookConfiguration> {
  const configuration = await createWebhookConfiguration('pod-identity-webhook', [
    podIdentityWebhook(options),
  ]);
  if (options.wait ?? true) await waitUntilEffective(options.namespace);
  return configuration;
}
