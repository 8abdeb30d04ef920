// The e2e cluster as a test file sees it: cluster-admin API clients, and `useE2E()`, which every
// test file calls once for failure diagnostics (log locations, webhook log tails) and cleanup.
import {
  AdmissionregistrationV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
} from '@kubernetes/client-node';
import { inject } from 'vitest';
import type { E2EContext } from './context.js';
import { clientsOnce, fileHooks } from '../../support/cluster-harness.js';

export { uniqueSuffix } from '../../support/cluster-harness.js';

export interface Clients {
  ctx: E2EContext;
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  admission: AdmissionregistrationV1Api;
  rbac: RbacAuthorizationV1Api;
  authorization: AuthorizationV1Api;
}

/** The e2e context and cluster-admin API clients (one set per worker). */
export const cluster: () => Clients = clientsOnce(
  () => inject('e2e'),
  (kubeConfig) => ({
    core: kubeConfig.makeApiClient(CoreV1Api),
    admission: kubeConfig.makeApiClient(AdmissionregistrationV1Api),
    rbac: kubeConfig.makeApiClient(RbacAuthorizationV1Api),
    authorization: kubeConfig.makeApiClient(AuthorizationV1Api),
  }),
);

// ---------------------------------------------------------------------------------------------
// Diagnostics and cleanup

const hooks = fileHooks('e2e');
export const { addDiagnostics, deferCleanup } = hooks;

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
  hooks.register((testName) => {
    const sections = [logLocations(), ...hooks.diagnostics()];
    console.error(`\n----- e2e diagnostics for "${testName}" -----\n${sections.join('\n\n')}\n`);
  });
  return c;
}
