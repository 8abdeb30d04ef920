// Driving kube-apiserver from a test: global-setup owns the process; tests stop, start and restart
// it over global-setup's loopback control endpoint, and read its request counters.
import { cluster, logLocations } from './clients.js';
import { httpsRequest } from './https.js';
import { sampleSum } from '../../support/prometheus.js';

async function control(action: 'restart' | 'stop' | 'start'): Promise<void> {
  // A restart waits for kube-apiserver's /readyz; bounded so a stuck one fails here, with the logs.
  const res = await fetch(`${cluster().ctx.controlUrl}/apiserver/${action}`, {
    method: 'POST',
    signal: AbortSignal.timeout(100_000),
  });
  if (!res.ok) throw new Error(`kube-apiserver ${action} failed: ${await res.text()}\n${logLocations()}`);
}

/** Stops kube-apiserver and starts it again (same port, same etcd); resolves once /readyz is 200. */
export function restartApiServer(): Promise<void> {
  return control('restart');
}

export function stopApiServer(): Promise<void> {
  return control('stop');
}

export function startApiServer(): Promise<void> {
  return control('start');
}

/**
 * Sum of kube-apiserver's `apiserver_request_total` over the series with these labels, e.g.
 * { verb: 'GET', resource: 'serviceaccounts' }: how often clients made such requests.
 */
export async function apiServerRequestCount(labels: Record<string, string>): Promise<number> {
  const { ctx } = cluster();
  const res = await httpsRequest({
    url: `${ctx.apiServer.url}/metrics`,
    caFile: ctx.clusterCa.cert,
    clientCert: ctx.admin,
    headers: { accept: 'text/plain' },
  });
  if (res.status !== 200) throw new Error(`GET /metrics: HTTP ${res.status}`);
  return sampleSum(res.body, 'apiserver_request_total', labels);
}
