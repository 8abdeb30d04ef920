// Each ServiceAccount's states over time, as the soak changed them through the API, and which
// answers are right for a request: the state at that moment, or, for a ServiceAccount changed within
// the last second (the informer's lag), the one before too.
import type { State } from './protocol.js';

/** How long after the API server acknowledged a change the webhook may still give the old answer. */
export const EITHER_ANSWER_MS = 1000;

export interface Change {
  state: State;
  /** When the write was sent: the new state may show from here. */
  start: number;
  /** When the API server acknowledged it (Infinity while in flight): the old one may show 1 s longer. */
  end: number;
}

export class Timeline {
  private readonly changes: Change[][];

  constructor(initial: readonly State[]) {
    this.changes = initial.map((state) => [{ state, start: -Infinity, end: -Infinity }]);
  }

  /** Records a change as its write is sent; settle it with `settle` once the API server answers. */
  begin(target: number, state: State, at: number): Change {
    const change = { state, start: at, end: Infinity };
    this.changes[target]!.push(change);
    return change;
  }

  settle(change: Change, at: number): void {
    change.end = at;
  }

  current(target: number): State {
    return this.changes[target]!.at(-1)!.state;
  }

  /** The states a request sent at `sentAt` and answered at `doneAt` may rightly show. */
  acceptable(target: number, sentAt: number, doneAt: number): State[] {
    const changes = this.changes[target]!;
    const states: State[] = [];
    for (let i = changes.length - 1; i >= 0; i--) {
      const next = changes[i + 1];
      const visibleUntil = next === undefined ? Infinity : next.end + EITHER_ANSWER_MS;
      if (visibleUntil < sentAt) break;
      if (changes[i]!.start <= doneAt) states.push(changes[i]!.state);
    }
    return states;
  }
}
