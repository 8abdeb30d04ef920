// The cache-miss logic through its narrow interface: `cached` and `fetch` are plain functions here.
// The cluster source that wires them to a real informer and API server is proven in test/e2e.
import type { V1ServiceAccount } from '@kubernetes/client-node';
import { describe, expect, it, vi } from 'vitest';
import { createLookup } from '../../src/serviceaccounts/lookup.js';
import { ServiceAccountLookupError } from '../../src/serviceaccounts/source.js';

const account = (name: string): V1ServiceAccount => ({ metadata: { name, namespace: 'ns' } });

function deferred<T>(): { promise: Promise<T>; resolve(value: T): void; reject(error: Error): void } {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('createLookup', () => {
  it('answers from the cache without a live lookup', async () => {
    const fetch = vi.fn();
    const onMiss = vi.fn();
    const lookup = createLookup({ cached: () => account('a'), fetch, gracePeriodMs: 1000, onMiss });
    expect(await lookup('ns', 'a')).toEqual(account('a'));
    expect(fetch).not.toHaveBeenCalled();
    expect(onMiss).not.toHaveBeenCalled();
  });

  it('does one live lookup on a miss, shared by concurrent requests for the same ServiceAccount', async () => {
    const pending = deferred<V1ServiceAccount | undefined>();
    const fetch = vi.fn(() => pending.promise);
    const results: string[] = [];
    const lookup = createLookup({
      cached: () => undefined,
      fetch,
      gracePeriodMs: 5000,
      onLiveLookup: (r) => results.push(r),
    });
    const answers = Promise.all([lookup('ns', 'a'), lookup('ns', 'a'), lookup('ns', 'a')]);
    pending.resolve(account('a'));
    expect(await answers).toEqual([account('a'), account('a'), account('a')]);
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(results).toEqual(['found', 'found', 'found']);
  });

  it('looks up different ServiceAccounts separately and again after the previous lookup settled', async () => {
    const fetch = vi.fn(async (_ns: string, name: string) => account(name));
    const lookup = createLookup({ cached: () => undefined, fetch, gracePeriodMs: 5000 });
    await Promise.all([lookup('ns', 'a'), lookup('ns', 'b')]);
    await lookup('ns', 'a');
    expect(fetch.mock.calls.map((call) => call[1])).toEqual(['a', 'b', 'a']);
  });

  it('returns undefined for a ServiceAccount the API server does not have', async () => {
    const onLiveLookup = vi.fn();
    const lookup = createLookup({
      cached: () => undefined,
      fetch: async () => undefined,
      gracePeriodMs: 1000,
      onLiveLookup,
    });
    expect(await lookup('ns', 'gone')).toBeUndefined();
    expect(onLiveLookup).toHaveBeenCalledWith('not_found');
  });

  it('gives up after the grace period with an error naming the ServiceAccount', async () => {
    vi.useFakeTimers();
    try {
      const onLiveLookup = vi.fn();
      const lookup = createLookup({
        cached: () => undefined,
        fetch: () => new Promise(() => {}),
        gracePeriodMs: 250,
        onLiveLookup,
      });
      const answer = lookup('ns', 'slow');
      const assertion = expect(answer).rejects.toThrow(
        new ServiceAccountLookupError(
          'ServiceAccount ns/slow is not in the cache and the live lookup took longer than 250ms',
        ),
      );
      await vi.advanceTimersByTimeAsync(250);
      await assertion;
      expect(onLiveLookup).toHaveBeenCalledWith('timeout');
    } finally {
      vi.useRealTimers();
    }
  });

  it('does no live lookup when the grace period is 0, as the Go webhook', async () => {
    const fetch = vi.fn();
    const onMiss = vi.fn();
    const lookup = createLookup({ cached: () => undefined, fetch, gracePeriodMs: 0, onMiss });
    expect(await lookup('ns', 'a')).toBeUndefined();
    expect(fetch).not.toHaveBeenCalled();
    expect(onMiss).toHaveBeenCalledTimes(1);
  });

  it('aborts a hung live read at the grace period, so the next miss reads afresh', async () => {
    const signals: AbortSignal[] = [];
    const fetch = vi.fn(
      (_ns: string, _name: string, signal: AbortSignal) =>
        new Promise<V1ServiceAccount | undefined>((_resolve, reject) => {
          signals.push(signal);
          signal.addEventListener('abort', () => reject(signal.reason));
        }),
    );
    const lookup = createLookup({ cached: () => undefined, fetch, gracePeriodMs: 50 });
    await expect(lookup('ns', 'hung')).rejects.toThrow(ServiceAccountLookupError);
    await vi.waitFor(() => expect(signals[0]?.aborted).toBe(true));
    await expect(lookup('ns', 'hung')).rejects.toThrow(ServiceAccountLookupError);
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it('turns a failed live lookup into a ServiceAccountLookupError', async () => {
    const lookup = createLookup({
      cached: () => undefined,
      fetch: async () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:6443');
      },
      gracePeriodMs: 1000,
    });
    await expect(lookup('ns', 'a')).rejects.toThrow(
      'ServiceAccount ns/a could not be looked up: connect ECONNREFUSED 127.0.0.1:6443',
    );
  });
});
