// What the tests run in the cluster: namespaces a release selects, annotated ServiceAccounts, Pods
// that really run (the demo's token check), and "parked" Pods created only to be admitted: they
// ask for a node that does not exist, so they stay Pending and cost nothing.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1ConfigMap, V1Container, V1Pod, V1PodSpec } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { kind, uniqueSuffix } from './cluster.js';
import { createNamespace, type Release } from './releases.js';
import { isMutated, injectedRoleArn } from '../../e2e/harness/inspect.js';
import { repoRoot } from '../../support/paths.js';
import { describeError, waitFor } from '../../support/wait.js';
import { ANNOTATION, DEFAULT_ANNOTATION_PREFIX } from '../../../src/vocabulary.js';

export const ROLE_ARN_KEY = `${DEFAULT_ANNOTATION_PREFIX}/${ANNOTATION.roleArn}`;
/** Parked Pods ask for this node label, which no node has. */
export const NOWHERE = { 'kind.pod-identity-webhook.test/nowhere': 'true' };
export const PARKED_LABEL = 'kind.pod-identity-webhook.test/parked';
/** The webhook image's user (distroless nonroot), numeric so that the kubelet can enforce it. */
export const NON_ROOT = { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532 };
/** An image every kind node has (kubelet's sandbox image); parked Pods never pull it anyway. */
const PAUSE_IMAGE = 'registry.k8s.io/pause:3.10';

export function roleArn(name: string): string {
  return `arn:aws:iam::111122223333:role/${name}`;
}

// ---------------------------------------------------------------------------------------------
// The demo manifest (hack/kind/manifests/demo.yaml), shared with kind.sh

export const demoManifestPath = join(repoRoot, 'hack/kind/manifests/demo.yaml');

/** The objects of a manifest file, by kind. */
export function readManifest(path: string): Array<{ kind: string; [key: string]: unknown }> {
  return parseAllDocuments(readFileSync(path, 'utf8'))
    .map((doc) => doc.toJS() as { kind: string } | null)
    .filter((o): o is { kind: string } => o !== null);
}

function demoObject<T>(kindName: string): T {
  const found = readManifest(demoManifestPath).find((o) => o.kind === kindName);
  if (!found) throw new Error(`${demoManifestPath} has no ${kindName}`);
  return found as T;
}

/** The demo Pod's token check, what it prints (one JSON line). */
export interface TokenReport {
  ok: boolean;
  user: { uid: number; gid: number };
  expected: { audience: string; subject: string; lifetimeSeconds: number };
  env: Record<string, string>;
  token?: { file: string; claims: Record<string, unknown>; lifetimeSeconds: number };
  checks?: Record<string, boolean>;
  error?: string;
}

/** The demo's check-token ConfigMap, copied into `namespace`. */
export async function createCheckTokenConfigMap(namespace: string): Promise<string> {
  const configMap = demoObject<V1ConfigMap>('ConfigMap');
  const name = configMap.metadata!.name!;
  await kind().core.createNamespacedConfigMap({
    namespace,
    body: { metadata: { name }, data: configMap.data },
  });
  return name;
}

/**
 * The demo Pod's spec for `serviceAccountName` (its check-token ConfigMap must be in the namespace):
 * non-root, reading its own projected token. `keepRunning` for Deployments.
 */
export function checkTokenPodSpec(
  serviceAccountName: string,
  options: { keepRunning?: boolean; expectLifetimeSeconds?: number } = {},
): V1PodSpec {
  const spec = structuredClone(demoObject<V1Pod>('Pod').spec!);
  spec.serviceAccountName = serviceAccountName;
  const container = spec.containers[0]!;
  container.env = [
    ...(container.env ?? []),
    ...(options.keepRunning ? [{ name: 'CHECK_TOKEN_KEEP_RUNNING', value: '1' }] : []),
    ...(options.expectLifetimeSeconds === undefined
      ? []
      : [{ name: 'EXPECT_LIFETIME_SECONDS', value: String(options.expectLifetimeSeconds) }]),
  ];
  if (options.keepRunning) spec.restartPolicy = 'Always';
  return spec;
}

