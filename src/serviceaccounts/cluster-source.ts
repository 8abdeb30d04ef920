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
import { relevantAnnotations } from '../identity/rules.js';
import { InformerSupervisor } from './informer-supervisor.js';
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
  private readonly supervisor: InformerSupervisor;

  constructor(options: ClusterSourceOptions) {
    const { kubeConfig, annotationPrefix } = options;
    this.api = kubeConfig.makeApiClient(CoreV1Api);
    const trim = (account: V1ServiceAccount) => trimServiceAccount(annotationPrefix, account);
    this.informer = new ListWatch(PATH, new TrimmingWatch(kubeConfig, trim), () => this.listAll(trim), false);
    this.supervisor = new InformerSupervisor(this.informer, options.log, 'ServiceAccount');
    this.lookup = createLookup({
      cached: (namespace, name) => this.informer.get(name, namespace),
      fetch: (namespace, name, signal) => this.read(namespace, name, signal),
      gracePeriodMs: options.gracePeriodMs,
      onMiss: options.onMiss,
      onLiveLookup: options.onLiveLookup,
    });
  }

  /** True once the first full list has been loaded into the cache. */
  get synced(): boolean {
    return this.supervisor.synced;
  }

  /** Why the last list or watch failed, in one line; cleared when a list succeeds. */
  get lastError(): string | undefined {
    return this.supervisor.lastError;
  }

  /** Lists and starts watching; resolves when the first list is cached or failed (then retried). */
  start(): Promise<void> {
    return this.supervisor.start();
  }

  stop(): Promise<void> {
    return this.supervisor.stop();
  }

  get(namespace: string, name: string): Promise<V1ServiceAccount | undefined> {
    return this.lookup(namespace, name);
  }

  size(): number {
    return this.informer.list().length;
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
