// `--watch-config-map`: the ServiceAccount-to-role mapping from the ConfigMap `pod-identity-webhook`
// in `--namespace`, kept current by a list/watch of that one object (fieldSelector metadata.name,
// so RBAC can pin it with resourceNames). A ConfigMap that cannot be read keeps the last good
// mapping and is reported; deleting the ConfigMap removes its entries. Restarts with backoff as the
// ServiceAccount informer does.
import { CoreV1Api, type KubeConfig, ListWatch, Watch, type V1ConfigMap } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { InformerSupervisor } from './informer-supervisor.js';
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

export class ConfigMapRoleSource implements Pick<RoleMapping, 'get'> {
  private readonly informer: ListWatch<V1ConfigMap>;
  private readonly log: Logger;
  private readonly origin: string;
  private mapping: RoleMapping = EMPTY_ROLE_MAPPING;
  private readonly supervisor: InformerSupervisor;
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
    this.supervisor = new InformerSupervisor(this.informer, this.log, this.origin, (firstTime) => {
      if (firstTime && this.informer.list().length === 0) {
        this.log.info(`${this.origin} not found; no ServiceAccount is mapped until it is created`);
      }
    });
  }

  /** True once the first list has been read (with or without the ConfigMap). */
  get synced(): boolean {
    return this.supervisor.synced;
  }

  /** Why the last list or watch failed; cleared when a list succeeds. */
  get lastError(): string | undefined {
    return this.supervisor.lastError;
  }

  get(namespace: string, name: string): MappedIdentity | undefined {
    return this.mapping.get(namespace, name);
  }

  size(): number {
    return this.mapping.size;
  }

  start(): Promise<void> {
    return this.supervisor.start();
  }

  stop(): Promise<void> {
    return this.supervisor.stop();
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
}
