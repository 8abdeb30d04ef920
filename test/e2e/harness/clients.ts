// The e2e cluster as a test file sees it: cluster-admin API clients, and `useE2E()`, which every
// test file calls once for failure diagnostics (log locations, webhook log tails) and cleanup.
import { randomBytes } from 'node:crypto';
import {
  AdmissionregistrationV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
} from '@kubernetes/client-node';
import { afterAll, beforeEach, inject } from 'vitest';
import type { E2EContext } from './context.js';

export interface Clients {
  ctx: E2EContext;
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  admission: AdmissionregistrationV1Api;
  rbac: RbacAuthorizationV1Api;
  authorization: AuthorizationV1Api;
}

let clients: Clients | undefined;

/** The e2e context and cluster-admin API clients (one set per worker). */
export function cluster(): Clients {
  if (clients) return clients;
  const ctx = inject('e2e');
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(ctx.kubeconfig);
  clients = {
    ctx,
    kubeConfig,
    core: kubeConfig.makeApiClient(CoreV1Api),
    admission: kubeConfig.makeApiClient(AdmissionregistrationV1Api),
    rbac: kubeConfig.makeApiClient(RbacAuthorizationV1Api),
    authorization: kubeConfig.makeApiClient(AuthorizationV1Api),
  };
  return clients;
}

/** A short random suffix that keeps names of objects and files from colliding across tests. */
export function uniqueSuffix(): string {
  return randomBytes(3).toString('hex');
}

// ---------------------------------------------------------------------------------------------
// Diagnostics and cleanup

type DiagnosticSource = () => string;
const diagnosticSources = new Set<DiagnosticSource>();
const cleanups: Array<() => Promise<void>> = [];

/** Adds text (e.g. a webhook's log tail) to what is printed when a test fails. */
export function addDiagnostics(source: DiagnosticSource): () => void {
  diagnosticSources.add(source);
  return () => diagnosticSources.delete(source);
}

/** Registers a cleanup run (last registered first) after all tests of the file. */
export function deferCleanup(cleanup: () => Promise<void>): void {
  cleanups.push(cleanup);
}

export function logLocations(): string {
  const { ctx } = cluster();
  return [
    `kube-apiserver log: ${ctx.logs.apiServer}`,
    `etcd log:           ${ctx.logs.etcd}`,
    `all logs:           ${ctx.logs.dir}`,
  ].join('\n');
}

/**
 * Call once at the top of every e2e test file: prints where the logs are (and webhook log tails)
 * when a test fails, and runs the deferred cleanups (webhooks, configurations) after the file.
 */
export function useE2E(): Clients {
  const c = cluster();
  beforeEach((context) => {
    context.onTestFailed(() => {
      const sections = [logLocations(), ...[...diagnosticSources].map((source) => source())];
      console.error(`\n----- e2e diagnostics for "${context.task.name}" -----\n${sections.join('\n\n')}\n`);
    });
  });
  afterAll(async () => {
    const errors: unknown[] = [];
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup().catch((error: unknown) => errors.push(error));
    }
    if (errors.length > 0) throw new AggregateError(errors, 'e2e cleanup failed');
  });
  return c;
}
