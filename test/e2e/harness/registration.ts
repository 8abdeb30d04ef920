// Registering webhooks with kube-apiserver: MutatingWebhookConfigurations for ours (as the chart
// registers it) or any other endpoint, and waiting until a registration takes effect.
import { readFileSync } from 'node:fs';
import {
  ApiException,
  type V1MutatingWebhook,
  type V1MutatingWebhookConfiguration,
  type V1Pod,
} from '@kubernetes/client-node';
import { cluster, deferCleanup, logLocations, uniqueSuffix } from './clients.js';
import { injectedRoleArn } from './inspect.js';
import { createPod, podManifest, PROBE_SERVICE_ACCOUNT, roleArn, type TestNamespace } from './objects.js';
import { waitFor } from '../../support/wait.js';
import { SKIP_LABEL } from '../../../src/vocabulary.js';

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
