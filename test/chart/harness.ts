// The chart proof's helpers: the pinned helm (isolated from ~/.config/helm), the values files to
// prove, rendering to objects, and raw REST calls to the real kube-apiserver of the e2e harness.
//
// Objects go to kube-apiserver as raw JSON, not through client-node's typed APIs: those serialize
// through their models, which silently drop fields they do not know, and a strict field validation
// check would then prove nothing.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { httpsRequest, type HttpsResponse } from '../e2e/harness/https.js';
import { waitFor } from '../support/wait.js';
import { repoRoot } from '../support/paths.js';

export const chartDir = join(repoRoot, 'charts', 'pod-identity-webhook');
export const ciDir = join(chartDir, 'ci');

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
}

/** `Kind/name` (and namespace when set), for messages. */
export const describeObject = (o: KubeObject): string =>
  `${o.kind}/${o.metadata.name}${o.metadata.namespace ? ` in ${o.metadata.namespace}` : ''}`;

// ---------------------------------------------------------------------------------------------
// Values files

export interface ValuesCase {
  /** "default values" or "ci/<file>". */
  name: string;
  /** Values files passed with -f (none for the defaults). */
  files: string[];
}

/** The chart's ci/*.yaml values files, sorted (empty when there are none). */
export function ciValuesFiles(): string[] {
  if (!existsSync(ciDir)) return [];
  return readdirSync(ciDir)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort();
}

/** The default values and every ci/ values file: what the chart proof runs for each. */
export function valuesCases(): ValuesCase[] {
  return [
    { name: 'default values', files: [] },
    ...ciValuesFiles().map((name) => ({ name: `ci/${name}`, files: [join(ciDir, name)] })),
  ];
}

// ---------------------------------------------------------------------------------------------
// helm

export interface HelmResult {
  command: string;
  code: number;
  stdout: string;
  stderr: string;
}

let helmHome: Promise<string> | undefined;

/** Runs the pinned helm; never throws for a non-zero exit (see helmOk). */
export async function helm(args: string[], timeoutMs = 120_000): Promise<HelmResult> {
  const { helm: binary } = inject('chart');
  // Its own config, cache and data directories: nothing from ~/.config/helm (repositories,
  // plugins) changes what is proven, and nothing is written there.
  const home = await (helmHome ??= mkdtemp(join(tmpdir(), 'pod-identity-webhook-helm-')));
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: home,
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_DATA_HOME: join(home, 'data'),
  };
  const command = ['helm', ...args].join(' ');
  return new Promise((resolve, reject) => {
    execFile(
      binary,
      args,
      { env, cwd: repoRoot, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') {
          reject(new Error(`${command}: ${error.message}\n${stderr}`));
          return;
        }
        resolve({ command, code: error ? Number(error.code) : 0, stdout, stderr });
      },
    );
  });
}

/** Runs helm and returns its stdout; throws with its stderr when it fails. */
export async function helmOk(args: string[], timeoutMs?: number): Promise<string> {
  const result = await helm(args, timeoutMs);
  if (result.code !== 0) {
    throw new Error(
      `${result.command} exited ${result.code}:\n${result.stderr}${result.stdout.slice(-2000)}`,
    );
  }
  return result.stdout;
}

/** Every non-empty YAML document of a multi-document stream, as objects. */
export function parseManifests(text: string): KubeObject[] {
  const objects: KubeObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`invalid YAML rendered: ${doc.errors[0]!.message}`);
    const value = doc.toJS() as KubeObject | null;
    if (value !== null && value !== undefined) objects.push(value);
  }
  return objects;
}

export interface RenderOptions {
  release: string;
  namespace: string;
  files?: string[];
  set?: string[];
  /** Kubernetes version for .Capabilities (default: helm's, from its client-go). */
  kubeVersion?: string;
}

/** `helm template` as objects. */
export async function render(options: RenderOptions): Promise<KubeObject[]> {
  const args = ['template', options.release, chartDir, '--namespace', options.namespace];
  for (const file of options.files ?? []) args.push('--values', file);
  for (const value of options.set ?? []) args.push('--set', value);
  if (options.kubeVersion) args.push('--kube-version', options.kubeVersion);
  return parseManifests(await helmOk(args));
}

/** The order in which `helm install` creates kinds (helm's releaseutil.InstallOrder); others last. */
const INSTALL_ORDER = [
  'PriorityClass',
  'Namespace',
  'NetworkPolicy',
  'ResourceQuota',
  'LimitRange',
  'PodSecurityPolicy',
  'PodDisruptionBudget',
  'ServiceAccount',
  'Secret',
  'SecretList',
  'ConfigMap',
  'StorageClass',
  'PersistentVolume',
  'PersistentVolumeClaim',
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleList',
  'ClusterRoleBinding',
  'ClusterRoleBindingList',
  'Role',
  'RoleList',
  'RoleBinding',
  'RoleBindingList',
  'Service',
  'DaemonSet',
  'Pod',
  'ReplicationController',
  'ReplicaSet',
  'Deployment',
  'HorizontalPodAutoscaler',
  'StatefulSet',
  'Job',
  'CronJob',
  'IngressClass',
  'Ingress',
  'APIService',
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
];

export function inInstallOrder(objects: KubeObject[]): KubeObject[] {
  const rank = (o: KubeObject) => {
    const index = INSTALL_ORDER.indexOf(o.kind);
    return index === -1 ? INSTALL_ORDER.length : index;
  };
  return [...objects].sort((a, b) => rank(a) - rank(b));
}

