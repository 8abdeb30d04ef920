// `doctor`: reads the cluster, asks src/irsa/doctor*.ts what is wrong, and, with --restart only,
// rolls the workloads whose Pods missed the webhook (the patch `kubectl rollout restart` sends).
// Read-only otherwise, except --check-token, which requests a short-lived token (no state change).
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { connect } from 'node:tls';
import {
  AdmissionregistrationV1Api,
  ApiException,
  AppsV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  OpenidApi,
  PatchStrategy,
  setHeaderOptions,
  WellKnownApi,
  type KubeConfig,
  type V1MutatingWebhookConfiguration,
  type V1Namespace,
  type V1Pod,
  type V1ReplicaSet,
  type V1ServiceAccount,
} from '@kubernetes/client-node';
import type { JSONWebKeySet } from 'jose';
import { describeFailure, loadKubeConfig } from '../cluster.js';
import { resolveMutationOptions } from '../identity/options.js';
import {
  exitStatus,
  formatFindings,
  type Check,
  type DoctorSummary,
  type Finding,
  type OutputFormat,
} from '../irsa/doctor.js';
import { discoveryFindings, tokenFindings } from '../irsa/doctor-token.js';
import {
  certificateFindings,
  findWebhooks,
  noWebhookFinding,
  ownPodsFindings,
  readyEndpoints,
  serviceFindings,
  settingsFindings,
  type DialOutcome,
  type DialTarget,
  type FoundWebhook,
} from '../irsa/doctor-webhook.js';
import {
  annotationFindings,
  missedPodFindings,
  missedPods,
  restartPatch,
  restartedAt,
  rolloutKey,
  rolloutTargets,
  type RestartOutcome,
} from '../irsa/doctor-workloads.js';
import { ANNOTATION, DEFAULT_TOKEN_AUDIENCE } from '../vocabulary.js';

export interface DoctorFlags {
  kubeconfig?: string;
  /** Only this namespace's Pods and ServiceAccounts (default: all). */
  namespace?: string;
  annotationPrefix: string;
  webhookConfiguration?: string;
  restart: boolean;
  issuer?: string;
  /** A JWKS file, or an http(s) URL. */
  jwks?: string;
  audience?: string;
  /** `NS/NAME`: request a token for this ServiceAccount and check that it verifies. */
  checkToken?: string;
  output: OutputFormat;
}

export interface DoctorDependencies {
  now?: () => Date;
  /** How long to wait for a webhook endpoint before calling it unreachable. */
  dialTimeoutMs?: number;
}

export interface DoctorResult {
  findings: Finding[];
  summary: DoctorSummary;
  /** 0: all well; 1: something needs attention. Bad input and an unreachable cluster throw DoctorInputError. */
  exitCode: 0 | 1;
  text: string;
}

/** Bad input, or a cluster that cannot be reached: exit status 2. */
export class DoctorInputError extends Error {
  override name = 'DoctorInputError';
}

const MAX_DIALS = 3;

function parseServiceAccountRef(value: string): { namespace: string; name: string } {
  const match = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(value);
  if (!match) throw new DoctorInputError(`--check-token must be NAMESPACE/SERVICEACCOUNT, got "${value}"`);
  return { namespace: match[1]!, name: match[3]! };
}

/** client-node's getters for the OIDC documents answer JSON text, or already parsed JSON. */
function asJson<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

