// Runs the webhook CLI (`node dist/cli.js serve ...`) as a child process with its own serving
// certificate for 127.0.0.1 on free ports, waits for /readyz and keeps its log.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AuthorizationV1Api, KubeConfig, type V1PolicyRule } from '@kubernetes/client-node';
import {
  addDiagnostics,
  caBundleOf,
  cluster,
  deferCleanup,
  uniqueSuffix,
  type WebhookEndpoint,
} from './cluster.js';
import { httpsRequest } from './https.js';
import { issueCertificate } from '../../../scripts/pki.mjs';
import { ManagedProcess, type Exit } from './processes.js';
import { waitFor } from '../../support/wait.js';
import { repoRoot } from '../../support/paths.js';
import { servingPorts } from '../../support/serving.js';
import { writeKubeconfig } from './kubeconfig.js';

export const cliPath = join(repoRoot, 'dist', 'cli.js');

export interface WebhookOptions {
  /** Label for log file names and diagnostics. */
  name?: string;
  /** Kubeconfig the webhook uses (default: the cluster-admin one). */
  kubeconfig?: string;
  /** Extra CLI flags, e.g. ['--token-audience', 'x']. */
  args?: string[];
  logLevel?: string;
  /** Wait for /readyz (default true). */
  waitReady?: boolean;
}

export class WebhookProcess implements WebhookEndpoint {
  constructor(
    readonly name: string,
    readonly process: ManagedProcess,
    readonly port: number,
    readonly metricsPort: number,
    readonly caFile: string,
  ) {}

  get url(): string {
    return `https://127.0.0.1:${this.port}/mutate`;
  }

  get caBundle(): string {
    return caBundleOf(this.caFile);
  }

  get logFile(): string {
    return this.process.logFile;
  }

  /** Everything the webhook wrote to stdout and stderr so far. */
  logs(): string {
    return this.process.output();
  }

  /**
   * `namespace/pod` of every admission review the webhook logged (its JSON log lines with
   * msg "admission review"), to tell which Pods kube-apiserver actually sent to it.
   */
  reviewedPods(): string[] {
    const pods: string[] = [];
    for (const line of this.logs().split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const entry = JSON.parse(line) as { msg?: unknown; namespace?: unknown; pod?: unknown };
        if (entry.msg === 'admission review') pods.push(`${String(entry.namespace)}/${String(entry.pod)}`);
      } catch {
        // not a JSON log line
      }
    }
    return pods;
  }

  async get(path: string): Promise<{ status: number; body: string }> {
    return httpsRequest({
      url: `https://127.0.0.1:${this.port}${path}`,
      caFile: this.caFile,
      timeoutMs: 5_000,
    });
  }

  async metrics(): Promise<string> {
    const res = await fetch(`http://127.0.0.1:${this.metricsPort}/metrics`);
    if (!res.ok) throw new Error(`GET /metrics: HTTP ${res.status}`);
    return res.text();
  }

  async waitReady(timeoutMs = 30_000): Promise<void> {
    await waitFor(
      `webhook ${this.name} /readyz`,
      async () => ((await this.get('/readyz')).status === 200 ? true : undefined),
      {
        timeoutMs,
        intervalMs: 200,
        abortIf: () => this.process.exitReason(),
        hint: () => this.diagnostics(),
      },
    );
  }

  diagnostics(): string {
    const state = this.process.exitReason() ?? `running (pid ${this.process.pid})`;
    return `webhook ${this.name}: ${state}; log: ${this.logFile}\n${this.process.tail(25)}`;
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`. */
  stop(timeoutMs = 10_000): Promise<Exit> {
    return this.process.stop(timeoutMs);
  }
}

/** Starts the webhook; it is stopped after the file's tests at the latest. */
export async function startWebhook(options: WebhookOptions = {}): Promise<WebhookProcess> {
  const { ctx } = cluster();
  if (!existsSync(cliPath)) throw new Error(`${cliPath} does not exist: run \`npm run build\` first`);
  const name = `${options.name ?? 'webhook'}-${uniqueSuffix()}`;
  const dir = join(ctx.runDir, 'webhooks', name);
  await mkdir(dir, { recursive: true });
  const serving = await issueCertificate(dir, 'serving', ctx.webhookCa, {
    commonName: 'pod-identity-webhook',
    hosts: ['127.0.0.1', 'localhost'],
  });
  // Port 0: the webhook binds free ports itself and logs them, so no port is chosen and freed first.
  const args = [
    cliPath,
    'serve',
    '--port',
    '0',
    '--metrics-port',
    '0',
    '--tls-cert',
    serving.cert,
    '--tls-key',
    serving.key,
    '--kubeconfig',
    options.kubeconfig ?? ctx.kubeconfig,
    '--log-level',
    options.logLevel ?? 'info',
    ...(options.args ?? []),
  ];
  const child = await ManagedProcess.start({
    name: `webhook ${name}`,
    command: process.execPath,
    args,
    cwd: repoRoot,
    logFile: join(ctx.logs.dir, `webhook-${name}.log`),
    pidDir: ctx.pidDir,
  });
  const { port, metricsPort } = await waitFor(
    `webhook ${name} to log its ports`,
    () => servingPorts(child.output()),
    {
      intervalMs: 50,
      abortIf: () => child.exitReason(),
      hint: () => `${child.logFile}\n${child.tail(25)}`,
    },
  );
  const webhook = new WebhookProcess(name, child, port, metricsPort, ctx.webhookCa.cert);
  const removeDiagnostics = addDiagnostics(() => webhook.diagnostics());
  deferCleanup(async () => {
    await webhook.stop();
    removeDiagnostics();
  });
  if (options.waitReady ?? true) await webhook.waitReady();
  return webhook;
}

