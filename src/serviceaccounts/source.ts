import type { V1ServiceAccount } from '@kubernetes/client-node';

/** Where ServiceAccounts come from: a file (local runs, fixtures) or the cluster (informer + live GET). */
export interface ServiceAccountSource {
  /** The ServiceAccount, or undefined when it does not exist. Throws when existence cannot be known. */
  get(namespace: string, name: string): Promise<V1ServiceAccount | undefined>;
  /** Number of ServiceAccounts held in memory. */
  size(): number;
}

/** The ServiceAccount could not be looked up (API unreachable, timed out): answered with HTTP 500. */
export class ServiceAccountLookupError extends Error {
  override name = 'ServiceAccountLookupError';
}
