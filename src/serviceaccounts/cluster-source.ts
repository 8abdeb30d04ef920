// ServiceAccounts from the cluster: a cluster-wide list/watch whose cache keeps, per ServiceAccount,
// only the annotations this webhook reads, plus a live GET on a cache miss. At 100,000
// ServiceAccounts every byte per entry is 100 kB: namespace → name → the role ARN alone when that
// is the one annotation kept (the usual case), else the annotations (one shared empty object for
// the many without any).
import type { V1ServiceAccount } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { type KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { KubeClient, KubernetesError } from '../cluster.js';
import { relevantAnnotations, type Annotations } from '../identity/rules.js';
import { ANNOTATION } from '../vocabulary.js';
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

/** What a live lookup keeps of the ServiceAccount it read: only what the rules look at. */
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

/** What the cache holds of one ServiceAccount: its role ARN, or its relevant annotations. */
type Kept = string | Annotations;

/** namespace → name → Kept. */
class ServiceAccountCache {
  private readonly namespaces = new Map<string, Map<string, Kept>>();
  size = 0;

  constructor(
    private readonly annotationPrefix: string,
    private readonly roleArnKey: string,
  ) {}

  get(namespace: string, name: string): V1ServiceAccount | undefined {
    const kept = this.namespaces.get(namespace)?.get(name);
    if (kept === undefined) return undefined;
    const annotations = typeof kept === 'string' ? { [this.roleArnKey]: kept } : kept;
    return { metadata: { name, namespace, annotations } };
  }

  put(account: V1ServiceAccount): void {
    const { namespace = '', name = '' } = account.metadata ?? {};
    const annotations = relevantAnnotations(this.annotationPrefix, account.metadata?.annotations);
    const keys = Object.keys(annotations);
    const roleArnOnly = keys.length === 1 && keys[0] === this.roleArnKey;
    const kept = keys.length === 0 ? NONE : roleArnOnly ? annotations[this.roleArnKey]! : annotations;
    let names = this.namespaces.get(namespace);
    if (names === undefined) this.namespaces.set(namespace, (names = new Map()));
    if (!names.has(name)) this.size += 1;
    names.set(name, kept);
  }

  remove(account: V1ServiceAccount): void {
    const { namespace = '', name = '' } = account.metadata ?? {};
    const names = this.namespaces.get(namespace);
    if (!names?.delete(name)) return;
    this.size -= 1;
    if (names.size === 0) this.namespaces.delete(namespace);
  }
}

export class ClusterServiceAccountSource implements ServiceAccountSource {
  private readonly client: KubeClient;
  private cache: ServiceAccountCache;
  private readonly lookup: Lookup;
  private readonly supervisor: InformerSupervisor;

  constructor(private readonly options: ClusterSourceOptions) {
    this.client = new KubeClient(options.kubeConfig);
    const roleArnKey = `${options.annotationPrefix}/${ANNOTATION.roleArn}`;
    const newCache = () => new ServiceAccountCache(options.annotationPrefix, roleArnKey);
    this.cache = newCache();
    const informer = new ListWatch<V1ServiceAccount>({
      client: this.client,
      path: PATH,
      // A list fills a cache of its own, which replaces the one in use once all of it has arrived.
      list: () => {
        const next = newCache();
        return { add: (account) => next.put(account), done: () => (this.cache = next) };
      },
      onEvent: (type, account) => (type === 'DELETED' ? this.cache.remove(account) : this.cache.put(account)),
    });
    this.supervisor = new InformerSupervisor(informer, options.log, 'ServiceAccount');
    this.lookup = createLookup({
      cached: (namespace, name) => this.cache.get(namespace, name),
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