/** The JSON line a token-check container printed (waits for it). */
export async function tokenReport(namespace: string, pod: string): Promise<TokenReport> {
  const line = await waitFor(
    `the token report of ${namespace}/${pod}`,
    async () => {
      const log = await kind().core.readNamespacedPodLog({ namespace, name: pod });
      return log.split('\n').find((l) => l.startsWith('{'));
    },
    { timeoutMs: 90_000, intervalMs: 500, hint: () => `pod ${namespace}/${pod}` },
  );
  return JSON.parse(line) as TokenReport;
}

/** Waits until a run-once Pod has ended; returns its phase. */
export async function waitForPodEnd(namespace: string, name: string): Promise<'Succeeded' | 'Failed'> {
  return waitFor(
    `Pod ${namespace}/${name} to finish`,
    async () => {
      const pod = await kind().core.readNamespacedPod({ namespace, name });
      const phase = pod.status?.phase;
      return phase === 'Succeeded' || phase === 'Failed' ? phase : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 500 },
  );
}

// Connects to HOST:PORT every 250 ms until it accepts, for at most 60 s; exits 0 once it does.
const AWAIT_TCP_SCRIPT = `
const { connect } = require('node:net');
const [host, port] = [process.env.HOST, Number(process.env.PORT)];
const deadline = Date.now() + 60_000;
(function attempt() {
  const socket = connect(port, host);
  socket.once('connect', () => { socket.end(); console.log('reached ' + host + ':' + port); });
  socket.once('error', (error) => {
    socket.destroy();
    if (Date.now() < deadline) setTimeout(attempt, 250);
    else { console.log('never reached ' + host + ':' + port + ': ' + error.message); process.exitCode = 1; }
  });
})();
`;

/**
 * Waits until `host:port` accepts connections from inside the cluster. A Service's ClusterIP
 * follows its Pods' readiness by kube-proxy's next sync (a second or more), and a client Pod
 * started in between is refused. A Pod of `image` (which has Node.js) tries until it connects.
 */
export async function awaitReachableInCluster(
  namespace: string,
  host: string,
  port: number,
  image: string,
): Promise<void> {
  const name = `await-${uniqueSuffix()}`;
  await kind().core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name },
      spec: {
        restartPolicy: 'Never',
        securityContext: NON_ROOT,
        containers: [
          {
            name: 'await',
            image,
            imagePullPolicy: 'IfNotPresent',
            command: ['/nodejs/bin/node', '-e', AWAIT_TCP_SCRIPT],
            env: [
              { name: 'HOST', value: host },
              { name: 'PORT', value: String(port) },
            ],
          },
        ],
      },
    },
  });
  const phase = await waitForPodEnd(namespace, name);
  const log = await kind().core.readNamespacedPodLog({ namespace, name });
  if (phase !== 'Succeeded')
    throw new Error(`${host}:${port} is not reachable in the cluster: ${log.trim()}`);
}

// ---------------------------------------------------------------------------------------------
// Namespaces a release selects

export interface Workspace {
  namespace: string;
  /** An annotated ServiceAccount in it. */
  serviceAccount: string;
  role: string;
}

/** A namespace labelled for `release`, with a ServiceAccount `app` that has a role. */
export async function createWorkspace(release: Release, purpose: string): Promise<Workspace> {
  const namespace = await createNamespace(`${purpose}-${uniqueSuffix()}`, {
    [release.selector.key]: release.selector.value,
  });
  const role = roleArn(purpose);
  await createServiceAccount(namespace, 'app', { [ROLE_ARN_KEY]: role });
  return { namespace, serviceAccount: 'app', role };
}

export async function createServiceAccount(
  namespace: string,
  name: string,
  annotations: Record<string, string> = {},
): Promise<void> {
  await kind().core.createNamespacedServiceAccount({ namespace, body: { metadata: { name, annotations } } });
}

