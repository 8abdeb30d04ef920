// The soak's report: one table for people, the same numbers as JSON for machines (both written to
// the run directory).
import type { Exit } from '../e2e/harness/processes.js';
import type { SoakSettings } from './settings.js';
import type { Verdicts } from './judge.js';
import type { RotationMode } from './certificates.js';
import type { ChurnCounts } from './churn.js';

export interface MemorySample {
  atS: number;
  rssMiB: number;
  heapUsedMiB: number;
  heapTotalMiB: number;
  externalMiB: number;
}

export interface SoakReport {
  settings: SoakSettings & { connectionMaxAgeMs: number; rotationIntervalMs: number };
  machine: {
    loadavgBefore: number[];
    loadavgAfter: number[];
    node: string;
    pinned: { webhookCpu: number; generatorCpu: number } | undefined;
  };
  requests: Verdicts & {
    fired: number;
    unansweredAtStop: number;
    connectionsOpened: number;
    answeredBeforeSigterm: number;
    scheduledBeforeSigterm: number;
  };
  latencyMs: {
    p50: number;
    p99: number;
    p999: number;
    max: number;
    p99OutsideApiServerOutage: number;
    /** How late the load generator sent (its own lag, part of every latency above). */
    generatorLagP99: number;
  };
  rss: {
    baselineAtMs: number;
    baselineMiB: number;
    endAtMs: number;
    endMiB: number;
    changePercent: number;
    peakMiB: number;
    series: MemorySample[];
  };
  certificates: {
    rotations: Array<{ atMs: number; mode: RotationMode; serial: string; firstSeenAfterMs: number | null }>;
    serialsWritten: number;
    serialsSeen: number;
    unknownSerialsSeen: string[];
  };
  serviceAccounts: { static: number; churned: number; operations: ChurnCounts; errors: string[] };
  apiServerRestart: {
    atMs: number;
    stopMs: number;
    startMs: number;
    downMs: number;
    informerCaughtUpMs: number;
  };
  sigterm: {
    atMs: number;
    exit: Exit | null;
    exitedAfterMs: number;
    graceMs: number;
    answeredAfterSigterm: number;
    refusedAfterShutdown: number;
    lostInFlight: number;
  };
}

/** The value at quantile `q` of sorted values (nearest rank). */
export function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

const ms = (value: number): string => `${value.toFixed(1)} ms`;
const s = (valueMs: number): string => `${(valueMs / 1000).toFixed(1)} s`;
const goal = (ok: boolean): string => (ok ? 'yes' : '**NO**');