// ---------------------------------------------------------------------------------------------
// Raw REST against the e2e kube-apiserver (cluster-admin client certificate)

export function apiRequest(method: string, path: string, body?: unknown): Promise<HttpsResponse> {
  const ctx = inject('e2e');
  return httpsRequest({
    url: `${ctx.apiServer.url}${path}`,
    method,
    caFile: ctx.clusterCa.cert,
    clientCert: ctx.admin,
    body,
    timeoutMs: 30_000,
  });
}

/** The `message` of a Kubernetes Status body, else the body itself. */
export function statusMessage(response: HttpsResponse): string {
  try {
    const status = JSON.parse(response.body) as { message?: string };
    return status.message ?? response.body;
  } catch {
    return response.body;
  }
}

/** `Warning` headers of a response (deprecations, unknown fields under Warn, ...). */
export const warningsOf = (response: HttpsResponse): string[] =>
  response.headerLines.filter(([name]) => name === 'warning').map(([, value]) => value);

interface ApiResource {
  plural: string;
  namespaced: boolean;
}

const discovery = new Map<string, Map<string, ApiResource>>();

async function discover(apiVersion: string): Promise<Map<string, ApiResource>> {
  const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  const response = await apiRequest('GET', path);
  if (response.status !== 200)
    throw new Error(`GET ${path}: HTTP ${response.status} ${statusMessage(response)}`);
  const list = JSON.parse(response.body) as {
    resources: Array<{ name: string; kind: string; namespaced: boolean }>;
  };
  const kinds = new Map<string, ApiResource>();
  for (const r of list.resources) {
    if (!r.name.includes('/')) kinds.set(r.kind, { plural: r.name, namespaced: r.namespaced });
  }
  return kinds;
}

/** Plural and scope of a kind, by discovery (asked again on a miss: CRDs come and go). */
export async function apiResource(apiVersion: string, kind: string): Promise<ApiResource> {
  let resource = discovery.get(apiVersion)?.get(kind);
  if (!resource) {
    const kinds = await discover(apiVersion).catch(() => new Map<string, ApiResource>());
    discovery.set(apiVersion, kinds);
    resource = kinds.get(kind);
  }
  if (!resource) throw new Error(`kube-apiserver does not serve ${kind} in ${apiVersion}`);
  return resource;
}

/** The collection path of an object's kind, in `namespace` when the kind is namespaced. */
export async function collectionPath(object: KubeObject, namespace: string): Promise<string> {
  const { plural, namespaced } = await apiResource(object.apiVersion, object.kind);
  const prefix = object.apiVersion.includes('/') ? `/apis/${object.apiVersion}` : `/api/${object.apiVersion}`;
  return namespaced ? `${prefix}/namespaces/${namespace}/${plural}` : `${prefix}/${plural}`;
}

/** POSTs an object as it is, with `fieldValidation=Strict`; the namespace is the release's. */
export async function createStrict(object: KubeObject, namespace: string): Promise<HttpsResponse> {
  return apiRequest('POST', `${await collectionPath(object, namespace)}?fieldValidation=Strict`, object);
}

export async function deleteObject(object: KubeObject, namespace: string): Promise<void> {
  const path = `${await collectionPath(object, namespace)}/${object.metadata.name}`;
  const response = await apiRequest('DELETE', path);
  if (response.status !== 200 && response.status !== 202 && response.status !== 404) {
    throw new Error(`DELETE ${path}: HTTP ${response.status} ${statusMessage(response)}`);
  }
}

/** Creates a namespace and its `default` ServiceAccount (no controller-manager makes it here). */
export async function createNamespace(name: string): Promise<void> {
  for (const [path, body] of [
    ['/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }],
    [
      `/api/v1/namespaces/${name}/serviceaccounts`,
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } },
    ],
  ] as const) {
    const response = await apiRequest('POST', path, body);
    if (response.status !== 201)
      throw new Error(`POST ${path}: HTTP ${response.status} ${statusMessage(response)}`);
  }
}

/**
 * Installs the pinned cert-manager and prometheus-operator CRDs (once per run: an existing one is
 * kept) and waits until kube-apiserver serves every kind they define.
 */
export async function installThirdPartyCrds(): Promise<string[]> {
  const { crdDir } = inject('chart');
  const crds: KubeObject[] = [];
  for (const file of (await readdir(crdDir)).filter((name) => name.endsWith('.yaml')).sort()) {
    crds.push(...parseManifests(await readFile(join(crdDir, file), 'utf8')));
  }
  const kinds: string[] = [];
  for (const crd of crds) {
    const path = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
    const response = await apiRequest('POST', path, crd);
    if (response.status !== 201 && response.status !== 409) {
      throw new Error(
        `creating CRD ${crd.metadata.name}: HTTP ${response.status} ${statusMessage(response)}`,
      );
    }
    const spec = crd.spec as {
      group: string;
      names: { kind: string };
      versions: Array<{ name: string; served: boolean }>;
    };
    for (const version of spec.versions.filter((v) => v.served)) {
      const apiVersion = `${spec.group}/${version.name}`;
      await waitFor(`kube-apiserver to serve ${spec.names.kind} (${apiVersion})`, async () => {
        discovery.delete(apiVersion);
        return (await apiResource(apiVersion, spec.names.kind).catch(() => undefined)) ? true : undefined;
      });
      kinds.push(`${spec.names.kind}.${apiVersion}`);
    }
  }
  return kinds;
}

/** The chart's values.schema.json. */
export function valuesSchema(): unknown {
  return JSON.parse(readFileSync(join(chartDir, 'values.schema.json'), 'utf8'));
}
