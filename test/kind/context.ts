// What the kind project's global setup hands to its test files through vitest's provide/inject.
// Serializable only: the tests run in a worker, the cluster was made by the main process.
import type {} from 'vitest';

export interface KindContext {
  /** This run's folder: logs of every component, diagnostics of failed tests; kept afterwards. */
  runDir: string;
  /** Admin kubeconfig of the kind cluster. */
  kubeconfig: string;
  /** Environment for docker, kind and kubectl: .kind/env (KUBECONFIG, DOCKER_HOST, PATH, ...). */
  env: Record<string, string>;
  /** The pinned helm binary (hack/build-helm.sh). */
  helm: string;
  /** The webhook image kind.sh built and loaded, e.g. pod-identity-webhook:kind. */
  image: { repository: string; tag: string };
  /** True when the cluster outlives the run (POD_IDENTITY_WEBHOOK_KIND_REUSE=1). */
  reuse: boolean;
}

declare module 'vitest' {
  export interface ProvidedContext {
    kind: KindContext;
  }
}