export function renderReport(r: SoakReport): { table: string; json: string } {
  const q = r.requests;
  const rotations = r.certificates.rotations
    .map(
      (x) =>
        `${s(x.atMs)} ${x.mode} (seen after ${x.firstSeenAfterMs === null ? 'never' : ms(x.firstSeenAfterMs)})`,
    )
    .join('; ');
  const ops = r.serviceAccounts.operations;
  const rows: Array<[string, string, string]> = [
    ['duration, rate', `${s(r.settings.durationMs)} at ${r.settings.rate} req/s`, ''],
    [
      'requests sent / answered',
      `${q.sent} / ${q.answered} (${q.fired} scheduled; ${q.connectionsOpened} connections opened, at most ${r.settings.connections} at once)`,
      '',
    ],
    [
      'load delivered: answered before SIGTERM / scheduled',
      `${q.answeredBeforeSigterm} / ${q.scheduledBeforeSigterm} (${((q.answeredBeforeSigterm / q.scheduledBeforeSigterm) * 100).toFixed(1)} %)`,
      goal(q.answeredBeforeSigterm >= 0.95 * q.scheduledBeforeSigterm),
    ],
    ['failed requests', String(q.failed), goal(q.failed === 0)],
    ['wrong answers', String(q.wrong), goal(q.wrong === 0)],
    ['right answers', String(q.correct), ''],
    [
      'HTTP 500 for a lookup while kube-apiserver was down (documented)',
      String(q.lookupErrorsWhileApiServerDown),
      '',
    ],
    [
      'latency p50 / p99 / p99.9 / max (from the scheduled time)',
      `${ms(r.latencyMs.p50)} / ${ms(r.latencyMs.p99)} / ${ms(r.latencyMs.p999)} / ${ms(r.latencyMs.max)}; p99 outside the kube-apiserver outage ${ms(r.latencyMs.p99OutsideApiServerOutage)}; the generator's own lag p99 ${ms(r.latencyMs.generatorLagP99)}`,
      '',
    ],
    [
      `RSS at ${s(r.rss.baselineAtMs)} → end (${s(r.rss.endAtMs)})`,
      `${r.rss.baselineMiB.toFixed(1)} → ${r.rss.endMiB.toFixed(1)} MiB (${r.rss.changePercent >= 0 ? '+' : ''}${r.rss.changePercent.toFixed(1)} %), peak ${r.rss.peakMiB.toFixed(1)} MiB`,
      r.settings.durationMs >= 600_000
        ? goal(Math.abs(r.rss.changePercent) <= 10)
        : 'no goal under 10 minutes',
    ],
    [
      'serving certificates written / seen',
      `${r.certificates.serialsWritten} / ${r.certificates.serialsSeen}: ${rotations}`,
      goal(
        r.certificates.serialsSeen === r.certificates.serialsWritten &&
          r.certificates.unknownSerialsSeen.length === 0,
      ),
    ],
    [
      'ServiceAccount operations',
      `${ops.create + ops.update + ops.delete} (${ops.create} created, ${ops.update} re-annotated, ${ops.delete} deleted, ${ops.failed} failed) on ${r.serviceAccounts.churned} churned + ${r.serviceAccounts.static} static`,
      '',
    ],
    [
      'kube-apiserver restart',
      `at ${s(r.apiServerRestart.atMs)}: stopped in ${ms(r.apiServerRestart.stopMs)}, ready again after ${ms(r.apiServerRestart.startMs)} (down ${ms(r.apiServerRestart.downMs)}); the webhook saw a change made after it ${ms(r.apiServerRestart.informerCaughtUpMs)} after /readyz`,
      '',
    ],
    [
      'SIGTERM under load',
      `exit ${r.sigterm.exit ? `code ${r.sigterm.exit.code}` : 'none'} after ${ms(r.sigterm.exitedAfterMs)} (grace ${s(r.sigterm.graceMs)}); ${r.sigterm.answeredAfterSigterm} answered after SIGTERM, ${r.sigterm.refusedAfterShutdown} refused once the listener closed (never sent), ${r.sigterm.lostInFlight} lost in flight`,
      goal(
        r.sigterm.lostInFlight === 0 &&
          r.sigterm.exit?.code === 0 &&
          r.sigterm.exitedAfterMs <= r.sigterm.graceMs,
      ),
    ],
    [
      'machine',
      `load average ${r.machine.loadavgBefore.map((x) => x.toFixed(2)).join(' ')} before, ${r.machine.loadavgAfter.map((x) => x.toFixed(2)).join(' ')} after; Node ${r.machine.node}; ${r.machine.pinned ? `webhook on CPU ${r.machine.pinned.webhookCpu}, load generator on CPU ${r.machine.pinned.generatorCpu}` : 'not pinned'}`,
      '',
    ],
  ];
  const table = [
    '| soak | value | goal met |',
    '| --- | --- | --- |',
    ...rows.map((row) => `| ${row.join(' | ')} |`),
    ...(q.failures.length > 0 ? ['', 'First failures:', ...q.failures.map((f) => `- ${f}`)] : []),
    ...(q.wrongAnswers.length > 0
      ? ['', 'First wrong answers:', ...q.wrongAnswers.map((w) => `- ${w}`)]
      : []),
  ].join('\n');
  return { table: `${table}\n`, json: `${JSON.stringify(r, null, 2)}\n` };
}
