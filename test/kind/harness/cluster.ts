// The kind cluster as a test file sees it: cluster-admin API clients, raw API requests (pod proxy),
// and `useKind()`, which every test file calls once: on a failed test it saves and prints the logs
// of the webhook Pods and the events of the namespaces the test touched; after the file it runs
// the deferred cleanups.
import { request, type RequestOptions } from 'node:https';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AdmissionregistrationV1Api,
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PolicyV1Api,
} from '@kubernetes/client-node';
import { afterAll, inject } from 'vitest';
import type { KindContext } from '../context.js';
import { clientsOnce, fileHooks } from '../../support/cluster-harness.js';
import { describeError } from '../../support/wait.js';

export { uniqueSuffix } from '../../support/cluster-harness.js';

export interface Kind {
  ctx: KindContext;
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  admission: AdmissionregistrationV1Api;
  policy: PolicyV1Api;
  objects: KubernetesObjectApi;
}

export const kind: () => Kind = clientsOnce(
  () => inject('kind'),
  (kubeConfig) => ({
    core: kubeConfig.makeApiClient(CoreV1Api),
    apps: kubeConfig.makeApiClient(AppsV1Api),
    admission: kubeConfig.makeApiClient(AdmissionregistrationV1Api),
    policy: kubeConfig.makeApiClient(PolicyV1Api),
    objects: KubernetesObjectApi.makeApiClient(kubeConfig),
  }),
);

export interface ApiResponse {
  status: number;
  body: string;
}

/**
 * A raw request to kube-apiserver as the admin (for what typed clients do not cover: POST bodies
 * through the pod proxy, a Pod's metrics).
 */
export async function apiRequest(method: string, path: string, body?: unknown): Promise<ApiResponse> {
  const { kubeConfig } = kind();
  const server = new URL(kubeConfig.getCurrentCluster()!.server);
  const options: RequestOptions = {
    method,
    hostname: server.hostname,
    port: server.port,
    path,
    headers: { accept: 'application/json, text/plain, */*' },
    timeout: 30_000,
  };
  await kubeConfig.applyToHTTPSOptions(options);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  if (payload !== undefined) options.headers = { ...options.headers, 'content-type': 'application/json' };
  return new Promise((resolve, reject) => {
    const req = request(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

// ---------------------------------------------------------------------------------------------
// Logs and events

/** The log of every container of every Pod in `namespace` (matching `labelSelector`). */
export async function podLogs(namespace: string, labelSelector?: string): Promise<Map<string, string>> {
  const { core } = kind();
  const logs = new Map<string, string>();
  const pods = (await core.listNamespacedPod({ namespace, labelSelector })).items;
  for (const pod of pods) {
    const name = pod.metadata!.name!;
    for (const container of [...(pod.spec?.initContainers ?? []), ...pod.spec!.containers]) {
      const text = await core
        .readNamespacedPodLog({ name, namespace, container: container.name })
        .catch((error: unknown) => `(no log: ${describeError(error)})`);
      logs.set(`${namespace}/${name}/${container.name}`, text);
    }
  }
  return logs;
}

/** The namespace's events, oldest first, one line each. */
export async function eventLines(namespace: string): Promise<string[]> {
  const { core } = kind();
  const events = (await core.listNamespacedEvent({ namespace })).items;
  const when = (e: (typeof events)[number]): number =>
    new Date(e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp ?? 0).getTime();
  return events
    .sort((a, b) => when(a) - when(b))
    .map(
      (e) =>
        `${new Date(when(e)).toISOString()} ${e.type} ${e.reason} ${e.involvedObject.kind}/${e.involvedObject.name}: ${e.message}${(e.count ?? 1) > 1 ? ` (x${e.count})` : ''}`,
    );
}

/** The name of a file (or folder) for free text: a test's name, a Pod's. */
export const fileName = (text: string): string => text.replace(/[^\w.-]+/g, '_').slice(0, 100);

/** Writes the Pod logs and events of `namespace` under `dir`; returns what it wrote. */
export async function saveNamespace(
  namespace: string,
  dir: string,
  labelSelector?: string,
): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const [key, text] of await podLogs(namespace, labelSelector)) {
    const file = join(dir, `${fileName(key)}.log`);
    await writeFile(file, text);
    written.push(file);
  }
  const events = join(dir, `${fileName(namespace)}.events.txt`);
  await writeFile(events, (await eventLines(namespace)).join('\n'));
  written.push(events);
  return written;
}

// ---------------------------------------------------------------------------------------------
// Diagnostics and cleanup

/**
 * What a failed test prints besides the namespaces it watches (e.g. a load run's failures), and
 * the deferred cleanups.
 */
const hooks = fileHooks('kind');
export const { addDiagnostics, deferCleanup } = hooks;
/** Namespaces whose Pod logs and events a failed test saves and prints. */
const watched = new Set<string>();

/** Saves and prints this namespace's Pod logs and events when a test fails. */
export function watchNamespace(namespace: string): void {
  watched.add(namespace);
}

const TAIL_LINES = 40;

async function reportFailure(testName: string): Promise<void> {
  const { ctx } = kind();
  const dir = join(ctx.runDir, 'failures', fileName(testName));
  const sections: string[] = [];
  for (const namespace of watched) {
    try {
      for (const file of await saveNamespace(namespace, dir)) {
        const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
        sections.push(`--- ${file} (last ${TAIL_LINES} lines)\n${lines.slice(-TAIL_LINES).join('\n')}`);
      }
    } catch (error) {
      sections.push(`--- ${namespace}: could not read its logs: ${describeError(error)}`);
    }
  }
  sections.push(...hooks.diagnostics());
  console.error(
    `\n----- kind diagnostics for "${testName}" (saved under ${dir}) -----\n${sections.join('\n\n')}\n`,
  );
}

/**
 * Call once at the top of every kind test file: saves and prints logs and events when a test
 * fails, and runs the deferred cleanups (releases, namespaces) after the file.
 */
export function useKind(): Kind {
  const k = kind();
  hooks.register(reportFailure);
  afterAll(() => watched.clear());
  return k;
}
