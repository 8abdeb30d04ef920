// The HTTPS server through supertest over real TLS: the client trusts only the test CA.
import fc from 'fast-check';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request as httpRequest } from 'node:http';
import { connect as connectTcp, type AddressInfo } from 'node:net';
import type { ServiceAccountSource } from '../../src/serviceaccounts/source.js';
import { ServiceAccountLookupError } from '../../src/serviceaccounts/source.js';
import { buildTestApp, testApp, type TestApp } from '../support/app.js';
import { appPod, podReview, ROLE_ARN, SERVICE_ACCOUNTS_YAML } from '../support/reviews.js';
import { testCertificates, type TestCertificates } from '../support/tls.js';
import { loadFixtures } from '../support/fixtures.js';
import { sampleSum } from '../support/prometheus.js';
import { captureLog } from '../support/log.js';
import { waitFor } from '../support/wait.js';
import { PLAIN_HTTP_MESSAGE } from '../../src/server/plain-http.js';
import { DEFAULT_TOKEN_MOUNT_PATH, ENV, TOKEN_FILE } from '../../src/vocabulary.js';

/** Every path into a JSON value: object keys and array indexes. */
function pathsOf(value: unknown, prefix: string[] = []): string[][] {
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, child]) => [
    [...prefix, key],
    ...pathsOf(child, [...prefix, key]),
  ]);
}

function setAt(root: unknown, path: string[], value: unknown): void {
  const parent = path.slice(0, -1).reduce((node, key) => (node as Record<string, unknown>)[key], root);
  (parent as Record<string, unknown>)[path.at(-1)!] = value;
}

let certs: TestCertificates;
let server: TestApp;

const post = (body: string | object, contentType = 'application/json') =>
  request(server.app.server).post('/mutate').ca(certs.ca).set('content-type', contentType).send(body);

const decodePatch = (patch: string): unknown => JSON.parse(Buffer.from(patch, 'base64').toString('utf8'));

beforeAll(async () => {
  certs = await testCertificates();
  server = await testApp(certs, SERVICE_ACCOUNTS_YAML);
});
afterAll(() => server.app.close());