// ---------------------------------------------------------------------------------------------
// Parked Pods and steady load

export function parkedPod(
  name: string,
  serviceAccountName: string,
  labels: Record<string, string> = {},
): V1Pod {
  const container: V1Container = { name: 'app', image: PAUSE_IMAGE };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { [PARKED_LABEL]: 'true', ...labels } },
    spec: {
      serviceAccountName,
      nodeSelector: NOWHERE,
      containers: [container],
      terminationGracePeriodSeconds: 0,
    },
  };
}

/**
 * Waits until kube-apiserver reaches the release that selects `workspace`: it calls the Service's
 * ClusterIP, and Ready endpoints reach kube-proxy's rules a moment after the Pods are Ready (a
 * second or two after helm's --wait; until then calls are refused and failurePolicy applies).
 * Dry-run creates until one comes back mutated; returns how long that took.
 */
export async function waitUntilRouted(workspace: Workspace): Promise<number> {
  const started = Date.now();
  await waitFor(
    `kube-apiserver to reach the webhook for ${workspace.namespace} through its Service`,
    async () => {
      const stored = await kind().core.createNamespacedPod({
        namespace: workspace.namespace,
        body: parkedPod('routed', workspace.serviceAccount),
        dryRun: 'All',
      });
      return injectedRoleArn(stored) === workspace.role ? true : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 250 },
  );
  return Date.now() - started;
}

export interface LoadResult {
  created: number;
  /** Creates kube-apiserver refused, with why (e.g. the webhook could not be called). */
  failures: Array<{ name: string; atMs: number; error: string }>;
  /** Created Pods that came back without the role. */
  unmutated: string[];
  durationMs: number;
}

export interface SteadyLoad {
  /** Counts so far (final once `done` resolves). */
  result: LoadResult;
  done: Promise<LoadResult>;
}

/**
 * Starts creating parked Pods in `workspace` at `perSecond` for `durationMs`, each create on its
 * own schedule (a slow answer does not delay the next), and checks each stored Pod for the role.
 */
export function startSteadyLoad(
  workspace: Workspace,
  { perSecond, durationMs, prefix }: { perSecond: number; durationMs: number; prefix: string },
): SteadyLoad {
  const { core } = kind();
  const started = Date.now();
  const total = Math.round((perSecond * durationMs) / 1000);
  const result: LoadResult = { created: 0, failures: [], unmutated: [], durationMs: 0 };
  const run = async (): Promise<LoadResult> => {
    const creates: Array<Promise<void>> = [];
    for (let i = 0; i < total; i++) {
      const due = started + (i * 1000) / perSecond;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
      const name = `${prefix}-${i}`;
      creates.push(
        core
          .createNamespacedPod({
            namespace: workspace.namespace,
            body: parkedPod(name, workspace.serviceAccount),
          })
          .then(
            (pod) => {
              result.created++;
              if (!isMutated(pod) || injectedRoleArn(pod) !== workspace.role) result.unmutated.push(name);
            },
            (error: unknown) => {
              result.failures.push({ name, atMs: Date.now() - started, error: describeError(error) });
            },
          ),
      );
    }
    await Promise.all(creates);
    result.durationMs = Date.now() - started;
    return result;
  };
  return { result, done: run() };
}

/** Waits until a load has made `count` create calls that returned (either way). */
export function loadReached(load: SteadyLoad, count: number): Promise<true> {
  return waitFor(
    `${count} Pod creates`,
    () => (load.result.created + load.result.failures.length >= count ? true : undefined),
    { timeoutMs: 60_000, intervalMs: 100 },
  );
}

/** Deletes the parked Pods of a namespace. */
export async function deleteParkedPods(namespace: string): Promise<void> {
  await kind().core.deleteCollectionNamespacedPod({
    namespace,
    labelSelector: PARKED_LABEL,
    gracePeriodSeconds: 0,
  });
}
