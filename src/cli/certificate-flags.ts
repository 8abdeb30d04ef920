// The flags of `serve --certificates=builtin`. --tls-secret, --namespace and --service-name are the
// Go webhook's names for the same things in its own certificate mode.
import { readFileSync } from 'node:fs';
import type { ServeFlags } from '../commands/serve.js';
import { formatDuration } from './flags.js';

export const CERTIFICATE_MODES = ['files', 'builtin'] as const;

export const BUILTIN = {
  secretName: 'pod-identity-webhook',
  serviceName: 'pod-identity-webhook',
  webhookConfiguration: 'pod-identity-webhook',
  caValidityMs: 5 * 365 * 24 * 3_600_000,
  certificateValidityMs: 365 * 24 * 3_600_000,
};

/** Shorter lifetimes leave no time to publish a new CA before it must sign. */
const MIN_VALIDITY_MS = 30_000;

const BUILTIN_ONLY = ['tlsSecret', 'namespace', 'serviceName', 'webhookConfiguration', 'certificateHosts'];
const flagName = (attribute: string): string =>
  `--${attribute.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** The namespace this Pod runs in: $POD_NAMESPACE (downward API), else its ServiceAccount's. */
function ownNamespace(): string | undefined {
  if (process.env['POD_NAMESPACE']) return process.env['POD_NAMESPACE'];
  try {
    return readFileSync('/var/run/secrets/kubernetes.io/serviceaccount/namespace', 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function certificateFlags(
  flags: Record<string, unknown>,
): Pick<ServeFlags, 'certificates' | 'builtin'> {
  if (flags['certificates'] !== 'builtin') return { certificates: 'files' };
  const namespace = (flags['namespace'] as string | undefined) ?? ownNamespace();
  if (namespace === undefined) {
    throw new Error('--certificates=builtin needs --namespace (or $POD_NAMESPACE, or to run in a Pod)');
  }
  const caValidityMs = flags['caValidity'] as number;
  const certificateValidityMs = flags['certificateValidity'] as number;
  if (certificateValidityMs < MIN_VALIDITY_MS) {
    throw new Error(
      `--certificate-validity must be at least 30s, got ${formatDuration(certificateValidityMs)}`,
    );
  }
  if (caValidityMs < certificateValidityMs) {
    throw new Error(
      `--ca-validity (${formatDuration(caValidityMs)}) must be at least --certificate-validity (${formatDuration(certificateValidityMs)})`,
    );
  }
  return {
    certificates: 'builtin',
    builtin: {
      namespace,
      secretName: (flags['tlsSecret'] as string | undefined) ?? BUILTIN.secretName,
      serviceName: (flags['serviceName'] as string | undefined) ?? BUILTIN.serviceName,
      webhookConfiguration:
        (flags['webhookConfiguration'] as string | undefined) ?? BUILTIN.webhookConfiguration,
      caValidityMs,
      certificateValidityMs,
      extraHosts: (flags['certificateHosts'] as string[] | undefined) ?? [],
    },
  };
}

/**
 * `--watch-config-map`: the namespace of the ConfigMap, --namespace else the Pod's own (as builtin
 * mode); undefined when off. The Go webhook's --namespace defaults to "eks" instead.
 */
export function configMapNamespace(flags: Record<string, unknown>): string | undefined {
  if (flags['watchConfigMap'] !== true) return undefined;
  const namespace = (flags['namespace'] as string | undefined) ?? ownNamespace();
  if (namespace === undefined) {
    throw new Error('--watch-config-map needs --namespace (or $POD_NAMESPACE, or to run in a Pod)');
  }
  return namespace;
}

/** The Go webhook's Deployment passes --namespace and --service-name whatever its mode: say they do nothing. */
export function builtinOnlyWarnings(flags: Record<string, unknown>): string[] {
  if (flags['certificates'] === 'builtin') return [];
  return BUILTIN_ONLY.filter(
    (attribute) =>
      flags[attribute] !== undefined && !(attribute === 'namespace' && flags['watchConfigMap'] === true),
  ).map((attribute) => `${flagName(attribute)} is used only with --certificates=builtin; ignored`);
}
