// The built-in certificate mode's I/O: the Secret that holds the CA and serving pair, and the
// caBundle of the webhook's own MutatingWebhookConfiguration. Every replica runs it; writes carry
// the resourceVersion they read, so when two replicas act at once one wins and the other reads
// the winner's result on its next round (a 409 Conflict is the expected outcome, not an error).
import type { V1MutatingWebhookConfiguration, V1Secret } from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { Logger } from 'pino';
import { describeFailure, KubeClient, KubernetesError } from '../cluster.js';
import { factsOf, splitBundle, type PemPair } from './authority.js';
import {
  applyRotationStep,
  nextRotationStep,
  type RotationSettings,
  type StoredCertificates,
} from './rotation.js';

export interface BuiltinCertificateOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  secretName: string;
  webhookConfiguration: string;
  settings: RotationSettings;
  /** How often each replica reads the Secret and the webhook configuration. */
  intervalMs: number;
  log: Logger;
  /** Called with every serving pair this replica should serve, the first one included. */
  onServingPair(pair: PemPair): void;
}

const KEYS = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  cert: 'tls.crt',
  key: 'tls.key',
  bundle: 'ca-bundle.crt',
  nextCert: 'next-ca.crt',
  nextKey: 'next-ca.key',
  nextStagedAt: 'next-ca-staged-at',
  retirePreviousAfter: 'retire-previous-ca-after',
} as const;

export function decodeSecret(secret: V1Secret | undefined): StoredCertificates {
  const data = secret?.data ?? {};
  const text = (key: string): string | undefined =>
    data[key] === undefined ? undefined : Buffer.from(data[key], 'base64').toString('utf8');
  const pair = (cert: string, key: string): PemPair | undefined => {
    const [c, k] = [text(cert), text(key)];
    return c && k ? { cert: c, key: k } : undefined;
  };
  const next = pair(KEYS.nextCert, KEYS.nextKey);
  const stagedAt = date(text(KEYS.nextStagedAt));
  const retire = date(text(KEYS.retirePreviousAfter));
  return {
    authority: pair(KEYS.caCert, KEYS.caKey),
    serving: pair(KEYS.cert, KEYS.key),
    bundle: splitBundle(text(KEYS.bundle) ?? ''),
    // A next CA that cannot be read is dropped: it is staged again, never promoted half-read.
    ...(next && stagedAt && readable(next.cert) ? { next: { ...next, stagedAt } } : {}),
    ...(retire ? { retirePreviousAfter: retire } : {}),
  };
}

function date(text: string | undefined): Date | undefined {
  const value = text === undefined ? undefined : new Date(text);
  return value === undefined || Number.isNaN(value.getTime()) ? undefined : value;
}

function readable(pem: string): boolean {
  try {
    factsOf(pem);
    return true;
  } catch {
    return false;
  }
}

export function encodeSecret(stored: StoredCertificates): Record<string, string> {
  const entries: Array<[string, string | undefined]> = [
    [KEYS.caCert, stored.authority?.cert],
    [KEYS.caKey, stored.authority?.key],
    [KEYS.cert, stored.serving?.cert],
    [KEYS.key, stored.serving?.key],
    [KEYS.bundle, stored.bundle.join('')],
    [KEYS.nextCert, stored.next?.cert],
    [KEYS.nextKey, stored.next?.key],
    [KEYS.nextStagedAt, stored.next?.stagedAt.toISOString()],
    [KEYS.retirePreviousAfter, stored.retirePreviousAfter?.toISOString()],
  ];
  return Object.fromEntries(
    entries
      .filter((entry): entry is [string, string] => entry[1] !== undefined)
      .map(([key, value]) => [key, Buffer.from(value).toString('base64')]),
  );
}

const WEBHOOK_CONFIGURATIONS = '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations';

const isStatus = (error: unknown, code: number): boolean =>
  error instanceof KubernetesError && error.code === code;

export class BuiltinCertificates {
  private readonly client: KubeClient;
  private served: string | undefined;
  private servedUntil: Date | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Why the last round failed, in one line; undefined once a round succeeds. */
  lastError: string | undefined;

  constructor(private readonly options: BuiltinCertificateOptions) {
    this.client = new KubeClient(options.kubeConfig);
  }

  private get where(): string {
    return `Secret ${this.options.namespace}/${this.options.secretName}`;
  }

