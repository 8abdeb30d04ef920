// Reaching the cluster: which kubeconfig to use, and how to say in one line why a request failed.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ApiException, KubeConfig } from '@kubernetes/client-node';

/**
 * Loads --kubeconfig, else the in-cluster config, else $KUBECONFIG or ~/.kube/config. With none of
 * them, client-node would fall back to a guess (localhost) and fail on every retry: refuse instead.
 */
export function loadKubeConfig(file: string | undefined): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (file) kubeConfig.loadFromFile(file);
  else if (process.env['KUBERNETES_SERVICE_HOST']) kubeConfig.loadFromCluster();
  else if (process.env['KUBECONFIG'] || existsSync(join(homedir(), '.kube', 'config')))
    kubeConfig.loadFromDefault();
  else {
    throw new Error(
      'no ServiceAccounts to read: pass --service-accounts FILE to read them from a file, or --kubeconfig FILE to read them from a cluster (no in-cluster config, $KUBECONFIG or ~/.kube/config was found)',
    );
  }
  return kubeConfig;
}

/** The `message` of a Kubernetes Status body, which client-node hands over as JSON text. */
function statusMessage(body: unknown): string {
  let status = body;
  if (typeof body === 'string') {
    try {
      status = JSON.parse(body);
    } catch {
      return body.split('\n')[0]!.slice(0, 200);
    }
  }
  const message = (status as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : '';
}

/** One short line for a failed list, watch or GET: no stack, no response headers. */
export function describeFailure(error: unknown): string {
  if (error instanceof ApiException) {
    const message = statusMessage(error.body);
    return `HTTP ${error.code}${message ? `: ${message}` : ''}`;
  }
  if (!(error instanceof Error)) return String(error);
  // fetch errors carry the reason in `cause` (undici) or `code` (node-fetch).
  const { cause, code } = error as { cause?: { code?: unknown; message?: unknown }; code?: unknown };
  const detail = typeof cause?.message === 'string' ? cause.message : error.message;
  const errno = typeof cause?.code === 'string' ? cause.code : code;
  return `${detail.split('\n')[0]}${typeof errno === 'string' && !detail.includes(errno) ? ` (${errno})` : ''}`;
}
