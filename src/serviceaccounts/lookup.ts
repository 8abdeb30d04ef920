// Cache first, then one live lookup per ServiceAccount, bounded by the grace period. A Pod often
// arrives moments after its ServiceAccount, before the informer has seen it: that is the miss.
// A grace period of 0 turns live lookups off, as in the Go webhook: a miss is then "not found".
import type { V1ServiceAccount } from '@kubernetes/client-node';
import { ServiceAccountLookupError } from './source.js';

export interface LookupDependencies {
  /** What the informer's cache holds. */
  cached(namespace: string, name: string): V1ServiceAccount | undefined;
  /** A live read from the API server: undefined when it does not exist (404). Stops when `signal` aborts. */
  fetch(namespace: string, name: string, signal: AbortSignal): Promise<V1ServiceAccount | undefined>;
  gracePeriodMs: number;
  onMiss?(): void;
  onLiveLookup?(result: 'found' | 'not_found' | 'error' | 'timeout'): void;
}

export type Lookup = (namespace: string, name: string) => Promise<V1ServiceAccount | undefined>;

export function createLookup(deps: LookupDependencies): Lookup {
  const inFlight = new Map<string, Promise<V1ServiceAccount | undefined>>();

  function live(namespace: string, name: string): Promise<V1ServiceAccount | undefined> {
    const key = `${namespace}/${name}`;
    let pending = inFlight.get(key);
    if (pending === undefined) {
      // The read is aborted at the grace period, so a hung connection cannot hold the entry.
      const signal = AbortSignal.timeout(deps.gracePeriodMs);
      pending = deps.fetch(namespace, name, signal).finally(() => inFlight.delete(key));
      inFlight.set(key, pending);
    }
    return pending;
  }

  return async (namespace, name) => {
    const hit = deps.cached(namespace, name);
    if (hit !== undefined) return hit;
    deps.onMiss?.();
    if (deps.gracePeriodMs === 0) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), deps.gracePeriodMs);
    });
    try {
      const result = await Promise.race([live(namespace, name), timeout]);
      if (result === 'timeout') {
        deps.onLiveLookup?.('timeout');
        throw new ServiceAccountLookupError(
          `ServiceAccount ${namespace}/${name} is not in the cache and the live lookup took longer than ${deps.gracePeriodMs}ms`,
        );
      }
      deps.onLiveLookup?.(result === undefined ? 'not_found' : 'found');
      return result;
    } catch (error) {
      if (error instanceof ServiceAccountLookupError) throw error;
      deps.onLiveLookup?.('error');
      throw new ServiceAccountLookupError(
        `ServiceAccount ${namespace}/${name} could not be looked up: ${error instanceof Error ? error.message : String(error)}`,
      );
    } finally {
      clearTimeout(timer);
    }
  };
}