  /** Runs rounds until this replica has a serving pair, then keeps running them on the interval. */
  async start(): Promise<void> {
    let delay = 1000;
    while (!this.stopped && this.served === undefined) {
      await this.round();
      if (this.served !== undefined) break;
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 30_000);
    }
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.client.close();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.round().then(() => this.schedule()), this.options.intervalMs);
  }

  /** One read–decide–write pass. Never throws: a failure is logged and tried again next round. */
  async round(): Promise<void> {
    try {
      await this.reconcile();
      this.lastError = undefined;
    } catch (error) {
      this.lastError = describeFailure(error);
      this.options.log.warn(
        { reason: this.lastError, secret: this.where },
        'built-in certificates not reconciled; retrying',
      );
      this.options.log.debug({ err: error }, 'built-in certificates failure');
    }
  }

  private async reconcile(): Promise<void> {
    const { settings, log } = this.options;
    // The webhook configuration first: the Secret read after it is at least as new, so a bundle
    // published from it never undoes a newer one (a stale publish gets a 409 instead).
    let webhookError: unknown;
    const webhook = await this.readWebhookConfiguration().catch((error: unknown) => {
      webhookError = error;
      return undefined;
    });
    const secret = await this.readSecret();
    let stored = decodeSecret(secret);
    // Without the configuration nothing is trusted yet: no CA is promoted, the pair is still served.
    const trusted = webhook === undefined ? new Set<string>() : trustedFingerprints(webhook);
    const steps = [];
    for (let step = nextRotationStep(stored, new Date(), settings, trusted); step !== undefined;) {
      stored = await applyRotationStep(step, stored, new Date(), settings);
      steps.push(step);
      const following = nextRotationStep(stored, new Date(), settings, trusted);
      // A step that asks for itself again cannot make progress this round (it waits for trust).
      step = following === step || steps.length >= 4 ? undefined : following;
    }
    if (steps.length > 0) {
      const written = await this.writeSecret(secret, stored);
      if (!written) return; // another replica wrote first: its state is read next round
      log.info({ steps, secret: this.where }, 'built-in certificates updated');
    }
    try {
      if (webhook !== undefined) await this.publishBundle(webhook, stored.bundle);
    } finally {
      // Serving never waits on the configuration: a pair only leaves the Secret trusted or newer.
      this.serve(stored);
    }
    if (webhookError !== undefined) throw webhookError;
  }

  private serve(stored: StoredCertificates): void {
    const pair = stored.serving;
    if (pair === undefined || pair.cert === this.served) return;
    this.options.onServingPair(pair);
    this.served = pair.cert;
    this.servedUntil = factsOf(pair.cert).notAfter;
  }

  /** Why this replica should not get traffic: it serves an expired certificate. */
  notReady(now = new Date()): string | undefined {
    if (this.servedUntil === undefined || now < this.servedUntil) return undefined;
    const why = this.lastError ? `; last renewal failed: ${this.lastError}` : '';
    return `serving certificate expired at ${this.servedUntil.toISOString()}${why}`;
  }

  private get secretsPath(): string {
    return `/api/v1/namespaces/${encodeURIComponent(this.options.namespace)}/secrets`;
  }

  private get secretPath(): string {
    return `${this.secretsPath}/${encodeURIComponent(this.options.secretName)}`;
  }

  private get webhookPath(): string {
    return `${WEBHOOK_CONFIGURATIONS}/${encodeURIComponent(this.options.webhookConfiguration)}`;
  }

  private async readSecret(): Promise<V1Secret> {
    const { namespace, secretName: name } = this.options;
    try {
      return await this.client.json<V1Secret>('GET', this.secretPath);
    } catch (error) {
      if (!isStatus(error, 404)) throw error;
    }
    // The chart creates the Secret so that RBAC can pin it by name; create it when run without one.
    try {
      return await this.client.json<V1Secret>('POST', this.secretsPath, {
        body: { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, type: 'Opaque' },
      });
    } catch (error) {
      if (isStatus(error, 409)) return this.client.json<V1Secret>('GET', this.secretPath);
      throw new Error(
        `${this.where} does not exist and cannot be created (${describeFailure(error)}); create it empty`,
      );
    }
  }

  private async readWebhookConfiguration(): Promise<V1MutatingWebhookConfiguration> {
    const name = this.options.webhookConfiguration;
    try {
      return await this.client.json<V1MutatingWebhookConfiguration>('GET', this.webhookPath);
    } catch (error) {
      if (isStatus(error, 404)) throw new Error(`MutatingWebhookConfiguration ${name} not found`);
      throw error;
    }
  }

  /** Replaces the Secret's data if nobody changed it since it was read; false on a conflict. */
  private async writeSecret(read: V1Secret, stored: StoredCertificates): Promise<boolean> {
    try {
      await this.client.json('PUT', this.secretPath, {
        body: { ...read, data: { ...othersData(read), ...encodeSecret(stored) } },
      });
      return true;
    } catch (error) {
      if (!isStatus(error, 409)) throw error;
      this.options.log.debug({ secret: this.where }, 'another replica updated the certificates first');
      return false;
    }
  }

  private async publishBundle(webhook: V1MutatingWebhookConfiguration, bundle: string[]): Promise<void> {
    const caBundle = Buffer.from(bundle.join('')).toString('base64');
    const webhooks = webhook.webhooks ?? [];
    if (bundle.length === 0 || webhooks.every((w) => w.clientConfig.caBundle === caBundle)) return;
    try {
      await this.client.json('PUT', this.webhookPath, {
        body: {
          ...webhook,
          webhooks: webhooks.map((w) => ({ ...w, clientConfig: { ...w.clientConfig, caBundle } })),
        },
      });
      this.options.log.info(
        { webhookConfiguration: this.options.webhookConfiguration, authorities: bundle.length },
        'webhook configuration caBundle updated',
      );
    } catch (error) {
      if (!isStatus(error, 409)) throw error;
    }
  }
}

/** Data of the Secret that this controller does not own (kept as it is). */
function othersData(read: V1Secret): Record<string, string> {
  const owned: string[] = Object.values(KEYS);
  return Object.fromEntries(Object.entries(read.data ?? {}).filter(([key]) => !owned.includes(key)));
}

/** Fingerprints of the CAs every webhook of the configuration trusts (unreadable blocks skipped). */
function trustedFingerprints(webhook: V1MutatingWebhookConfiguration): Set<string> {
  const bundles = (webhook.webhooks ?? []).map((w) =>
    splitBundle(Buffer.from(w.clientConfig.caBundle ?? '', 'base64').toString('utf8')).flatMap((pem) => {
      try {
        return [factsOf(pem).fingerprint];
      } catch {
        return [];
      }
    }),
  );
  if (bundles.length === 0) return new Set();
  return new Set(bundles[0]!.filter((fingerprint) => bundles.every((b) => b.includes(fingerprint))));
}
