// What the e2e harness (test/e2e/harness/clients.ts) and the kind harness
// (test/kind/harness/cluster.ts) share: API clients made from the cluster's admin kubeconfig once per
// worker, names that do not collide, and the hooks of a test file (diagnostics printed when a test
// fails, cleanups run after the file).
import { randomBytes } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeEach } from 'vitest';

/** A short random suffix that keeps names of objects and files from colliding across tests and runs. */
export function uniqueSuffix(): string {
  return randomBytes(3).toString('hex');
}

/**
 * Returns a function that gives the context global-setup provided, its admin kubeconfig loaded,
 * and the API clients `make` builds from it: made on the first call, the same ones after.
 */
export function clientsOnce<Context extends { kubeconfig: string }, Made>(
  context: () => Context,
  make: (kubeConfig: KubeConfig) => Made,
): () => { ctx: Context; kubeConfig: KubeConfig } & Made {
  let clients: ({ ctx: Context; kubeConfig: KubeConfig } & Made) | undefined;
  return () => {
    if (clients) return clients;
    const ctx = context();
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(ctx.kubeconfig);
    clients = { ctx, kubeConfig, ...make(kubeConfig) };
    return clients;
  };
}

export type DiagnosticSource = () => string;

export interface FileHooks {
  /** Adds text (e.g. a webhook's log tail) to what is printed when a test fails. */
  addDiagnostics(source: DiagnosticSource): () => void;
  /** Registers a cleanup run (last registered first) after all tests of the file. */
  deferCleanup(cleanup: () => Promise<void>): void;
  /** The added diagnostics' texts, as they read now. */
  diagnostics(): string[];
  /**
   * Registers the file's hooks: `onFailed` with the name of each test that fails, and after the
   * file every deferred cleanup; those that failed are thrown together as "`label` cleanup failed".
   */
  register(onFailed: (testName: string) => void | Promise<void>): void;
}

/** The diagnostics and cleanups of a test file (module state: one test file per module graph). */
export function fileHooks(label: string): FileHooks {
  const sources = new Set<DiagnosticSource>();
  const cleanups: Array<() => Promise<void>> = [];
  return {
    addDiagnostics(source) {
      sources.add(source);
      return () => sources.delete(source);
    },
    deferCleanup(cleanup) {
      cleanups.push(cleanup);
    },
    diagnostics: () => [...sources].map((source) => source()),
    register(onFailed) {
      beforeEach((context) => {
        context.onTestFailed(() => onFailed(context.task.name));
      });
      afterAll(async () => {
        const errors: unknown[] = [];
        for (const cleanup of cleanups.splice(0).reverse()) {
          await cleanup().catch((error: unknown) => errors.push(error));
        }
        if (errors.length > 0) throw new AggregateError(errors, `${label} cleanup failed`);
      });
    },
  };
}
