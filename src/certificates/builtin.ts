// `serve --certificates=builtin`: the webhook is its own CA. Wires the controller to the server:
// the first serving pair before the port opens, every later one as a new secure context.
import type { Logger } from 'pino';
import { loadKubeConfig } from '../cluster.js';
import type { KeyPair } from '../server/tls.js';
import { factsOf, type PemPair } from './authority.js';
import { BuiltinCertificates } from './controller.js';

export interface BuiltinCertificateFlags {
  kubeconfig?: string;
  namespace: string;
  secretName: string;
  serviceName: string;
  webhookConfiguration: string;
  caValidityMs: number;
  certificateValidityMs: number;
  /** Names or IPs the serving certificate covers besides the Service's. */
  extraHosts: string[];
}

export interface BuiltinCertificateSource {
  first: KeyPair;
  /** Why this replica should get no traffic (an expired certificate), or undefined. */
  notReady(): string | undefined;
  stop(): void;
}

const clamp = (value: number, min: number, max: number): number => Math.min(Math.max(value, min), max);

/** The Service's DNS names, as kube-apiserver dials it. */
export function serviceHosts(service: string, namespace: string): string[] {
  return [
    service,
    `${service}.${namespace}`,
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.cluster.local`,
  ];
}

export async function startBuiltinCertificates(
  flags: BuiltinCertificateFlags,
  log: Logger,
  onPair: (pair: KeyPair) => void,
): Promise<BuiltinCertificateSource> {
  let resolveFirst!: (pair: KeyPair) => void;
  const first = new Promise<KeyPair>((resolve) => (resolveFirst = resolve));
  let delivered = false;
  const controller = new BuiltinCertificates({
    kubeConfig: loadKubeConfig(flags.kubeconfig),
    namespace: flags.namespace,
    secretName: flags.secretName,
    webhookConfiguration: flags.webhookConfiguration,
    settings: {
      hosts: [...serviceHosts(flags.serviceName, flags.namespace), ...flags.extraHosts],
      caValidityMs: flags.caValidityMs,
      certificateValidityMs: flags.certificateValidityMs,
      // Long enough for every kube-apiserver to read the new caBundle; short next to the lifetime.
      settleMs: clamp(flags.certificateValidityMs / 10, 2_000, 60_000),
    },
    intervalMs: clamp(flags.certificateValidityMs / 30, 1_000, 30_000),
    log,
    onServingPair: (pem) => {
      const pair = keyPair(pem);
      if (delivered) onPair(pair);
      else resolveFirst(pair);
      delivered = true;
    },
  });
  await controller.start();
  return { first: await first, notReady: () => controller.notReady(), stop: () => controller.stop() };
}

const keyPair = (pem: PemPair): KeyPair => ({ ...pem, notAfter: factsOf(pem.cert).notAfter });
