// ServiceAccounts created, re-annotated (role changed, added, removed) and deleted through the API
// at a steady rate, each change recorded in the timeline as it is sent and when it is acknowledged.
import { ApiException, type CoreV1Api, type V1ServiceAccount } from '@kubernetes/client-node';
import type { State } from './protocol.js';
import type { Timeline } from './timeline.js';
import { ROLE_ARN_KEY } from '../support/reviews.js';
import { waitFor } from '../support/wait.js';

export interface ChurnCounts {
  create: number;
  update: number;
  delete: number;
  /** Writes the API server refused or that broke off; the real state was read back afterwards. */
  failed: number;
}

export interface ChurnOptions {
  core: CoreV1Api;
  targets: ReadonlyArray<{ namespace: string; name: string }>;
  /** Indexes of the targets this churn changes; nothing else touches them. */
  slots: readonly number[];
  roles: readonly string[];
  timeline: Timeline;
  clock: () => number;
  perSecond: number;
}

export function serviceAccountBody(name: string, namespace: string, state: State, roles: readonly string[]) {
  const annotations = typeof state === 'number' ? { [ROLE_ARN_KEY]: roles[state]! } : undefined;
  return { metadata: { name, namespace, annotations } } satisfies V1ServiceAccount;
}

export function stateOf(account: V1ServiceAccount | undefined, roles: readonly string[]): State {
  if (account === undefined) return 'absent';
  const role = account.metadata?.annotations?.[ROLE_ARN_KEY];
  if (role === undefined) return 'none';
  const index = roles.indexOf(role);
  if (index < 0)
    throw new Error(`ServiceAccount ${account.metadata?.name} has a role the soak never set: ${role}`);
  return index;
}

export class Churn {
  readonly counts: ChurnCounts = { create: 0, update: 0, delete: 0, failed: 0 };
  readonly errors: string[] = [];
  private readonly busy = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly o: ChurnOptions) {}

  start(): void {
    this.timer ??= setInterval(() => this.step(), 1000 / this.o.perSecond);
  }

  /** Stops starting changes and waits for those in flight. */
  async pause(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all(this.inFlight);
  }

  get total(): number {
    return this.counts.create + this.counts.update + this.counts.delete;
  }

  private step(): void {
    const idle = this.o.slots.filter((slot) => !this.busy.has(slot));
    if (idle.length === 0) return;
    const slot = idle[Math.floor(Math.random() * idle.length)]!;
    this.busy.add(slot);
    const run = this.change(slot).finally(() => {
      this.busy.delete(slot);
      this.inFlight.delete(run);
    });
    this.inFlight.add(run);
  }

  private async change(slot: number): Promise<void> {
    const { core, targets, roles, timeline, clock } = this.o;
    const { namespace, name } = targets[slot]!;
    const current = timeline.current(slot);
    const randomRole = (): number => Math.floor(Math.random() * roles.length);
    let next: State;
    let kind: keyof Omit<ChurnCounts, 'failed'>;
    if (current === 'absent') {
      kind = 'create';
      next = Math.random() < 0.8 ? randomRole() : 'none';
    } else if (Math.random() < 0.3) {
      kind = 'delete';
      next = 'absent';
    } else {
      kind = 'update';
      // Another role, the role removed, or a role added to one without.
      next =
        current === 'none'
          ? randomRole()
          : Math.random() < 0.25
            ? 'none'
            : (current + 1 + randomRole()) % roles.length;
      if (next === current) next = 'none';
    }
    const change = timeline.begin(slot, next, clock());
    try {
      if (kind === 'create')
        await core.createNamespacedServiceAccount({
          namespace,
          body: serviceAccountBody(name, namespace, next, roles),
        });
      else if (kind === 'update')
        await core.replaceNamespacedServiceAccount({
          name,
          namespace,
          body: serviceAccountBody(name, namespace, next, roles),
        });
      else await core.deleteNamespacedServiceAccount({ name, namespace });
      timeline.settle(change, clock());
      this.counts[kind] += 1;
    } catch (error) {
      timeline.settle(change, clock());
      this.counts.failed += 1;
      if (this.errors.length < 20) this.errors.push(`${kind} ${namespace}/${name}: ${describe(error)}`);
      await this.readBack(slot);
    }
  }

  /** After a failed write, what the API server holds (it may or may not have applied it). */
  private async readBack(slot: number): Promise<void> {
    const { core, targets, roles, timeline, clock } = this.o;
    const { namespace, name } = targets[slot]!;
    const read = await waitFor(
      `ServiceAccount ${namespace}/${name} read back after a failed write`,
      async () => {
        const start = clock();
        const account = await core
          .readNamespacedServiceAccount({ name, namespace })
          .catch((error: unknown) => {
            if (error instanceof ApiException && error.code === 404) return undefined;
            throw error;
          });
        return { start, account };
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    timeline.settle(timeline.begin(slot, stateOf(read.account, roles), read.start), clock());
  }
}

function describe(error: unknown): string {
  if (error instanceof ApiException) return `HTTP ${error.code}`;
  return error instanceof Error ? error.message.split('\n')[0]! : String(error);
}
