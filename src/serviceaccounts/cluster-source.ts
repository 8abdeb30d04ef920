// ServiceAccounts from the cluster: a cluster-wide informer whose cache keeps only name, namespace,
// resourceVersion and the annotations this webhook reads, plus a live GET on a cache miss.
import {
  ApiException,
  CoreV1Api,
  type KubeConfig,
  ListWatch,
  Observable,
  Watch,
  type RequestContext,
  type ResponseContext,
  type V1ServiceAccount,
  type V1ServiceAccountList,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { describeFailure } from '../cluster.js';
import { relevantAnnotations } from '../identity/rules.js';
import { createLookup, type Lookup } from './lookup.js';
import type { ServiceAccountSource } from './source.js';

export interface ClusterSourceOptions {
  kubeConfig: KubeConfig;
  annotationPrefix: string;
  gracePeriodMs: number;
  log: Logger;
  onMiss?(): void;
  onLiveLookup?(result: 'found' | 'not_found' | 'error' | 'timeout'): void;
}

const PATH = '/api/v1/serviceaccounts';
const PAGE_SIZE = 500;
const MAX_BACKOFF_MS = 30_000;

/** What the cache keeps of a ServiceAccount: its memory follows the count, not the objects' size. */
export function trimServiceAccount(annotationPrefix: string, account: V1ServiceAccount): V1ServiceAccount {
  return {
    metadata: {
      name: account.metadata?.name,
      namespace: account.metadata?.namespace,
      resourceVersion: account.metadata?.resourceVersion,
      annotations: relevantAnnotations(annotationPrefix, account.metadata?.annotations),
    },
  };
}

/** Passes watch events through `trim` before ListWatch stores them. */
class TrimmingWatch extends Watch {
  constructor(
    kubeConfig: KubeConfig,
    private readonly trim: (account: V1ServiceAccount) => V1ServiceAccount,
  ) {
    super(kubeConfig);
  }

  override watch(...[path, params, callback, done]: Parameters<Watch['watch']>): ReturnType<Watch['watch']> {
    return super.watch(
      path,
      params,
      (phase, object: V1ServiceAccount, watchObject) =>
        callback(phase, phase === 'ERROR' || phase === 'BOOKMARK' ? object : this.trim(object), watchObject),
      done,
    );
  }
}

export class ClusterServiceAccountSource implements ServiceAccountSource {
  private readonly api: CoreV1Api;
  private readonly informer: ListWatch<V1ServiceAccount>;
  private readonly lookup: Lookup;
  private readonly log: Logger;
  private backoffMs = 1000;
  private failures = 0;
  private stopped = false;
  private restartTimer: NodeJS.Timeout | undefined;
  /** True once the first full list has been loaded into the cache. */
  synced = false;
  /** Why the last list or watch failed, in one line; cleared when a list succeeds. */
  lastError: string | undefined;

  constructor(options: ClusterSourceOptions) {
    const { kubeConfig, annotationPrefix } = options;
    this.log = options.log;
    this.api = kubeConfig.makeApiClient(CoreV1Api);
    const trim = (account: V1ServiceAccount) => trimServiceAccount(annotationPrefix, account);
    this.informer = new ListWatch(PATH, new TrimmingWatch(kubeConfig, trim), () => this.listAll(trim), false);
    this.informer.on('error', (error: unknown) => this.onWatchError(error));
    this.lookup = createLookup({
      cached: (namespace, name) => this.informer.get(name, namespace),
      fetch: (namespace, name, signal) => this.read(namespace, name, signal),
      gracePeriodMs: options.gracePeriodMs,
      onMiss: options.onMiss,
      onLiveLookup: options.onLiveLookup,
    });
  }

  /** Lists and starts watching; resolves when the first list is cached or failed (then retried). */
  async start(): Promise<void> {
    this.stopped = false;
    const failuresBefore = this.failures;
    try {
      await this.informer.start();
    } catch (error) {
      // Reported like a watch failure, so it is retried rather than left as an unhandled rejection.
      this.onWatchError(error);
    }
    if (this.failures === failuresBefore && !this.stopped) {
      this.synced = true;
      this.lastError = undefined;
      this.backoffMs = 1000;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    await this.informer.stop();
  }

  get(namespace: string, name: string): Promise<V1ServiceAccount | undefined> {
    return this.lookup(namespace, name);
  }

  size(): number {
    return this.informer.list().length;
  }

  /** client-node's informer stops on an error and says so only through this event: restart it. */
  private onWatchError(error: unknown): void {
    this.failures += 1;
    if (this.stopped) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
    this.lastError = describeFailure(error);
    this.log.warn(
      { reason: this.lastError, retryInMs: delay },
      `ServiceAccount list/watch failed; retrying in ${delay}ms`,
    );
    // The full error, stack included, for whoever debugs the client itself.
    this.log.debug({ err: error }, 'ServiceAccount list/watch failure');
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => void this.start(), delay);
  }

  private async listAll(
    trim: (account: V1ServiceAccount) => V1ServiceAccount,
  ): Promise<V1ServiceAccountList> {
    const items: V1ServiceAccount[] = [];
    let page: V1ServiceAccountList | undefined;
    let resourceVersion: string | undefined;
    do {
      page = await this.api.listServiceAccountForAllNamespaces({
        limit: PAGE_SIZE,
        _continue: page?.metadata?._continue,
      });
      resourceVersion ??= page.metadata?.resourceVersion;
      items.push(...page.items.map(trim));
    } while (page.metadata?._continue);
    return { items, metadata: { resourceVersion } };
  }

  private async read(
    namespace: string,
    name: string,
    signal: AbortSignal,
  ): Promise<V1ServiceAccount | undefined> {
    const abortable = {
      middleware: [
        {
          pre: (context: RequestContext) => {
            context.setSignal(signal);
            return new Observable(Promise.resolve(context));
          },
          post: (context: ResponseContext) => new Observable(Promise.resolve(context)),
        },
      ],
      middlewareMergeStrategy: 'append' as const,
    };
    try {
      return await this.api.readNamespacedServiceAccount({ name, namespace }, abortable);
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return undefined;
      throw error;
    }
  }
}
