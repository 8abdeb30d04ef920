// Releases of the chart the tests install, each in a namespace of its own and each selecting only
// the namespaces labelled for it: the demo release of kind.sh (and any other) never mutates a
// test's Pods, so "mutated" always means "mutated by this release". Its webhook Pods' logs are
// saved under the run folder when it is uninstalled.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { apiRequest, deferCleanup, kind, saveNamespace, uniqueSuffix, watchNamespace } from './cluster.js';
import { helm, ok } from './commands.js';
import { repoRoot } from '../../support/paths.js';
import { sampleSum } from '../../support/prometheus.js';
import { podReview } from '../../support/reviews.js';
import { describeError, waitFor } from '../../support/wait.js';

export const chartDir = join(repoRoot, 'charts', 'pod-identity-webhook');
/** The namespace label a release selects (value: the release name). */
export const RELEASE_LABEL = 'kind.pod-identity-webhook.test/release';
/** The chart's port names and defaults (values.yaml: config.port, config.metricsPort). */
const WEBHOOK_PORT = 8443;
const METRICS_PORT = 9999;

export type Values = { [key: string]: unknown };

export interface Release {
  name: string;
  namespace: string;
  /** Name of the Deployment, Service, webhook configuration: the chart's fullname. */
  fullname: string;
  /** The label (on a namespace) that this release's webhook selects. */
  selector: { key: string; value: string };
  /** The values given to helm (merged into the chart's defaults by helm). */
  values: Values;
}

const isObject = (value: unknown): value is Values =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** `overrides` merged into `base`, objects key by key; anything else replaced. */
export function mergeValues(base: Values, overrides: Values): Values {
  const merged: Values = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    const current = merged[key];
    merged[key] = isObject(current) && isObject(value) ? mergeValues(current, value) : value;
  }
  return merged;
}

async function valuesFile(name: string, values: Values): Promise<string> {
  const dir = join(kind().ctx.runDir, 'values');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${name}-${Date.now()}.yaml`);
  await writeFile(file, `${JSON.stringify(values, null, 2)}\n`); // JSON is YAML
  return file;
}

/** Creates a namespace carrying `labels`; deleted after the test file. */
export async function createNamespace(name: string, labels: Record<string, string>): Promise<string> {
  const { core } = kind();
  await core.createNamespace({ body: { metadata: { name, labels } } });
  watchNamespace(name);
  deferCleanup(async () => {
    await core.deleteNamespace({ name }).catch(() => undefined);
  });
  return name;
}

/**
 * `helm install --wait` of the chart: the image kind.sh loaded, only namespaces labelled for this
 * release, and `values` (or what a function of the release, its namespace made, returns). The release namespace carries that label too, so only the chart's own
 * exclusion keeps the webhook's Pods away. Uninstalled after the test file.
 */
export async function installRelease(
  purpose: string,
  values: Values | ((release: Release) => Promise<Values>) = {},
): Promise<Release> {
  const { ctx } = kind();
  const name = `piw-${purpose}-${uniqueSuffix()}`;
  const namespace = await createNamespace(name, { [RELEASE_LABEL]: name });
  const release: Release = {
    name,
    namespace,
    fullname: `${name}-pod-identity-webhook`,
    selector: { key: RELEASE_LABEL, value: name },
    values: {
      image: { repository: ctx.image.repository, tag: ctx.image.tag },
      mutatingWebhook: { namespaceSelector: { matchLabels: { [RELEASE_LABEL]: name } } },
    },
  };
  release.values = mergeValues(release.values, typeof values === 'function' ? await values(release) : values);
  deferCleanup(() => uninstallRelease(release));
  ok(
    await helm([
      'install',
      name,
      chartDir,
      '--namespace',
      namespace,
      '--values',
      await valuesFile(name, release.values),
      '--wait',
      '--timeout',
      '180s',
    ]),
  );
  return release;
}

/** `helm upgrade --wait` with `values` merged into the release's. */
export async function upgradeRelease(release: Release, values: Values): Promise<void> {
  release.values = mergeValues(release.values, values);
  ok(
    await helm([
      'upgrade',
      release.name,
      chartDir,
      '--namespace',
      release.namespace,
      '--values',
      await valuesFile(release.name, release.values),
      '--wait',
      '--timeout',
      '180s',
    ]),
  );
}

/** Saves the release's Pod logs and events under the run folder, then uninstalls it. */
export async function uninstallRelease(release: Release): Promise<void> {
  const { ctx } = kind();
  await saveNamespace(release.namespace, join(ctx.runDir, 'logs', release.name)).catch(() => undefined);
  ok(
    await helm(['uninstall', release.name, '--namespace', release.namespace, '--wait', '--timeout', '120s']),
  );
}

// ---------------------------------------------------------------------------------------------
// The webhook's Pods

export const isReady = (pod: V1Pod): boolean =>
  pod.metadata?.deletionTimestamp === undefined &&
  (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/** The release's webhook Pods (terminating ones included). */
export async function webhookPods(release: Release): Promise<V1Pod[]> {
  return (
    await kind().core.listNamespacedPod({
      namespace: release.namespace,
      labelSelector: `app.kubernetes.io/instance=${release.name}`,
    })
  ).items;
}

/** Waits until exactly `replicas` webhook Pods exist and all are Ready; returns them. */
export async function waitForReadyWebhooks(release: Release, replicas: number): Promise<V1Pod[]> {
  return waitFor(
    `${replicas} ready webhook Pods of ${release.name}`,
    async () => {
      const pods = await webhookPods(release);
      return pods.length === replicas && pods.every(isReady) ? pods : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 500 },
  );
}

/**
 * POSTs a Pod CREATE review straight to one webhook Pod's /mutate (through kube-apiserver's pod
 * proxy, which does not check the serving certificate) and returns the webhook's answer.
 */
export async function reviewThroughPod(
  pod: V1Pod,
  object: V1Pod,
  namespace: string,
): Promise<{ allowed: boolean; patch?: string }> {
  const path = `/api/v1/namespaces/${pod.metadata!.namespace}/pods/https:${pod.metadata!.name}:${WEBHOOK_PORT}/proxy/mutate`;
  const response = await apiRequest('POST', path, podReview(object, { namespace }));
  if (response.status !== 200) throw new Error(`POST ${path}: HTTP ${response.status} ${response.body}`);
  const review = JSON.parse(response.body) as { response: { allowed: boolean; patch?: string } };
  return review.response;
}

/** The Prometheus text of one webhook Pod's metrics port, through the pod proxy. */
export async function podMetrics(pod: V1Pod): Promise<string> {
  const path = `/api/v1/namespaces/${pod.metadata!.namespace}/pods/${pod.metadata!.name}:${METRICS_PORT}/proxy/metrics`;
  const response = await apiRequest('GET', path);
  if (response.status !== 200) throw new Error(`GET ${path}: HTTP ${response.status} ${response.body}`);
  return response.body;
}

/** Admission reviews each webhook Pod has answered so far, by Pod name. */
export async function reviewCounts(pods: V1Pod[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const pod of pods) {
    const text = await podMetrics(pod).catch((error: unknown) => {
      throw new Error(`metrics of ${pod.metadata!.name}: ${describeError(error)}`);
    });
    counts.set(pod.metadata!.name!, sampleSum(text, 'pod_identity_webhook_admission_requests_total'));
  }
  return counts;
}