/** Writes a kubeconfig that authenticates with a bearer token (e.g. from the TokenRequest API). */
export async function writeTokenKubeconfig(
  file: string,
  token: string,
  user = 'token-user',
): Promise<string> {
  const { ctx } = cluster();
  await writeKubeconfig(file, ctx.apiServer.url, ctx.clusterCa.cert, { name: user, credentials: { token } });
  return file;
}

export interface LimitedIdentity {
  kubeconfig: string;
  kubeConfig: KubeConfig;
}

/**
 * A ServiceAccount `name` in `namespace`, bound only to a new ClusterRole with `rules`, as a
 * token kubeconfig for the webhook to run with. Waits until the RBAC authorizer has seen the
 * binding (it learns of it through its own informer); removed after the test file.
 */
export async function limitedIdentity(
  namespace: string,
  name: string,
  rules: V1PolicyRule[],
): Promise<LimitedIdentity> {
  const { ctx, core, rbac } = cluster();
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  const roleName = `e2e-${name}-${uniqueSuffix()}`;
  await rbac.createClusterRole({ body: { metadata: { name: roleName }, rules } });
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name: roleName },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: roleName },
      subjects: [{ kind: 'ServiceAccount', name, namespace }],
    },
  });
  deferCleanup(async () => {
    await rbac.deleteClusterRoleBinding({ name: roleName });
    await rbac.deleteClusterRole({ name: roleName });
  });
  const tokenRequest = await core.createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const kubeconfig = await writeTokenKubeconfig(
    join(ctx.runDir, `${namespace}-${name}.kubeconfig`),
    tokenRequest.status?.token ?? '',
    `system:serviceaccount:${namespace}:${name}`,
  );
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfig);
  const authorization = kubeConfig.makeApiClient(AuthorizationV1Api);
  const first = rules[0]!;
  await waitFor('the ClusterRoleBinding to take effect', async () => {
    const review = await authorization.createSelfSubjectAccessReview({
      body: { spec: { resourceAttributes: { verb: first.verbs[0], resource: first.resources?.[0] } } },
    });
    return review.status?.allowed === true ? true : undefined;
  });
  return { kubeconfig, kubeConfig };
}
