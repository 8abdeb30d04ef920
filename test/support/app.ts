import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { FileServiceAccountSource } from '../../src/serviceaccounts/file-source.js';
import type { ServiceAccountSource } from '../../src/serviceaccounts/source.js';
import { DEFAULT_MUTATION_OPTIONS, type MutationOptions } from '../../src/identity/options.js';
import { buildApp } from '../../src/server/app.js';
import { createMetrics, type Metrics } from '../../src/server/metrics.js';
import type { TestCertificates } from './tls.js';

export interface TestApp {
  app: FastifyInstance;
  metrics: Metrics;
}

/** The real fastify app over real TLS, with a file-backed (or given) ServiceAccount source; not started. */
export function buildTestApp(
  certs: TestCertificates,
  source: ServiceAccountSource | string,
  options: MutationOptions = DEFAULT_MUTATION_OPTIONS,
  notReadyReasons: () => string[] = () => [],
  log: Logger = pino({ level: 'silent' }),
): TestApp {
  const accounts = typeof source === 'string' ? FileServiceAccountSource.fromText(source, 'test') : source;
  const metrics = createMetrics({
    size: () => accounts.size(),
    synced: () => notReadyReasons().length === 0,
  });
  const app = buildApp({
    https: { cert: certs.cert, key: certs.key },
    source: accounts,
    options,
    log,
    metrics,
    notReadyReasons,
  });
  return { app, metrics };
}

/** buildTestApp, started. */
export async function testApp(...args: Parameters<typeof buildTestApp>): Promise<TestApp> {
  const built = buildTestApp(...args);
  await built.app.ready();
  return built;
}