describe('POST /mutate', () => {
  it('answers a Pod CREATE with a JSON patch, in the request’s apiVersion and uid', async () => {
    const response = await post(podReview(appPod())).expect(200);
    expect(response.body.apiVersion).toBe('admission.k8s.io/v1');
    expect(response.body.response).toMatchObject({
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      allowed: true,
      patchType: 'JSONPatch',
    });
    expect(decodePatch(response.body.response.patch)).toContainEqual({
      op: 'add',
      path: '/spec/containers/0/env',
      value: [
        { name: ENV.roleArn, value: ROLE_ARN },
        { name: ENV.webIdentityTokenFile, value: `${DEFAULT_TOKEN_MOUNT_PATH}/${TOKEN_FILE}` },
      ],
    });
  });

  it('answers v1beta1 in v1beta1', async () => {
    const response = await post({ ...podReview(appPod()), apiVersion: 'admission.k8s.io/v1beta1' }).expect(
      200,
    );
    expect(response.body.apiVersion).toBe('admission.k8s.io/v1beta1');
    expect(response.body.response.patch).toBeDefined();
  });

  it('accepts application/json with a charset', async () => {
    await post(JSON.stringify(podReview(appPod())), 'application/json; charset=utf-8').expect(200);
  });

  it('allows other operations and resources unchanged', async () => {
    for (const overrides of [
      { operation: 'UPDATE' },
      {
        kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
        resource: { group: 'apps', version: 'v1', resource: 'deployments' },
      },
      { subResource: 'ephemeralcontainers', operation: 'UPDATE' },
    ]) {
      const response = await post(podReview(appPod(), overrides)).expect(200);
      expect(response.body.response).toEqual({ uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true });
    }
  });

  it('warns and does not mutate when the ServiceAccount does not exist', async () => {
    const response = await post(podReview(appPod('missing'))).expect(200);
    expect(response.body.response.patch).toBeUndefined();
    expect(response.body.response.warnings).toEqual([
      'ServiceAccount default/missing not found; Pod not mutated',
    ]);
  });

  it('answers a malformed review with 400 and a JSON body naming the problem', async () => {
    const review = podReview(appPod());
    (review['request'] as Record<string, unknown>)['object'] = { spec: { containers: 'oops' } };
    const response = await post(review).expect(400);
    expect(response.body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: 'request.object.spec.containers must be an array, got string',
    });
  });

  it('answers invalid JSON with 400', async () => {
    const response = await post('{"apiVersion":', 'application/json').expect(400);
    expect(response.body.statusCode).toBe(400);
  });

  it.each([
    ['text/plain', 'text/plain'],
    ['application/xml', 'application/xml'],
  ])('answers %s with 415 naming the expected content type', async (_name, type) => {
    const response = await post(JSON.stringify(podReview(appPod())), type).expect(415);
    expect(response.body.message).toBe(`expected Content-Type application/json, got "${type}"`);
  });

  it('answers a body over 3 MiB with 413 naming the limit', async () => {
    const big = podReview({
      ...appPod(),
      metadata: { name: 'big', annotations: { filler: 'x'.repeat(3 * 1024 * 1024) } },
    });
    const response = await post(big).expect(413);
    expect(response.body.message).toBe('request body is larger than the limit of 3145728 bytes (3 MiB)');
  });

  it('never crashes and never answers 5xx on arbitrary JSON', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.jsonValue(),
          fc.record({
            apiVersion: fc.constant('admission.k8s.io/v1'),
            kind: fc.constant('AdmissionReview'),
            request: fc.jsonValue(),
          }),
          fc.jsonValue().map((object) => podReview(appPod(), { object })),
        ),
        async (body) => {
          const response = await post(JSON.stringify(body));
          expect([200, 400]).toContain(response.status);
        },
      ),
      { numRuns: 150 },
    );
    await post(podReview(appPod())).expect(200);
  });

  it('answers a null in any field of a recorded Pod with 200 or 400, never a 5xx', async () => {
    const fixture = loadFixtures().find((f) => f.name === 'native-sidecar')!;
    const source = await testApp(certs, fixture.serviceAccounts, fixture.options);
    try {
      const statuses = new Map<number, number>();
      for (const path of pathsOf(fixture.review.request.object)) {
        const review = structuredClone(fixture.review);
        setAt(review.request.object, path, null);
        const response = await request(source.app.server).post('/mutate').ca(certs.ca).send(review);
        expect([200, 400], `null at /${path.join('/')}: ${response.text}`).toContain(response.status);
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      }
      expect(statuses.get(200)).toBeGreaterThan(50);
      expect(statuses.get(400)).toBeGreaterThan(5);
    } finally {
      await source.app.close();
    }
  });

  it('counts and logs reviews sent to /mutate with a query string, as kube-apiserver sends them', async () => {
    const name = 'pod_identity_webhook_admission_requests_total';
    const before = await server.metrics.registry.metrics();
    await request(server.app.server).post('/mutate?timeout=10s').ca(certs.ca).send([]).expect(400);
    await request(server.app.server)
      .post('/mutate?timeout=10s')
      .ca(certs.ca)
      .send(podReview(appPod()))
      .expect(200);
    const after = await server.metrics.registry.metrics();
    const grew = (outcome: string) =>
      sampleSum(after, name, { outcome }) - sampleSum(before, name, { outcome });
    expect(grew('invalid')).toBe(1);
    expect(grew('mutated')).toBe(1);
  });

  it('counts outcomes in the metrics', async () => {
    await post(podReview(appPod())).expect(200);
    await post({}).expect(400);
    const text = await server.metrics.registry.metrics();
    expect(text).toMatch(/pod_identity_webhook_admission_requests_total\{outcome="mutated"\} [1-9]/);
    expect(text).toMatch(/pod_identity_webhook_admission_requests_total\{outcome="invalid"\} [1-9]/);
    expect(text).toMatch(/pod_identity_webhook_service_account_cache_size 2/);
    expect(text).toMatch(/^pod_identity_webhook_service_account_cache_synced 1$/m);
  });
});

describe('a ServiceAccount lookup that fails', () => {
  it('answers 500 naming the ServiceAccount, so the failure policy decides', async () => {
    const failing: ServiceAccountSource = {
      get: async (namespace, name) => {
        throw new ServiceAccountLookupError(
          `ServiceAccount ${namespace}/${name} could not be looked up: connection refused`,
        );
      },
      size: () => 0,
    };
    const broken = await testApp(certs, failing);
    try {
      const response = await request(broken.app.server)
        .post('/mutate')
        .ca(certs.ca)
        .send(podReview(appPod()))
        .expect(500);
      expect(response.body.message).toBe(
        'ServiceAccount default/app could not be looked up: connection refused',
      );
      expect(await broken.metrics.registry.metrics()).toMatch(
        /admission_requests_total\{outcome="error"\} 1/,
      );
    } finally {
      await broken.app.close();
    }
  });
});