export async function runDoctor(flags: DoctorFlags, deps: DoctorDependencies = {}): Promise<DoctorResult> {
  const now = deps.now ?? (() => new Date());
  try {
    resolveMutationOptions({ annotationPrefix: flags.annotationPrefix });
  } catch (error) {
    throw new DoctorInputError((error as Error).message);
  }
  const tokenRef = flags.checkToken === undefined ? undefined : parseServiceAccountRef(flags.checkToken);
  let kubeConfig: KubeConfig;
  try {
    kubeConfig = loadKubeConfig(flags.kubeconfig);
  } catch (error) {
    throw new DoctorInputError(`cannot load the kubeconfig: ${(error as Error).message}`);
  }
  const cluster = new ClusterReader(kubeConfig);
  const findings: Finding[] = [];
  const noAccess = (check: Check, what: string, error: unknown): void => {
    findings.push({
      severity: 'warn',
      check: 'access',
      subject: what,
      problem: `could not be read: ${describeFailure(error)}`,
      action: `${check} checks skipped; run doctor with rights to read it`,
    });
  };

  // The first request tells whether the cluster answers at all: if not, exit status 2.
  const namespaces = await cluster.namespaces(flags.namespace);

  const configurations = await cluster
    .webhookConfigurations()
    .catch(
      (error: unknown) => (
        noAccess('webhook-configuration', 'MutatingWebhookConfigurations', error),
        undefined
      ),
    );
  const webhooks = configurations ? findWebhooks(configurations, flags.webhookConfiguration) : [];
  if (configurations && webhooks.length === 0) findings.push(noWebhookFinding(flags.webhookConfiguration));

  const [pods, serviceAccounts, replicaSets] = await Promise.all([
    cluster.pods(flags.namespace).catch((error: unknown) => (noAccess('pod-not-mutated', 'Pods', error), [])),
    cluster
      .serviceAccounts(flags.namespace)
      .catch((error: unknown) => (noAccess('annotation', 'ServiceAccounts', error), [])),
    cluster
      .replicaSets(flags.namespace)
      .catch((error: unknown) => (noAccess('pod-not-mutated', 'ReplicaSets', error), [])),
  ]);

  // Workloads: Pods that missed the webhook (rolled with --restart), and annotations it ignores.
  const missed = missedPods({
    pods,
    serviceAccounts,
    namespaces,
    replicaSets,
    webhooks: webhooks.map((found) => found.webhook),
    annotationPrefix: flags.annotationPrefix,
  });
  let restarts: Map<string, RestartOutcome> | undefined;
  if (flags.restart) {
    restarts = new Map();
    const patch = restartPatch(now());
    for (const target of rolloutTargets(missed)) {
      const outcome: RestartOutcome = await cluster.restart(target, patch).then(
        () => ({ restarted: true, at: restartedAt(now()) }),
        (error: unknown) => ({ restarted: false, error: describeFailure(error) }),
      );
      restarts.set(rolloutKey(target), outcome);
    }
  }
  findings.push(...missedPodFindings(missed, restarts));
  findings.push(...annotationFindings(serviceAccounts, flags.annotationPrefix));

  // The webhook configuration, its Service, its own Pods and its certificate.
  for (const found of webhooks) {
    findings.push(...settingsFindings(found));
    findings.push(...(await webhookServiceFindings(cluster, found, deps.dialTimeoutMs ?? 2000, noAccess)));
  }

  // The issuer and JWKS AWS would read, and optionally a real token.
  findings.push(...(await issuerFindings(cluster, flags, tokenRef)));

  const summary: DoctorSummary = {
    pods: pods.length,
    serviceAccounts: serviceAccounts.length,
    webhooks: webhooks.length,
  };
  return {
    findings,
    summary,
    exitCode: exitStatus(findings),
    text: formatFindings(flags.output, findings, summary),
  };
}

async function webhookServiceFindings(
  cluster: ClusterReader,
  found: FoundWebhook,
  dialTimeoutMs: number,
  noAccess: (check: Check, what: string, error: unknown) => void,
): Promise<Finding[]> {
  const findings: Finding[] = [];
  const { clientConfig } = found.webhook;
  const caBundle = clientConfig.caBundle ? Buffer.from(clientConfig.caBundle, 'base64').toString('utf8') : '';
  let targets: DialTarget[] = [];
  if (clientConfig.url !== undefined) {
    const url = new URL(clientConfig.url);
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    targets = [{ host, port: Number(url.port || 443), serverName: host }];
  } else if (clientConfig.service !== undefined) {
    const { name, namespace } = clientConfig.service;
    try {
      const state = await cluster.serviceState(namespace, name);
      findings.push(...serviceFindings(found, state));
      targets = readyEndpoints(found, state);
      const selector = state.service?.spec?.selector;
      if (selector && Object.keys(selector).length > 0) {
        const [ownPods, ownNamespace] = await Promise.all([
          cluster.podsSelected(namespace, selector),
          cluster.namespaces(namespace),
        ]);
        findings.push(...ownPodsFindings(found, ownPods, ownNamespace));
      }
    } catch (error) {
      if (error instanceof DoctorInputError) throw error;
      noAccess('service', `Service ${namespace}/${name}`, error);
    }
  }
  if (caBundle !== '' && targets.length > 0) {
    const outcomes = await Promise.all(
      targets.slice(0, MAX_DIALS).map((target) => dial(target, caBundle, dialTimeoutMs)),
    );
    findings.push(...certificateFindings(found, outcomes));
  }
  return findings;
}

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
]);

