// The fastify app: /mutate, /healthz, /readyz. Limits and error mapping live here; the admission
// logic does not know it is behind HTTP.
import type { ServerOptions } from 'node:https';
import type { Server as TlsServer } from 'node:tls';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { admit, summarizeReview, type AdmitDependencies, type ReviewSummary } from '../admission/admit.js';
import { InvalidReviewError, parseReview } from '../admission/review.js';
import { ServiceAccountLookupError } from '../serviceaccounts/source.js';
import type { Metrics, Outcome } from './metrics.js';
import { refusePlainHttp } from './plain-http.js';

// Not `import ... from 'node:http'`: an ES import builds the module's namespace, reading every
// export, and its lazy WebSocket getters load undici (tens of ms at start, for nothing).
const { STATUS_CODES } = process.getBuiltinModule('node:http');

export const BODY_LIMIT = 3 * 1024 * 1024;
const MUTATE = '/mutate';
const JSON_TYPE = 'application/json';

export interface AppOptions extends AdmitDependencies {
  https: ServerOptions;
  log: Logger;
  metrics: Metrics;
  /** Why the webhook is not ready; empty when it is. */
  notReadyReasons(): string[];
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set once the review is parsed, so even a failed review's log line names it. */
    review: ReviewSummary | undefined;
    startedAt: number;
  }
}

/**
 * No route here declares a JSON schema (parseReview checks the body), so fastify gets compilers
 * that say so instead of loading its own: ajv and fast-json-stringify are ~300 KB of code to load
 * at every start, for nothing (the bundle leaves them out, see hack/bundle.mjs).
 */
const noSchemas = (): never => {
  throw new Error('pod-identity-webhook compiles no JSON schemas: routes must not declare one');
};

export function buildApp(options: AppOptions): FastifyInstance {
  const { log, metrics } = options;
  const app = Fastify({
    https: options.https,
    // Reviews are logged once each, by record() below; fastify's per-request lines would double them.
    logger: false,
    bodyLimit: BODY_LIMIT,
    return503OnClosing: true,
    schemaController: { compilersFactory: { buildValidator: noSchemas, buildSerializer: noSchemas } },
  }) as unknown as FastifyInstance;
  // Only JSON is an AdmissionReview: anything else is answered 415 by fastify.
  app.removeContentTypeParser('text/plain');
  const dropPreHttp = refusePlainHttp(app.server as unknown as TlsServer, (socket) =>
    log.warn(
      { remoteAddress: socket.remoteAddress, status: 400 },
      'plain HTTP request on the HTTPS port; answered 400: use https://',
    ),
  );
  app.addHook('preClose', async () => dropPreHttp());
  app.decorateRequest('review');
  app.decorateRequest('startedAt', 0);
  app.addHook('onRequest', async (request) => {
    request.review = undefined;
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
    const review = parseReview(request.body);
    request.review = summarizeReview(review);
    const result = await admit(review, options);
    record(request, result.outcome, {
      operations: result.patch.length,
      warnings: result.warnings,
    });
    return result.response;
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = statusOf(error);
    const message = messageOf(error, status, request);
    // routeOptions.url is the route, not the request line: kube-apiserver calls /mutate?timeout=10s.
    if (request.routeOptions.url === MUTATE) {
      // A client's mistake is one warn line with the reason; only our own failures carry a stack.
      if (status < 500) record(request, 'invalid', { status, reason: message });
      else record(request, 'error', { status, err: error });
    }
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

/** What the client is told: what was wrong and what was expected. */
function messageOf(error: FastifyError, status: number, request: FastifyRequest): string {
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return `expected Content-Type ${JSON_TYPE}, got ${JSON.stringify(request.headers['content-type'] ?? '')}`;
  }
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return `request body is larger than the limit of ${BODY_LIMIT} bytes (${BODY_LIMIT / 1024 / 1024} MiB)`;
  }
  if (status === 500 && !(error instanceof ServiceAccountLookupError)) return 'internal error';
  return error.message;
}

function statusOf(error: FastifyError): number {
  if (error instanceof InvalidReviewError) return 400;
  if (error instanceof ServiceAccountLookupError) return 500;
  return error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500;
}