describe('health', () => {
  it('serves /healthz and a /readyz that lists why it is not ready', async () => {
    await request(server.app.server).get('/healthz').ca(certs.ca).expect(200, { status: 'ok' });
    await request(server.app.server).get('/readyz').ca(certs.ca).expect(200, { status: 'ready' });
    const notReady = await testApp(certs, SERVICE_ACCOUNTS_YAML, undefined, () => [
      'ServiceAccount cache not synced',
    ]);
    try {
      await request(notReady.app.server)
        .get('/readyz')
        .ca(certs.ca)
        .expect(503, { status: 'not ready', reasons: ['ServiceAccount cache not synced'] });
    } finally {
      await notReady.app.close();
    }
  });
});

describe('what a client gets wrong, it is told and it is logged', () => {
  let app: TestApp;
  let captured: ReturnType<typeof captureLog>;
  beforeAll(async () => {
    captured = captureLog();
    app = await testApp(certs, SERVICE_ACCOUNTS_YAML, undefined, undefined, captured.log);
    await app.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => app.app.close());

  const plainHttp = (path: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const { port } = app.app.server.address() as AddressInfo;
      httpRequest({ host: '127.0.0.1', port, path, method: 'POST' }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      })
        .once('error', reject)
        .end('{}');
    });

  it('answers a plain-HTTP request to the HTTPS port with 400 saying so, and logs it', async () => {
    expect(await plainHttp('/mutate')).toEqual({ status: 400, body: PLAIN_HTTP_MESSAGE });
    const line = await waitFor('the plain-HTTP log line', () =>
      captured.lines.find((l) => String(l['msg']).startsWith('plain HTTP request on the HTTPS port')),
    );
    expect(line).toMatchObject({ level: 40, status: 400 });
    // The port still speaks TLS afterwards.
    await request(app.app.server).get('/healthz').ca(certs.ca).expect(200);
  });

  it('closes without waiting on a connection that has sent nothing yet', async () => {
    const other = await testApp(certs, SERVICE_ACCOUNTS_YAML);
    await other.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = other.app.server.address() as AddressInfo;
    const idle = connectTcp({ host: '127.0.0.1', port });
    await new Promise((resolve) => idle.once('connect', resolve));
    const closedByServer = new Promise((resolve) => idle.once('close', resolve));
    // The first-byte wait is 10 s; closing must not wait for it (the shutdown budget is 10 s).
    await Promise.race([
      other.app.close(),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error('close waited on the idle connection')), 5000),
      ),
    ]);
    await closedByServer;
  });

  it.each([
    [
      'a wrong content type',
      'text/plain',
      '{}',
      415,
      'expected Content-Type application/json, got "text/plain"',
    ],
    [
      'a malformed review',
      'application/json',
      '{}',
      400,
      'apiVersion must be one of admission.k8s.io/v1, admission.k8s.io/v1beta1, got nothing',
    ],
  ])('logs %s as one warn line with the reason and no stack', async (_name, type, body, status, reason) => {
    const before = captured.lines.length;
    await request(app.app.server)
      .post('/mutate')
      .ca(certs.ca)
      .set('content-type', type)
      .send(body)
      .expect(status);
    const line = await waitFor('the review log line', () =>
      captured.lines.slice(before).find((l) => l['msg'] === 'admission review'),
    );
    expect(line).toMatchObject({ level: 40, outcome: 'invalid', status, reason });
    expect(JSON.stringify(line)).not.toMatch(/stack|"err"/);
  });
});

describe('JSON schemas', () => {
  // The app gives fastify compilers that refuse schemas, so it never loads ajv or
  // fast-json-stringify (the bundle leaves them out): a route with a schema fails loudly.
  it('a route declaring one fails at start-up, naming why', async () => {
    const { app } = buildTestApp(certs, SERVICE_ACCOUNTS_YAML);
    app.post('/with-schema', { schema: { body: { type: 'object' } } }, async () => ({}));
    await expect(app.ready()).rejects.toThrow(/compiles no JSON schemas/);
    await app.close();
  });
});