/** TLS to one address, verified with the caBundle for the name kube-apiserver would check. */
function dial(target: DialTarget, ca: string, timeoutMs: number): Promise<DialOutcome> {
  const label = `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
  return new Promise((resolve) => {
    const socket = connect({
      host: target.host,
      port: target.port,
      ca,
      ...(isIP(target.serverName) ? {} : { servername: target.serverName }),
      ALPNProtocols: ['http/1.1'],
    });
    const finish = (outcome: DialOutcome): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(
      () => finish({ target: label, outcome: 'unreachable', detail: `no answer within ${timeoutMs} ms` }),
      timeoutMs,
    );
    socket.once('secureConnect', () => finish({ target: label, outcome: 'verified' }));
    socket.once('error', (error: NodeJS.ErrnoException) => {
      const code = error.code ?? '';
      finish(
        UNREACHABLE.has(code)
          ? { target: label, outcome: 'unreachable', detail: code }
          : {
              target: label,
              outcome: 'rejected',
              detail: `${error.message}${code && !error.message.includes(code) ? ` (${code})` : ''}`,
            },
      );
    });
  });
}

async function readJwks(source: string): Promise<JSONWebKeySet> {
  try {
    const text = /^https?:\/\//.test(source)
      ? await fetch(source, { signal: AbortSignal.timeout(10_000) }).then(async (res) => {
          if (!res.ok) throw new Error(`HTTP ${res.status}`);
          return res.text();
        })
      : await readFile(source, 'utf8');
    const jwks = JSON.parse(text) as JSONWebKeySet;
    if (!Array.isArray(jwks.keys)) throw new Error('no "keys" array');
    return jwks;
  } catch (error) {
    throw new DoctorInputError(`--jwks ${source}: ${describeFailure(error)}`);
  }
}

/**
 * With --issuer or --jwks: the cluster's tokens name that issuer and its signing keys are in that
 * JWKS. With --check-token: a real token verifies (kid, signature, issuer, audience, subject).
 */
async function issuerFindings(
  cluster: ClusterReader,
  flags: DoctorFlags,
  tokenRef: { namespace: string; name: string } | undefined,
): Promise<Finding[]> {
  if (flags.issuer === undefined && flags.jwks === undefined && tokenRef === undefined) return [];
  const findings: Finding[] = [];
  const given = flags.jwks === undefined ? undefined : await readJwks(flags.jwks);
  let clusterIssuer: string | undefined;
  let clusterJwks: JSONWebKeySet | undefined;
  try {
    const discovery = await cluster.discovery();
    clusterIssuer = typeof discovery.issuer === 'string' ? discovery.issuer : undefined;
    clusterJwks = await cluster.jwks();
  } catch (error) {
    findings.push({
      severity: 'info',
      check: 'token',
      subject: 'the cluster’s OIDC discovery (/.well-known/openid-configuration, /openid/v1/jwks)',
      problem: `could not be read: ${describeFailure(error)}`,
      action: 'pass --issuer and --jwks to check against the documents AWS reads',
    });
  }
  if (flags.issuer !== undefined && clusterIssuer !== undefined) {
    findings.push(...discoveryFindings({ issuer: clusterIssuer }, flags.issuer, 'of the cluster'));
  }
  if (given !== undefined && clusterJwks !== undefined) {
    const published = new Set(given.keys.map((key) => key.kid));
    const missing = clusterJwks.keys
      .filter((key) => !published.has(key.kid))
      .map((key) => key.kid ?? '(none)');
    if (missing.length > 0) {
      findings.push({
        severity: 'error',
        check: 'token',
        subject: `JWKS ${flags.jwks}`,
        problem: `lacks the cluster’s signing key ${missing.join(', ')}: AWS refuses tokens signed with it`,
        action:
          'regenerate it from the cluster’s service-account public keys (pod-identity-webhook oidc) and publish it',
      });
    }
  }
  if (tokenRef === undefined) return findings;
  const issuer = flags.issuer ?? clusterIssuer;
  const jwks = given ?? clusterJwks;
  if (issuer === undefined || jwks === undefined) {
    throw new DoctorInputError(
      '--check-token needs --issuer and --jwks when the cluster does not serve its OIDC discovery documents',
    );
  }
  let audience = flags.audience;
  if (audience === undefined) {
    const account = await cluster.serviceAccount(tokenRef.namespace, tokenRef.name).catch(() => undefined);
    audience =
      account?.metadata?.annotations?.[`${flags.annotationPrefix}/${ANNOTATION.audience}`] ??
      DEFAULT_TOKEN_AUDIENCE;
  }
  let token: string;
  try {
    token = await cluster.token(tokenRef.namespace, tokenRef.name, audience);
  } catch (error) {
    findings.push({
      severity: 'error',
      check: 'token',
      subject: `ServiceAccount ${tokenRef.namespace}/${tokenRef.name}`,
      problem: `no token could be requested: ${describeFailure(error)}`,
      action: 'check the ServiceAccount exists and that you may create serviceaccounts/token',
    });
    return findings;
  }
  findings.push(
    ...(await tokenFindings(token, jwks, {
      issuer,
      audience,
      namespace: tokenRef.namespace,
      serviceAccount: tokenRef.name,
      jwksSource: flags.jwks ?? 'the cluster (/openid/v1/jwks)',
    })),
  );
  return findings;
}

/** The reads and the one kind of write doctor does, through client-node. */
class ClusterReader {
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly admission: AdmissionregistrationV1Api;
  private readonly discoveryApi: DiscoveryV1Api;

  constructor(private readonly kubeConfig: KubeConfig) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.apps = kubeConfig.makeApiClient(AppsV1Api);
    this.admission = kubeConfig.makeApiClient(AdmissionregistrationV1Api);
    this.discoveryApi = kubeConfig.makeApiClient(DiscoveryV1Api);
  }

  /** The namespaces in scope; failing to reach the cluster at all is exit status 2. */
  async namespaces(name: string | undefined): Promise<V1Namespace[]> {
    try {
      if (name === undefined) return (await this.core.listNamespace()).items;
      return [await this.core.readNamespace({ name })];
    } catch (error) {
      if (error instanceof ApiException && error.code === 404 && name !== undefined) {
        throw new DoctorInputError(`namespace ${name} not found`);
      }
      if (error instanceof ApiException && error.code === 403) return [];
      throw new DoctorInputError(`cannot reach the cluster: ${describeFailure(error)}`);
    }
  }

  async webhookConfigurations(): Promise<V1MutatingWebhookConfiguration[]> {
    return (await this.admission.listMutatingWebhookConfiguration()).items;
  }

  async pods(namespace: string | undefined): Promise<V1Pod[]> {
    return namespace === undefined
      ? (await this.core.listPodForAllNamespaces()).items
      : (await this.core.listNamespacedPod({ namespace })).items;
  }

  async podsSelected(namespace: string, selector: Record<string, string>): Promise<V1Pod[]> {
    const labelSelector = Object.entries(selector)
      .map(([key, value]) => `${key}=${value}`)
      .join(',');
    return (await this.core.listNamespacedPod({ namespace, labelSelector })).items;
  }

  async serviceAccounts(namespace: string | undefined): Promise<V1ServiceAccount[]> {
    return namespace === undefined
      ? (await this.core.listServiceAccountForAllNamespaces()).items
      : (await this.core.listNamespacedServiceAccount({ namespace })).items;
  }

  async serviceAccount(namespace: string, name: string): Promise<V1ServiceAccount> {
    return this.core.readNamespacedServiceAccount({ namespace, name });
  }

  async replicaSets(namespace: string | undefined): Promise<V1ReplicaSet[]> {
    return namespace === undefined
      ? (await this.apps.listReplicaSetForAllNamespaces()).items
      : (await this.apps.listNamespacedReplicaSet({ namespace })).items;
  }

  async serviceState(namespace: string, name: string) {
    const service = await this.core.readNamespacedService({ namespace, name }).catch((error: unknown) => {
      if (error instanceof ApiException && error.code === 404) return undefined;
      throw error;
    });
    const endpointSlices = service
      ? (
          await this.discoveryApi.listNamespacedEndpointSlice({
            namespace,
            labelSelector: `kubernetes.io/service-name=${name}`,
          })
        ).items
      : [];
    return { service, endpointSlices };
  }

  async restart(
    target: { kind: 'Deployment' | 'StatefulSet' | 'DaemonSet'; namespace: string; name: string },
    body: object,
  ): Promise<void> {
    const { namespace, name } = target;
    const options = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);
    if (target.kind === 'Deployment')
      await this.apps.patchNamespacedDeployment({ namespace, name, body }, options);
    else if (target.kind === 'StatefulSet') {
      await this.apps.patchNamespacedStatefulSet({ namespace, name, body }, options);
    } else await this.apps.patchNamespacedDaemonSet({ namespace, name, body }, options);
  }

  async discovery(): Promise<{ issuer?: unknown; jwks_uri?: unknown }> {
    const api = this.kubeConfig.makeApiClient(WellKnownApi);
    return asJson(await api.getServiceAccountIssuerOpenIDConfiguration());
  }

  async jwks(): Promise<JSONWebKeySet> {
    const api = this.kubeConfig.makeApiClient(OpenidApi);
    return asJson(await api.getServiceAccountIssuerOpenIDKeyset());
  }

  /** A 10-minute token (the shortest Kubernetes issues): nothing is stored in the cluster. */
  async token(namespace: string, name: string, audience: string): Promise<string> {
    const response = await this.core.createNamespacedServiceAccountToken({
      namespace,
      name,
      body: { spec: { audiences: [audience], expirationSeconds: 600 } },
    });
    const token = response.status?.token;
    if (!token) throw new Error('the TokenRequest answer has no token');
    return token;
  }
}
