// List, then watch from the list's resourceVersion, as client-go's reflector does: the list in
// pages, bookmarks to keep the resourceVersion current, a new watch from it when the API server
// ends one, and a fresh list when that resourceVersion is too old (410 Gone). Each page goes to
// the caller as it arrives, so only what the caller keeps of it stays in memory. A broken
// connection or any other failure is reported through 'error' (InformerSupervisor retries).
import {
  KubernetesError,
  type KubeClient,
  type KubeList,
  type KubeObject,
  type WatchEvent,
} from '../cluster.js';
import type { SupervisedInformer } from './informer-supervisor.js';

/** Where a full list goes, page by page; `done` once all of it has arrived (not after a failure). */
export interface ListSink<Raw> {
  add(object: Raw): void;
  done(): void;
}

export interface ListWatchOptions<Raw extends KubeObject> {
  client: KubeClient;
  /** The collection, e.g. /api/v1/serviceaccounts. */
  path: string;
  fieldSelector?: string;
  /** A full list begins (the first one, and every one after a 410): where its objects go. */
  list(): ListSink<Raw>;
  onEvent(type: 'ADDED' | 'MODIFIED' | 'DELETED', object: Raw): void;
}

const PAGE_SIZE = 500;
// The API server ends each watch after this long, a little apart per watch (client-go: 5-10 min).
const WATCH_SECONDS = { min: 300, max: 600 };
// Nothing at all on a watch for this long past its end means the connection is gone.
const WATCH_GRACE_MS = 60_000;
// A watch the API server ends sooner than this, without an error, counts as a failure.
const MIN_WATCH_MS = 1_000;

const isGone = (error: unknown): boolean => error instanceof KubernetesError && error.code === 410;

export class ListWatch<Raw extends KubeObject> implements SupervisedInformer {
  private resourceVersion = '';
  /** Aborts the list or watch in progress; replaced by each start. */
  private running: AbortController | undefined;
  private readonly errorListeners: Array<(error: unknown) => void> = [];

  constructor(private readonly options: ListWatchOptions<Raw>) {}

  on(_event: 'error', callback: (error: unknown) => void): void {
    this.errorListeners.push(callback);
  }

  /** Lists when there is no resourceVersion (or it is gone), then watches; resolves once watching. */
  async start(): Promise<void> {
    this.running?.abort();
    const running = (this.running = new AbortController());
    for (let attempt = 1; ; attempt++) {
      const listed = !this.resourceVersion;
      if (listed) await this.list(running.signal);
      try {
        await this.watch(running, listed);
        return;
      } catch (error) {
        // The list's resourceVersion was compacted away before the watch began: list once more.
        if (!isGone(error) || attempt > 1) throw error;
        this.resourceVersion = '';
      }
    }
  }

  async stop(): Promise<void> {
    this.running?.abort(new Error('stopped'));
    this.running = undefined;
  }

  private async list(signal: AbortSignal): Promise<void> {
    const { client, path, fieldSelector } = this.options;
    const sink = this.options.list();
    let resourceVersion: string | undefined;
    let next: string | undefined;
    do {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (next) query.set('continue', next);
      if (fieldSelector) query.set('fieldSelector', fieldSelector);
      const page = await client.json<KubeList<Raw>>('GET', `${path}?${query}`, { signal });
      resourceVersion ??= page.metadata?.resourceVersion;
      for (const item of page.items) sink.add(item);
      next = page.metadata?.continue;
    } while (next);
    signal.throwIfAborted();
    sink.done();
    this.resourceVersion = resourceVersion ?? '';
  }

  private async watch(running: AbortController, afterList: boolean): Promise<void> {
    const { client, path, fieldSelector, onEvent } = this.options;
    const seconds = WATCH_SECONDS.min + Math.floor(Math.random() * (WATCH_SECONDS.max - WATCH_SECONDS.min));
    const query = new URLSearchParams({
      watch: '1',
      allowWatchBookmarks: 'true',
      resourceVersion: this.resourceVersion,
      timeoutSeconds: String(seconds),
    });
    if (fieldSelector) query.set('fieldSelector', fieldSelector);
    // Its own controller: an ERROR event ends this watch without stopping the informer.
    const stream = new AbortController();
    const stopStream = (): void => stream.abort(running.signal.reason);
    running.signal.addEventListener('abort', stopStream, { once: true });
    let failure: unknown;
    let gone = false;
    const handle = (event: WatchEvent<Raw>): void => {
      if (stream.signal.aborted) return;
      const { type, object } = event;
      if (type === 'ERROR') {
        if (object.code === 410) {
          this.resourceVersion = '';
          gone = true;
        } else failure = new KubernetesError(object.code ?? 500, JSON.stringify(object), `watch ${path}`);
        stream.abort();
        return;
      }
      if (type !== 'BOOKMARK') onEvent(type, object);
      this.resourceVersion = object.metadata?.resourceVersion ?? this.resourceVersion;
    };
    const opened = performance.now();
    let ended: Promise<void>;
    try {
      ({ ended } = await client.watch(`${path}?${query}`, handle, {
        signal: stream.signal,
        idleTimeoutMs: seconds * 1000 + WATCH_GRACE_MS,
      }));
    } catch (error) {
      running.signal.removeEventListener('abort', stopStream);
      throw error;
    }
    const settle = (error: unknown): void => {
      running.signal.removeEventListener('abort', stopStream);
      if (running.signal.aborted || this.running !== running) return; // stopped or restarted
      if (failure !== undefined || (error !== undefined && !stream.signal.aborted)) {
        this.failed(failure ?? error);
        return;
      }
      // Something between here and the API server that ends every watch at once would otherwise
      // make this a busy loop: that goes through the supervisor's backoff instead.
      // So would a 410 at once from the resourceVersion a list just gave (list, 410, list...).
      if ((!stream.signal.aborted || (gone && afterList)) && performance.now() - opened < MIN_WATCH_MS) {
        this.failed(
          new Error(`watch ${path}: ended ${Math.round(performance.now() - opened)}ms after it began`),
        );
        return;
      }
      // The API server ended the watch (its timeout, or after a 410): go on from where it was.
      this.start().catch((startError: unknown) => this.failed(startError));
    };
    ended.then(
      () => settle(undefined),
      (error: unknown) => settle(error),
    );
  }

  private failed(error: unknown): void {
    for (const listener of this.errorListeners) listener(error);
  }
}
