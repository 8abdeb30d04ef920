// The fastify app: /mutate, /healthz, /readyz. Limits and error mapping live here; the admission
// logic does not know it is behind HTTP.
import { STATUS_CODES } from 'node:http';
import type { ServerOptions } from 'node:https';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { admit, type AdmitDependencies, type ReviewSummary } from '../admission/admit.js';
import { InvalidReviewError, parseReview } from '../admission/review.js';
import { ServiceAccountLookupError } from '../identity/source.js';
import type { Metrics, Outcome } from './metrics.js';

export const BODY_LIMIT = 3 * 1024 * 1024;
const MUTATE = '/mutate';

export interface AppOptions extends AdmitDependencies {
  https: ServerOptions;
  log: Logger;
  metrics: Metrics;
  /** Why the webhook is not ready; empty when it is. */
  notReadyReasons(): string[];
}

declare module 'fastify' {
  interface FastifyRequest {
    review: ReviewSummary;
    startedAt: number;
  }
}

export function buildApp(options: AppOptions): FastifyInstance {
  const { log, metrics } = options;
  const app = Fastify({
    https: options.https,
    // Reviews are logged once each, by record() below; fastify's per-request lines would double them.
    logger: false,
    bodyLimit: BODY_LIMIT,
    return503OnClosing: true,
  }) as unknown as FastifyInstance;
  // Only JSON is an AdmissionReview: anything else is answered 415 by fastify.
  app.removeContentTypeParser('text/plain');
  app.decorateRequest('review');
  app.decorateRequest('startedAt', 0);
  app.addHook('onRequest', async (request) => {
    request.review = {};
    request.startedAt = performance.now();
  });

  /** One metric sample and one log line per review, whatever its outcome. */
  const record = (request: FastifyRequest, outcome: Outcome, extra: object): void => {
    const seconds = (performance.now() - request.startedAt) / 1000;
    metrics.requests.inc({ outcome });
    metrics.duration.observe({ outcome }, seconds);
    const level = outcome === 'error' ? 'error' : outcome === 'invalid' ? 'warn' : 'info';
    log[level](
      { ...request.review, outcome, durationMs: Math.round(seconds * 1e6) / 1e3, ...extra },
      'admission review',
    );
  };

  app.post(MUTATE, async (request) => {
    const result = await admit(parseReview(request.body), options, request.review);
    record(request, result.outcome, {
      operations: result.patch.length,
      warnings: result.warnings,
    });
    return result.response;
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = statusOf(error);
    const outcome: Outcome = status < 500 ? 'invalid' : 'error';
    // routeOptions.url is the route, not the request line: kube-apiserver calls /mutate?timeout=10s.
    if (request.routeOptions.url === MUTATE) {
      record(request, outcome, { status, err: error });
    }
    const message =
      status === 500 && !(error instanceof ServiceAccountLookupError) ? 'internal error' : error.message;
    void reply.code(status).send({ statusCode: status, error: STATUS_CODES[status], message });
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const reasons = options.notReadyReasons();
    if (reasons.length > 0) return reply.code(503).send({ status: 'not ready', reasons });
    return { status: 'ready' };
  });
  return app;
}

function statusOf(error: FastifyError): number {
  if (error instanceof InvalidReviewError) return 400;
  if (error instanceof ServiceAccountLookupError) return 500;
  return error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500;
}
