// A ListWatch stops on an error and says so only through its 'error' event. This restarts one with backoff (1 s doubling to 30 s), logging one short line per retry, and says
// whether its first full list has been loaded.
import type { Logger } from 'pino';
import { describeFailure } from '../cluster.js';

const FIRST_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 30_000;

export interface SupervisedInformer {
  start(): Promise<void>;
  stop(): Promise<void>;
  on(event: 'error', callback: (error: unknown) => void): void;
}

export class InformerSupervisor {
  /** True once a start has loaded the first full list. */
  synced = false;
  /** Why the last list or watch failed, in one line; cleared when a start succeeds. */
  lastError: string | undefined;
  private backoffMs = FIRST_BACKOFF_MS;
  private failures = 0;
  private stopped = false;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly informer: SupervisedInformer,
    private readonly log: Logger,
    /** What the log lines name: `ServiceAccount`, `ConfigMap ns/name`. */
    private readonly what: string,
    /** Called after every start that loaded a full list (the first one included). */
    private readonly onStarted?: (firstTime: boolean) => void,
  ) {
    informer.on('error', (error) => this.failed(error));
  }

  /** Lists and starts watching; resolves when the list is loaded or failed (then retried). */
  async start(): Promise<void> {
    this.stopped = false;
    const failuresBefore = this.failures;
    try {
      await this.informer.start();
    } catch (error) {
      // Reported like a watch failure, so it is retried rather than left as an unhandled rejection.
      this.failed(error);
    }
    if (this.failures === failuresBefore && !this.stopped) {
      const firstTime = !this.synced;
      this.synced = true;
      this.lastError = undefined;
      this.backoffMs = FIRST_BACKOFF_MS;
      this.onStarted?.(firstTime);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    await this.informer.stop();
  }

  private failed(error: unknown): void {
    this.failures += 1;
    if (this.stopped) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
    this.lastError = describeFailure(error);
    this.log.warn(
      { reason: this.lastError, retryInMs: delay },
      `${this.what} list/watch failed; retrying in ${delay}ms`,
    );
    // The full error, stack included, for whoever debugs the client itself.
    this.log.debug({ err: error }, `${this.what} list/watch failure`);
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => void this.start(), delay);
  }
}
