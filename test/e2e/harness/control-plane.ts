// etcd + kube-apiserver as child processes of vitest's main process (global-setup owns them).
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { httpsRequest } from './https.js';
import { freePort, freePorts, ManagedProcess } from './processes.js';
import { waitFor } from '../../support/wait.js';
import type { CertificateFiles } from './context.js';

export interface ControlPlaneOptions {
  binDir: string;
  runDir: string;
  logDir: string;
  clusterCa: CertificateFiles;
  apiServerServing: CertificateFiles;
  admin: CertificateFiles;
  serviceAccountKey: { key: string; pub: string };
}

export class ControlPlane {
  etcd: ManagedProcess | undefined;
  apiServer: ManagedProcess | undefined;
  etcdClientPort = 0;
  etcdPeerPort = 0;
  apiServerPort = 0;
  readonly etcdLog: string;
  readonly apiServerLog: string;

  constructor(private readonly options: ControlPlaneOptions) {
    this.etcdLog = join(options.logDir, 'etcd.log');
    this.apiServerLog = join(options.logDir, 'kube-apiserver.log');
  }

  get etcdUrl(): string {
    return `http://127.0.0.1:${this.etcdClientPort}`;
  }

  get apiServerUrl(): string {
    return `https://127.0.0.1:${this.apiServerPort}`;
  }

  get issuer(): string {
    return this.apiServerUrl;
  }

  get jwksUri(): string {
    return `${this.apiServerUrl}/openid/v1/jwks`;
  }

  async start(): Promise<void> {
    await retryOnPortTaken(
      () => this.startEtcd(),
      () => this.etcd,
    );
    await retryOnPortTaken(
      async () => {
        this.apiServerPort = await freePort();
        await this.startApiServer();
      },
      () => this.apiServer,
    );
  }

  /** A new etcd, with an empty data directory. */
  async startEtcd(): Promise<void> {
    [this.etcdClientPort, this.etcdPeerPort] = (await freePorts(2)) as [number, number];
    const peer = `http://127.0.0.1:${this.etcdPeerPort}`;
    const dataDir = join(this.options.runDir, 'etcd-data');
    await rm(dataDir, { recursive: true, force: true });
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const etcd = await ManagedProcess.start({
      name: 'etcd',
      command: join(this.options.binDir, 'etcd'),
      args: [
        '--name=default',
        `--data-dir=${dataDir}`,
        `--listen-client-urls=${this.etcdUrl}`,
        `--advertise-client-urls=${this.etcdUrl}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=default=${peer}`,
        '--unsafe-no-fsync',
      ],
      logFile: this.etcdLog,
    });
    this.etcd = etcd;
    await waitFor(
      'etcd /health',
      async () => {
        const res = await fetch(`${this.etcdUrl}/health`, { signal: AbortSignal.timeout(5_000) });
        const body = (await res.json()) as { health?: string };
        return res.ok && body.health === 'true' ? true : undefined;
      },
      {
        timeoutMs: 30_000,
        abortIf: () => etcd.exitReason(),
        hint: () => `etcd log: ${this.etcdLog}\n${etcd.tail(20)}`,
      },
    );
  }

  async startApiServer(): Promise<void> {
    const o = this.options;
    const apiServer = await ManagedProcess.start({
      name: 'kube-apiserver',
      command: join(o.binDir, 'kube-apiserver'),
      args: [
        `--etcd-servers=${this.etcdUrl}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${this.apiServerPort}`,
        `--tls-cert-file=${o.apiServerServing.cert}`,
        `--tls-private-key-file=${o.apiServerServing.key}`,
        `--cert-dir=${join(o.runDir, 'apiserver-cert-dir')}`,
        `--client-ca-file=${o.clusterCa.cert}`,
        '--authorization-mode=RBAC',
        '--service-cluster-ip-range=10.0.0.0/24',
        '--allow-privileged=true',
        `--service-account-issuer=${this.issuer}`,
        `--service-account-key-file=${o.serviceAccountKey.pub}`,
        `--service-account-signing-key-file=${o.serviceAccountKey.key}`,
        `--service-account-jwks-uri=${this.jwksUri}`,
      ],
      logFile: this.apiServerLog,
    });
    this.apiServer = apiServer;
    await waitFor(
      'kube-apiserver /readyz',
      async () => {
        const res = await httpsRequest({
          url: `${this.apiServerUrl}/readyz`,
          caFile: o.clusterCa.cert,
          clientCert: o.admin,
          timeoutMs: 5_000,
        });
        return res.status === 200 ? true : undefined;
      },
      {
        timeoutMs: 120_000,
        intervalMs: 250,
        abortIf: () => apiServer.exitReason(),
        hint: () => `kube-apiserver log: ${this.apiServerLog}\n${apiServer.tail(20)}`,
      },
    );
  }

  /**
   * SIGTERM, SIGKILL after `graceMs`. kube-apiserver stops listening at once on SIGTERM but then
   * waits for open watches (e.g. the webhook's informer) for up to a minute, so restarts do not
   * wait that out: clients see their connections reset, as after a crash.
   */
  async stopApiServer(graceMs = 5_000): Promise<void> {
    await this.apiServer?.stop(graceMs);
  }

  /** Stops kube-apiserver and starts it again on the same port, against the same etcd. */
  async restartApiServer(): Promise<void> {
    await this.stopApiServer();
    await this.startApiServer();
  }

  async stop(): Promise<void> {
    await this.apiServer?.stop(20_000);
    await this.etcd?.stop(10_000);
  }
}

/**
 * A free port is found by binding port 0 and releasing it, so another process can take it before
 * the child binds it: a start that dies of that is tried again, on new ports, twice at most.
 */
async function retryOnPortTaken(
  start: () => Promise<void>,
  child: () => ManagedProcess | undefined,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await start();
      return;
    } catch (error) {
      const died = child();
      const portTaken = died?.exitReason() !== undefined && died.tail(5).includes('address already in use');
      if (!portTaken || attempt === 3) throw error;
      console.error(
        `[e2e] ${died.exitReason()}: a port was taken before it bound it; starting again on new ports`,
      );
    }
  }
}
