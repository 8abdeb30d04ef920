// Counts every answer of the soak and judges it: the right state for its ServiceAccount at that
// moment (timeline.ts), a documented answer for the moment (HTTP 500 for a lookup while
// kube-apiserver is down), or a failure. Requests around SIGTERM are told apart: refused before
// being sent (the listener had closed) is fine, sent and then broken off is a lost request.
import type { Sample, State } from './protocol.js';
import type { Timeline } from './timeline.js';

export interface Window {
  from: number;
  to: number;
}

export interface Verdicts {
  sent: number;
  answered: number;
  correct: number;
  failed: number;
  wrong: number;
  /** HTTP 500 for a ServiceAccount not in the cache while kube-apiserver was down: documented. */
  lookupErrorsWhileApiServerDown: number;
  /** Connections refused after SIGTERM closed the listener: never sent, so nothing was lost. */
  refusedAfterShutdown: number;
  /** Written to an open connection after SIGTERM and answered (200, right patch). */
  answeredAfterSigterm: number;
  /** Sent on an open connection and then reset or cut off: must be 0. */
  lostInFlight: number;
  failures: string[];
  wrongAnswers: string[];
}

const MAX_EXAMPLES = 20;

export class Judge {
  readonly verdicts: Verdicts = {
    sent: 0,
    answered: 0,
    correct: 0,
    failed: 0,
    wrong: 0,
    lookupErrorsWhileApiServerDown: 0,
    refusedAfterShutdown: 0,
    answeredAfterSigterm: 0,
    lostInFlight: 0,
    failures: [],
    wrongAnswers: [],
  };
  /** Latencies (ms from the scheduled time) of answers before SIGTERM, with when they were sent. */
  readonly latencies: Array<{ sentAt: number; ms: number; lag: number }> = [];
  /** Judged only once the windows they depend on are known (at the end). */
  private readonly deferred: Sample[] = [];
  /** Set when SIGTERM is sent: every sample sent later arrives after this is set. */
  sigtermAt = Infinity;

  /** Times in examples are given from here (the start of the load). */
  origin = 0;

  constructor(
    private readonly timeline: Timeline,
    private readonly describeTarget: (target: number) => string,
  ) {}

  /** Answers with a state are judged at once: every change that could matter is already recorded. */
  add(samples: readonly Sample[]): void {
    for (const sample of samples) {
      if (sample.outcome === 'state') this.judgeState(sample);
      else this.deferred.push(sample);
    }
  }

  /** The rest, now that the kube-apiserver outage and the SIGTERM time are known. */
  finish(apiServerDown: Window | undefined): Verdicts {
    const v = this.verdicts;
    for (const sample of this.deferred.splice(0)) {
      const afterSigterm = (sample.writtenAt ?? sample.sentAt) >= this.sigtermAt;
      // Waiting for a connection when SIGTERM came, then refused: never sent.
      if (sample.outcome === 'error' && !sample.written && sample.doneAt >= this.sigtermAt) {
        v.refusedAfterShutdown += 1;
        continue;
      }
      v.sent += 1;
      if (sample.outcome === 'error') {
        if (sample.written) v.lostInFlight += 1;
        this.fail(sample, sample.written ? 'lost in flight' : 'not sent');
        continue;
      }
      v.answered += 1;
      if (!afterSigterm)
        this.latencies.push({
          sentAt: sample.sentAt,
          ms: sample.doneAt - sample.scheduledAt,
          lag: sample.sentAt - sample.scheduledAt,
        });
      const inOutage =
        apiServerDown !== undefined &&
        sample.doneAt >= apiServerDown.from &&
        sample.sentAt <= apiServerDown.to;
      if (sample.outcome === 'lookup-error' && inOutage) v.lookupErrorsWhileApiServerDown += 1;
      else if (sample.outcome === 'unexpected') this.wrong(sample, sample.detail ?? '');
      else this.fail(sample, 'answer');
    }
    return v;
  }

  private judgeState(sample: Sample): void {
    const v = this.verdicts;
    v.sent += 1;
    v.answered += 1;
    const afterSigterm = (sample.writtenAt ?? sample.sentAt) >= this.sigtermAt;
    if (!afterSigterm)
      this.latencies.push({
        sentAt: sample.sentAt,
        ms: sample.doneAt - sample.scheduledAt,
        lag: sample.sentAt - sample.scheduledAt,
      });
    const acceptable = this.timeline.acceptable(sample.target, sample.sentAt, sample.doneAt);
    if (acceptable.includes(sample.state as State)) {
      v.correct += 1;
      if (afterSigterm) v.answeredAfterSigterm += 1;
      return;
    }
    this.wrong(sample, `showed ${String(sample.state)}, expected ${acceptable.map(String).join(' or ')}`);
  }

  private at(sample: Sample): string {
    return `${this.describeTarget(sample.target)} shape ${sample.shape}, sent at +${((sample.sentAt - this.origin) / 1000).toFixed(3)} s, answered after ${(sample.doneAt - sample.sentAt).toFixed(1)} ms`;
  }

  private wrong(sample: Sample, what: string): void {
    this.verdicts.wrong += 1;
    if (this.verdicts.wrongAnswers.length < MAX_EXAMPLES)
      this.verdicts.wrongAnswers.push(`${this.at(sample)}: ${what}`);
  }

  private fail(sample: Sample, what: string): void {
    this.verdicts.failed += 1;
    if (this.verdicts.failures.length < MAX_EXAMPLES)
      this.verdicts.failures.push(
        `${this.at(sample)}: ${what}: ${sample.outcome} ${sample.detail ?? ''}`.trim(),
      );
  }
}
