// Runs the webhook CLI (`node dist/cli/main.js serve ...`) as a child process with its own serving
// certificate for 127.0.0.1 on free ports, waits for /readyz and keeps its log.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { addDiagnostics, cluster, deferCleanup, uniqueSuffix } from './clients.js';
import { caBundleOf, type WebhookEndpoint } from './registration.js';
import { httpsRequest } from './https.js';
import { issueCertificate } from '../../../scripts/pki.mjs';
import { ManagedProcess, type Exit } from './processes.js';
import { waitFor } from '../../support/wait.js';
import { repoRoot } from '../../support/paths.js';
import { servingPorts } from '../../support/serving.js';

export const cliPath = join(repoRoot, 'dist', 'cli', 'main.js');

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
  /**
   * The webhook keeps its own certificates (`--certificates=builtin` and its flags): no serving
   * certificate is issued for it, and `waitReady` must be false (the harness CA does not verify it).
   */
  builtinCertificateArgs?: string[];
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
  let certificateArgs: string[] | undefined = options.builtinCertificateArgs;
  if (certificateArgs === undefined) {
    const serving = await issueCertificate(dir, 'serving', ctx.webhookCa, {
      commonName: 'pod-identity-webhook',
      hosts: ['127.0.0.1', 'localhost'],
    });
    certificateArgs = ['--tls-cert', serving.cert, '--tls-key', serving.key];
  }
  // Port 0: the webhook binds free ports itself and logs them, so no port is chosen and freed first.
  const args = [
    cliPath,
    'serve',
    '--port',
    '0',
    '--metrics-port',
    '0',
    ...certificateArgs,
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
