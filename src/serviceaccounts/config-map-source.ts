// `--watch-config-map`: the ServiceAccount-to-role mapping from the ConfigMap `pod-identity-webhook`
// in `--namespace`, kept current by a list/watch of that one object (fieldSelector metadata.name,
// so RBAC can pin it with resourceNames). A ConfigMap that cannot be read keeps the last good
// mapping and is reported; deleting the ConfigMap removes its entries. Restarts with backoff as the
// ServiceAccount informer does.
import { CoreV1Api, type KubeConfig, ListWatch, Watch, type V1ConfigMap } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { describeFailure } from '../cluster.js';
import {
  CONFIG_MAP_NAME,
  EMPTY_ROLE_MAPPING,
  type MappedIdentity,
  type RoleMapping,
  roleMappingFromConfigMap,
} from '../identity/role-mapping.js';
import type { Manifest } from '../manifests.js';

export interface ConfigMapSourceOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  log: Logger;
  /** A ConfigMap version could not be read: the last good mapping stays. */
  onError?(reason: string): void;
  /** The number of entries in use, after every change. */
  onEntries?(count: number): void;
}

const MAX_BACKOFF_MS = 30_000;

export class ConfigMapRoleSource implements Pick<RoleMapping, 'get'> {
  private readonly informer: ListWatch<V1ConfigMap>;
  private readonly log: Logger;
  private readonly origin: string;
  private mapping: RoleMapping = EMPTY_ROLE_MAPPING;
  private backoffMs = 1000;
  private failures = 0;
  private stopped = false;
  private restartTimer: NodeJS.Timeout | undefined;
  /** True once the first list has been read (with or without the ConfigMap). */
  synced = false;
  /** Why the last list or watch failed; cleared when a list succeeds. */
  lastError: string | undefined;
  /** Why the ConfigMap in the cluster is not the one in use, or undefined when it is. */
  lastInvalid: string | undefined;

  constructor(private readonly options: ConfigMapSourceOptions) {
    const { kubeConfig, namespace } = options;
    this.log = options.log;
    this.origin = `ConfigMap ${namespace}/${CONFIG_MAP_NAME}`;
    const api = kubeConfig.makeApiClient(CoreV1Api);
    const fieldSelector = `metadata.name=${CONFIG_MAP_NAME}`;
    this.informer = new ListWatch<V1ConfigMap>(
      `/api/v1/namespaces/${namespace}/configmaps`,
      new Watch(kubeConfig),
      () => api.listNamespacedConfigMap({ namespace, fieldSelector }),
      false,
      undefined,
      fieldSelector,
    );
    this.informer.on('add', (configMap) => this.apply(configMap));
    this.informer.on('update', (configMap) => this.apply(configMap));
    this.informer.on('delete', () => this.use(EMPTY_ROLE_MAPPING, 'deleted; no ServiceAccount is mapped'));
    this.informer.on('error', (error: unknown) => this.onWatchError(error));
  }

  get(namespace: string, name: string): MappedIdentity | undefined {
    return this.mapping.get(namespace, name);
  }

  size(): number {
    return this.mapping.size;
  }

  async start(): Promise<void> {
    this.stopped = false;
    const failuresBefore = this.failures;
    try {
      await this.informer.start();
    } catch (error) {
      this.onWatchError(error);
    }
    if (this.failures === failuresBefore && !this.stopped) {
      if (!this.synced && this.informer.list().length === 0) {
        this.log.info(`${this.origin} not found; no ServiceAccount is mapped until it is created`);
      }
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

  private apply(configMap: V1ConfigMap): void {
    if (configMap.metadata?.name !== CONFIG_MAP_NAME) return;
    let mapping: RoleMapping;
    try {
      mapping = roleMappingFromConfigMap(configMap as Manifest, this.origin);
    } catch (error) {
      this.lastInvalid = (error as Error).message;
      this.options.onError?.(this.lastInvalid);
      this.log.warn(
        {
          reason: this.lastInvalid,
          resourceVersion: configMap.metadata.resourceVersion,
          entries: this.mapping.size,
        },
        `${this.origin} not used; keeping the last good mapping (${this.mapping.size} entries)`,
      );
      return;
    }
    this.use(mapping, `loaded (resourceVersion ${configMap.metadata.resourceVersion ?? 'unknown'})`);
  }

  private use(mapping: RoleMapping, what: string): void {
    this.mapping = mapping;
    this.lastInvalid = undefined;
    this.options.onEntries?.(mapping.size);
    this.log.info({ entries: mapping.size }, `${this.origin} ${what}`);
  }

  private onWatchError(error: unknown): void {
    this.failures += 1;
    if (this.stopped) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
    this.lastError = describeFailure(error);
    this.log.warn(
      { reason: this.lastError, retryInMs: delay },
      `${this.origin} list/watch failed; retrying in ${delay}ms`,
    );
    this.log.debug({ err: error }, `${this.origin} list/watch failure`);
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => void this.start(), delay);
  }
}
