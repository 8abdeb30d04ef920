// Prometheus metrics on a plain-HTTP port of their own, so scraping needs no client certificate.
import type { Server } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

// Not an ES import of node:http: that loads undici for its WebSocket exports (see app.ts).
const { createServer } = process.getBuiltinModule('node:http');

export type Outcome = 'mutated' | 'unchanged' | 'invalid' | 'error';

export interface Metrics {
  registry: Registry;
  requests: Counter<'outcome'>;
  duration: Histogram<'outcome'>;
  cacheMisses: Counter;
  liveLookups: Counter<'result'>;
  certificateExpiry: Gauge;
  /** `--watch-config-map`: ConfigMaps that could not be read (the last good mapping is kept). */
  configMapErrors: Counter;
  /** `--watch-config-map`: entries of the mapping in use. */
  configMapEntries: Gauge;
}

/** What the gauges read at scrape time. */
export interface CacheState {
  size(): number;
  synced(): boolean;
}

export function createMetrics(cache: CacheState): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  new Gauge({
    name: 'pod_identity_webhook_service_account_cache_size',
    help: 'ServiceAccounts held in memory',
    registers,
    collect() {
      this.set(cache.size());
    },
  });
  new Gauge({
    name: 'pod_identity_webhook_service_account_cache_synced',
    help: '1 once the ServiceAccount cache holds a full list (always 1 with --service-accounts), else 0',
    registers,
    collect() {
      this.set(cache.synced() ? 1 : 0);
    },
  });
  return {
    registry,
    requests: new Counter({
      name: 'pod_identity_webhook_admission_requests_total',
      help: 'AdmissionReview requests by outcome (mutated, unchanged, invalid, error)',
      labelNames: ['outcome'],
      registers,
    }),
    duration: new Histogram({
      name: 'pod_identity_webhook_admission_duration_seconds',
      help: 'Time to answer an AdmissionReview, by outcome',
      labelNames: ['outcome'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    cacheMisses: new Counter({
      name: 'pod_identity_webhook_service_account_cache_misses_total',
      help: 'Lookups of a ServiceAccount the informer cache did not hold',
      registers,
    }),
    liveLookups: new Counter({
      name: 'pod_identity_webhook_service_account_live_lookups_total',
      help: 'Live ServiceAccount GETs after a cache miss, by result (found, not_found, error, timeout)',
      labelNames: ['result'],
      registers,
    }),
    certificateExpiry: new Gauge({
      name: 'pod_identity_webhook_tls_certificate_expiry_timestamp_seconds',
      help: 'Expiry time of the serving certificate (Unix seconds)',
      registers,
    }),
    configMapErrors: new Counter({
      name: 'pod_identity_webhook_config_map_errors_total',
      help: 'Versions of the pod-identity-webhook ConfigMap that could not be read (--watch-config-map); the last good mapping is kept',
      registers,
    }),
    configMapEntries: new Gauge({
      name: 'pod_identity_webhook_config_map_entries',
      help: 'Entries of the pod-identity-webhook ConfigMap mapping in use (--watch-config-map)',
      registers,
    }),
  };
}

export function serveMetrics(registry: Registry, port: number, host?: string): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.url !== '/metrics') {
      response.writeHead(404).end('not found: metrics are served at /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (error: Error) => response.writeHead(500).end(`${error.message}\n`),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
