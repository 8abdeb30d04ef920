// The cluster source's live read against an API server that accepts the connection and never
// answers: something a real kube-apiserver will not do on demand, so a bare TLS socket stands in.
// Everything else about this source is proven against a real kube-apiserver in test/e2e.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { ApiException, KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeFailure } from '../../src/cluster.js';
import { ClusterServiceAccountSource } from '../../src/serviceaccounts/cluster-source.js';
import { ServiceAccountLookupError } from '../../src/serviceaccounts/source.js';
import { DEFAULT_ANNOTATION_PREFIX } from '../../src/vocabulary.js';
import { testCertificates } from '../support/tls.js';
import { waitFor } from '../support/wait.js';

let server: Server;
let kubeConfig: KubeConfig;
const received: string[] = [];
let closed = 0;

beforeAll(async () => {
  const certs = await testCertificates('hung-apiserver');
  server = createServer({ cert: certs.cert, key: certs.key }, (request) => {
    received.push(request.url ?? '');
    request.once('close', () => (closed += 1));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [
      {
        name: 'hung',
        server: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
        caData: Buffer.from(certs.ca).toString('base64'),
      },
    ],
    users: [{ name: 'u', token: 'token' }],
    contexts: [{ name: 'hung', cluster: 'hung', user: 'u' }],
    currentContext: 'hung',
  });
});
afterAll(() => {
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('ClusterServiceAccountSource live lookup', () => {
  it('gives up at the grace period, aborts the request, and reads afresh on the next miss', async () => {
    const source = new ClusterServiceAccountSource({
      kubeConfig,
      annotationPrefix: DEFAULT_ANNOTATION_PREFIX,
      gracePeriodMs: 200,
      log: pino({ level: 'silent' }),
    });
    await expect(source.get('team', 'app')).rejects.toThrow(
      new ServiceAccountLookupError(
        'ServiceAccount team/app is not in the cache and the live lookup took longer than 200ms',
      ),
    );
    expect(received).toEqual(['/api/v1/namespaces/team/serviceaccounts/app']);
    await waitFor('the aborted request to close on the server', () => (closed === 1 ? true : undefined));
    await expect(source.get('team', 'app')).rejects.toThrow(ServiceAccountLookupError);
    expect(received).toHaveLength(2);
  });
});

describe('describeFailure: one short line for a failed list, watch or GET', () => {
  const forbidden = 'serviceaccounts is forbidden: User "x" cannot list resource "serviceaccounts"';
  const status = { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: forbidden, code: 403 };
  it.each([
    [
      'a Status body as JSON text (client-node 1.x)',
      new ApiException(403, 'm', JSON.stringify(status), {}),
      `HTTP 403: ${forbidden}`,
    ],
    ['a Status body as an object', new ApiException(403, 'm', status, {}), `HTTP 403: ${forbidden}`],
    [
      'a body that is not JSON',
      new ApiException(502, 'm', 'Bad Gateway\n<html>', {}),
      'HTTP 502: Bad Gateway',
    ],
    ['no body', new ApiException(500, 'm', undefined, {}), 'HTTP 500'],
    [
      'a fetch error with a code',
      Object.assign(
        new Error('request to https://h/api failed, reason: unable to verify the first certificate'),
        {
          code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
        },
      ),
      'request to https://h/api failed, reason: unable to verify the first certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE)',
    ],
    [
      'an error whose cause holds the reason',
      new Error('fetch failed', {
        cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
      }),
      'connect ECONNREFUSED 127.0.0.1:1',
    ],
    ['a multi-line message', new Error('first line\n    at stack frame'), 'first line'],
    ['something that is not an Error', 'plain text', 'plain text'],
  ])('%s', (_name, error, expected) => {
    expect(describeFailure(error)).toBe(expected);
  });
});
