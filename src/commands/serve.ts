// `serve`: the HTTPS webhook, its metrics port, certificate reload and graceful shutdown.
import type { Server as HttpsServer } from 'node:https';
import { Server as NetServer, type AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import type { LevelWithSilent, Logger } from 'pino';
import type { MutationOptions } from '../identity/options.js';
import { createLogger } from '../log.js';
import {
  ContainerCredentialsConfig,
  watchContainerCredentials,
} from '../serviceaccounts/container-credentials-source.js';
import type { ServiceAccountSource } from '../serviceaccounts/source.js';
import { buildApp } from '../server/app.js';
import { createMetrics, serveMetrics, type Metrics } from '../server/metrics.js';
import { loadKeyPair, TLS_VERSIONS, watchKeyPair, type KeyPair } from '../server/tls.js';
import type { BuiltinCertificateFlags } from '../certificates/builtin.js';

export interface ServeFlags {
  port: number;
  metricsPort: number;
  tlsCert: string;
  tlsKey: string;
  tlsMinVersion: string;
  /** OpenSSL cipher list for TLS 1.2 (from --tls-cipher-suites); Node's defaults when absent. */
  tlsCiphers?: string;
  kubeconfig?: string;
  serviceAccounts?: string;
  serviceAccountLookupGracePeriod: number;
  /** Milliseconds between SIGTERM (readiness off) and closing the listener. */
  shutdownDelay: number;
  logLevel: LevelWithSilent;
  /** `files` (default): --tls-cert and --tls-key, reloaded on change. `builtin`: the webhook is its own CA. */
  certificates?: 'files' | 'builtin';
  builtin?: Omit<BuiltinCertificateFlags, 'kubeconfig'>;
  /** `--watch-container-credentials-config`: the EKS Pod Identity ServiceAccounts, reloaded on change. */
  containerCredentialsConfig?: string;
  /** `--watch-config-map`: the namespace of the ConfigMap pod-identity-webhook; unset: off. */
  configMapNamespace?: string;
}

export const SHUTDOWN_TIMEOUT_MS = 10_000;

export interface RunningServer {
  port: number;
  metricsPort: number;
  /** Stops being ready, finishes requests in flight and closes everything. */
  shutdown(): Promise<void>;
}

export interface ServeDependencies {
  log?: Logger;
  /** Replaces the file or cluster source: lets tests hold a lookup open. */
  source?: ServiceAccountSource;
}

export async function serve(
  flags: ServeFlags,
  options: MutationOptions,
  deps: ServeDependencies = {},
): Promise<RunningServer> {
  const log = deps.log ?? createLogger(flags.logLevel);
  // First: a container-credentials file that cannot be read fails startup before anything listens.
  const containerCredentials = await startContainerCredentials(flags, log);
  const minVersion = TLS_VERSIONS[flags.tlsMinVersion]!;
  const ciphers = flags.tlsCiphers === undefined ? {} : { ciphers: flags.tlsCiphers };
  // Set once the app exists; a pair that arrives before is in `keyPair` when the app is built.
  const served: { app?: FastifyInstance } = {};
  const certificates = await servingCertificates(flags, log, (pair) => {
    if (pair.cert === keyPair.cert && pair.key === keyPair.key) return;
    keyPair = pair;
    (served.app?.server as HttpsServer | undefined)?.setSecureContext({
      cert: pair.cert,
      key: pair.key,
      minVersion,
      ...ciphers,
    });
    metrics.certificateExpiry.set(pair.notAfter.getTime() / 1000);
    log.info({ notAfter: pair.notAfter.toISOString() }, 'serving certificate reloaded');
  });
  let keyPair = certificates.first;
  // The cache-size gauge reads the source at scrape time; the source reports lookups to the metrics.
  const metrics = createMetrics({ size: () => source.size(), synced: () => notSynced() === undefined });
  const { source, notSynced, stopSource } = deps.source
    ? { source: deps.source, notSynced: () => undefined, stopSource: async () => {} }
    : await createSource(flags, options, log, metrics);
  metrics.certificateExpiry.set(keyPair.notAfter.getTime() / 1000);
  const roleMapping = await startRoleMapping(flags, log, metrics);
  let shuttingDown = false;

  const app = (served.app = buildApp({
    https: { cert: keyPair.cert, key: keyPair.key, minVersion, ...ciphers },
    source,
    options,
    ...(roleMapping && { roleMapping: roleMapping.source }),
    ...(containerCredentials && { containerCredentials: containerCredentials.config }),
    log,
    metrics,
    notReadyReasons: () => {
      const reasons = [
        shuttingDown ? 'shutting down' : undefined,
        notSynced(),
        roleMapping?.notSynced(),
        certificates.notReady?.(),
      ];
      return reasons.filter((reason) => reason !== undefined);
    },
  }));
  await listenOnAllAddresses(app, flags.port);
  const metricsServer = await serveMetrics(metrics.registry, flags.metricsPort);
  const port = (app.server.address() as AddressInfo).port;
  const metricsPort = (metricsServer.address() as AddressInfo).port;
  log.info({ port, metricsPort, options }, 'pod-identity-webhook serving');

  return {
    port,
    metricsPort,
    async shutdown() {
      shuttingDown = true;
      // Keep answering while /readyz fails, so the endpoints drop this Pod before it stops listening.
      await delay(flags.shutdownDelay);
      certificates.stop();
      containerCredentials?.stop();
      const drained = drainConnections(app.server as HttpsServer);
      // Connections that never sent a byte or never finished their TLS handshake are not the HTTP
      // server's yet: app.close() drops them.
      await Promise.race([drained, delay(2 * DRAIN_IDLE_MS)]);
      await app.close();
      await drained;
      await Promise.all([
        new Promise((resolve) => metricsServer.close(resolve)),
        stopSource(),
        roleMapping?.source.stop(),
      ]);
    },
  };
}

/** How long a connection may stay idle during shutdown before it is closed under its client. */
export const DRAIN_IDLE_MS = 1000;
const DRAIN_POLL_MS = 100;

/**
 * Stops taking connections and lets each open one end cleanly; resolves once all have ended. Every
 * answer from now on says `Connection: close`, so a client learns from the answer itself to send
 * nothing more on that connection. Not server.close() at once: it also closes the connections that
 * look idle, among them those whose next request is already on its way, which their clients see
 * reset; nor fastify's close, which answers such requests 503. After DRAIN_IDLE_MS, connections
 * found idle are closed: their clients have sent nothing for that long.
 */
function drainConnections(server: HttpsServer): Promise<void> {
  server.prependListener('request', (_request, response) => response.setHeader('connection', 'close'));
  let drained = false;
  const closed = new Promise<void>((resolve) =>
    NetServer.prototype.close.call(server, () => {
      drained = true;
      resolve();
    }),
  );
  void (async () => {
    await Promise.race([closed, delay(DRAIN_IDLE_MS)]);
    while (!drained) {
      server.closeIdleConnections();
      await Promise.race([closed, delay(DRAIN_POLL_MS)]);
    }
  })();
  return closed;
}

/** The first serving pair, and every later one through `onChange`, from files or the built-in CA. */
async function servingCertificates(
  flags: ServeFlags,
  log: Logger,
  onChange: (pair: KeyPair) => void,
): Promise<{ first: KeyPair; notReady?: () => string | undefined; stop: () => void }> {
  if (flags.certificates === 'builtin') {
    // Loaded only here, like the cluster source: an X.509 library and client-node's KubeConfig.
    const { startBuiltinCertificates } = await import('../certificates/builtin.js');
    return startBuiltinCertificates({ ...flags.builtin!, kubeconfig: flags.kubeconfig }, log, onChange);
  }
  const first = await loadKeyPair(flags.tlsCert, flags.tlsKey);
  const stop = watchKeyPair(flags.tlsCert, flags.tlsKey, onChange, (error) =>
    log.error({ err: error }, 'serving certificate not reloaded; keeping the previous one'),
  );
  return { first, stop };
}

async function createSource(
  flags: ServeFlags,
  options: MutationOptions,
  log: Logger,
  metrics: Metrics,
): Promise<{
  source: ServiceAccountSource;
  /** Why the source cannot answer yet, or undefined when it can. */
  notSynced: () => string | undefined;
  stopSource: () => Promise<void>;
}> {
  if (flags.serviceAccounts) {
    // Loaded only here: a file source brings the YAML parser, which a cluster source never needs.
    const { FileServiceAccountSource } = await import('../serviceaccounts/file-source.js');
    const source = await FileServiceAccountSource.fromFile(flags.serviceAccounts);
    log.info(
      { file: flags.serviceAccounts, serviceAccounts: source.size() },
      'ServiceAccounts loaded from file',
    );
    return { source, notSynced: () => undefined, stopSource: async () => {} };
  }
  // Loaded only here: client-node's KubeConfig and what it brings (a YAML parser, proxy agents)
  // cost ~10 MB and tens of ms, which local runs from a file and the `mutate` command need not pay.
  const [{ ClusterServiceAccountSource }, { loadKubeConfig }] = await Promise.all([
    import('../serviceaccounts/cluster-source.js'),
    import('../cluster.js'),
  ]);
  const source = new ClusterServiceAccountSource({
    kubeConfig: loadKubeConfig(flags.kubeconfig),
    annotationPrefix: options.annotationPrefix,
    gracePeriodMs: flags.serviceAccountLookupGracePeriod,
    log,
    onMiss: () => metrics.cacheMisses.inc(),
    onLiveLookup: (result) => metrics.liveLookups.inc({ result }),
  });
  void source.start().then(() => {
    if (source.synced) log.info({ serviceAccounts: source.size() }, 'ServiceAccount cache synced');
  });
  return {
    source,
    notSynced: () =>
      source.synced
        ? undefined
        : `ServiceAccount cache not synced${source.lastError ? `: ${source.lastError}` : ''}`,
    stopSource: () => source.stop(),
  };
}

/** `--watch-config-map`: the ConfigMap's role mapping, watched; undefined when off. */
async function startRoleMapping(flags: ServeFlags, log: Logger, metrics: Metrics) {
  if (flags.configMapNamespace === undefined) return undefined;
  // Loaded only here, like the cluster source.
  const [{ ConfigMapRoleSource }, { loadKubeConfig }] = await Promise.all([
    import('../serviceaccounts/config-map-source.js'),
    import('../cluster.js'),
  ]);
  const source = new ConfigMapRoleSource({
    kubeConfig: loadKubeConfig(flags.kubeconfig),
    namespace: flags.configMapNamespace,
    log,
    onError: () => metrics.configMapErrors.inc(),
    onEntries: (count) => metrics.configMapEntries.set(count),
  });
  void source.start();
  const notSynced = (): string | undefined =>
    source.synced
      ? undefined
      : `ConfigMap ${flags.configMapNamespace}/pod-identity-webhook not synced${source.lastError ? `: ${source.lastError}` : ''}`;
  return { source, notSynced };
}

/** `--watch-container-credentials-config`: read now (a bad file fails startup), then watched. */
async function startContainerCredentials(flags: ServeFlags, log: Logger) {
  const file = flags.containerCredentialsConfig;
  if (file === undefined || file === '') return undefined;
  const config = await ContainerCredentialsConfig.fromFile(file);
  log.info({ file, identities: config.size }, 'container credentials config loaded');
  const stop = watchContainerCredentials(file, config, {
    onReload: (identities) => log.info({ file, identities }, 'container credentials config reloaded'),
    onError: (error) =>
      log.error({ err: error }, 'container credentials config not reloaded; keeping the previous one'),
  });
  return { config, stop };
}

/** IPv6 and IPv4 (pods in IPv6 clusters have only IPv6 addresses); IPv4 alone where IPv6 is off. */
async function listenOnAllAddresses(app: FastifyInstance, port: number): Promise<void> {
  try {
    try {
      await app.listen({ port, host: '::' });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL') throw error;
      await app.listen({ port, host: '0.0.0.0' });
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EACCES' && port > 0 && port < 1024) {
      throw new Error(privilegedPortMessage(port), { cause: error });
    }
    throw error;
  }
}

/**
 * Binding a port below 1024 as a non-root user needs `net.ipv4.ip_unprivileged_port_start` at or
 * below it in the Pod's network namespace: Docker (20.10+) and containerd 2.x set it to 0 for every
 * container, containerd 1.x and CRI-O do not.
 */
export function privilegedPortMessage(port: number): string {
  return (
    `cannot listen on port ${port} as user ${process.getuid?.() ?? 'unknown'}: ports below 1024 need root or ` +
    `net.ipv4.ip_unprivileged_port_start=0, which Docker and containerd 2.x set for containers but ` +
    `containerd 1.x and CRI-O do not; add the sysctl to the Pod (securityContext.sysctls: ` +
    `[{name: net.ipv4.ip_unprivileged_port_start, value: "0"}]), or pass --port 8443 and point the ` +
    `Service's targetPort at it`
  );
}

/**
 * Runs `serve` until SIGTERM or SIGINT, then exits within SHUTDOWN_TIMEOUT_MS. `warnings` are what
 * the command line asked for but got otherwise (a raised value, an ignored Go flag).
 */
export async function serveUntilSignalled(
  flags: ServeFlags,
  options: MutationOptions,
  warnings: readonly string[],
): Promise<void> {
  const log = createLogger(flags.logLevel);
  const server = await serve(flags, options, { log });
  for (const warning of warnings) log.warn(warning);
  const stop = (signal: NodeJS.Signals): void => {
    log.info({ signal }, 'shutting down: no longer ready, finishing requests in flight');
    setTimeout(() => {
      log.error(`requests still in flight after ${SHUTDOWN_TIMEOUT_MS}ms; exiting anyway`);
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS).unref();
    server.shutdown().then(
      () => {
        log.info('shut down');
        process.exit(0);
      },
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
