// `--watch-config-map`: the ServiceAccount-to-role mapping from the ConfigMap `pod-identity-webhook`
// in `--namespace`, kept current by a list/watch of that one object (fieldSelector metadata.name,
// so RBAC can pin it with resourceNames). A ConfigMap that cannot be read keeps the last good
// mapping and is reported; deleting the ConfigMap removes its entries. Restarts with backoff as the
// ServiceAccount informer does.
import type { V1ConfigMap } from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { Logger } from 'pino';
import { KubeClient } from '../cluster.js';
import { InformerSupervisor } from './informer-supervisor.js';
import { ListWatch } from './list-watch.js';
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
  private readonly client: KubeClient;
  private readonly log: Logger;
  /** The resourceVersion of the ConfigMap last seen (used or refused); undefined while there is none. */
  private seen: string | undefined;
  private readonly origin: string;
  private mapping: RoleMapping = EMPTY_ROLE_MAPPING;
  private readonly supervisor: InformerSupervisor;
  /** Why the ConfigMap in the cluster is not the one in use, or undefined when it is. */
  lastInvalid: string | undefined;

  constructor(private readonly options: ConfigMapSourceOptions) {
    const { kubeConfig, namespace } = options;
    this.log = options.log;
    this.origin = `ConfigMap ${namespace}/${CONFIG_MAP_NAME}`;
    this.client = new KubeClient(kubeConfig);
    const informer = new ListWatch<V1ConfigMap>({
      client: this.client,
      path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps`,
      fieldSelector: `metadata.name=${CONFIG_MAP_NAME}`,
      list: () => {
        let listed: V1ConfigMap | undefined;
        return {
          add: (configMap) => {
            if (configMap.metadata?.name === CONFIG_MAP_NAME) listed = configMap;
          },
          done: () => {
            if (listed === undefined) {
              if (this.seen !== undefined) this.deleted();
            } else if (listed.metadata?.resourceVersion !== this.seen) this.apply(listed);
          },
        };
      },
      onEvent: (type, configMap) => (type === 'DELETED' ? this.deleted() : this.apply(configMap)),
    });
    this.supervisor = new InformerSupervisor(informer, this.log, this.origin, (firstTime) => {
      if (firstTime && this.seen === undefined) {
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

  async stop(): Promise<void> {
    await this.supervisor.stop();
    this.client.close();
  }

  private deleted(): void {
    this.seen = undefined;
    this.use(EMPTY_ROLE_MAPPING, 'deleted; no ServiceAccount is mapped');
  }

  private apply(configMap: V1ConfigMap): void {
    if (configMap.metadata?.name !== CONFIG_MAP_NAME) return;
    this.seen = configMap.metadata.resourceVersion ?? '';
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
