// What the soak test and its load generator (a child process) say to each other over IPC. Times are
// milliseconds of the monotonic clock (process.hrtime), which both processes share.

/** One ServiceAccount state as an answer shows it: a role's index in the roles list, no role, or gone. */
export type State = number | 'none' | 'absent';

export interface Shape {
  /** An AdmissionReview as JSON, with __UID__, __NAMESPACE__ and __SERVICE_ACCOUNT__ to fill in. */
  template: string;
  /** JSON of [patch (base64) or null, warnings] → the state that answer stands for. */
  answers: Record<string, State>;
}

export interface GeneratorConfig {
  port: number;
  /** PEM of the CA the webhook's serving certificates come from: the only one trusted. */
  ca: string;
  rate: number;
  /** At most this many connections: more open only while all are busy (as kube-apiserver's client does). */
  connections: number;
  connectionMaxAgeMs: number;
  targets: Array<{ namespace: string; name: string }>;
  /** Indexes into `targets`: the churned ServiceAccounts get `dynamicShare` of the requests. */
  dynamicTargets: number[];
  staticTargets: number[];
  dynamicShare: number;
  shapes: Shape[];
  /** The warning for a ServiceAccount that does not exist, with __NAMESPACE__ and __SERVICE_ACCOUNT__. */
  absentWarning: string;
  seed: number;
}

export interface Sample {
  target: number;
  shape: number;
  /** When the open-loop timeline wanted the request sent (latency runs from here). */
  scheduledAt: number;
  sentAt: number;
  /** When it was written to a connection (it may wait for a free one first); unset if never. */
  writtenAt?: number;
  doneAt: number;
  /** `state`: a known answer (see `state`); `lookup-error`: HTTP 500 naming the lookup; `http-<code>`, `unexpected`, `error`. */
  outcome: string;
  state?: State;
  /** Whether the whole request had been written to an open connection (for `error`: lost in flight). */
  written: boolean;
  detail?: string;
}

export type ParentMessage = { type: 'start'; config: GeneratorConfig } | { type: 'stop' };

export type GeneratorMessage =
  | { type: 'listening' }
  | { type: 'samples'; samples: Sample[] }
  | { type: 'serial'; serial: string; at: number }
  | { type: 'done'; fired: number; unanswered: number; connectionsOpened: number };
