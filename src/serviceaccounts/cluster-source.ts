// ServiceAccounts from the cluster: a cluster-wide list/watch whose cache keeps, per ServiceAccount,
// only the annotations this webhook reads (namespace/name → annotations, one shared empty object
// for the many without any), plus a live GET on a cache miss.
import type { V1ServiceAccount } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { type KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { KubeClient, KubernetesError } from '../cluster.js';
import { relevantAnnotations, type Annotations } from '../identity/rules.js';
import { InformerSupervisor } from './informer-supervisor.js';
import { ListWatch } from './list-watch.js';
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
const NONE: Annotations = Object.freeze({});

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

interface Entry {
  key: string;
  annotations: Annotations;
}

export class ClusterServiceAccountSource implements ServiceAccountSource {
  private readonly client: KubeClient;
  private cache = new Map<string, Annotations>();
  private readonly lookup: Lookup;
  private readonly supervisor: InformerSupervisor;

  constructor(private readonly options: ClusterSourceOptions) {
    this.client = new KubeClient(options.kubeConfig);
    const informer = new ListWatch<V1ServiceAccount, Entry>({
      client: this.client,
      path: PATH,
      keep: (account) => this.entry(account),
      onList: (entries) => {
        this.cache = new Map(entries.map(({ key, annotations }) => [key, annotations]));
      },
      onEvent: (type, { key, annotations }) => {
        if (type === 'DELETED') this.cache.delete(key);
        else this.cache.set(key, annotations);
      },
    });
    this.supervisor = new InformerSupervisor(informer, options.log, 'ServiceAccount');
    this.lookup = createLookup({
      cached: (namespace, name) => {
        const annotations = this.cache.get(`${namespace}/${name}`);
        return annotations && { metadata: { name, namespace, annotations } };
      },
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

  async stop(): Promise<void> {
    await this.supervisor.stop();
    this.client.close();
  }

  get(namespace: string, name: string): Promise<V1ServiceAccount | undefined> {
    return this.lookup(namespace, name);
  }

  size(): number {
    return this.cache.size;
  }

  private entry(account: V1ServiceAccount): Entry {
    const annotations = relevantAnnotations(this.options.annotationPrefix, account.metadata?.annotations);
    return {
      key: `${account.metadata?.namespace}/${account.metadata?.name}`,
      annotations: Object.keys(annotations).length === 0 ? NONE : annotations,
    };
  }

  private async read(
    namespace: string,
    name: string,
    signal: AbortSignal,
  ): Promise<V1ServiceAccount | undefined> {
    const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/serviceaccounts/${encodeURIComponent(name)}`;
    try {
      const account = await this.client.json<V1ServiceAccount>('GET', path, { signal });
      return trimServiceAccount(this.options.annotationPrefix, account);
    } catch (error) {
      if (error instanceof KubernetesError && error.code === 404) return undefined;
      throw error;
    }
  }
}
