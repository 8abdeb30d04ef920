// KubeClient and ListWatch against a local plain-HTTP stand-in for the API server: the failure
// paths a real kube-apiserver cannot be made to take on demand (malformed events, a 410 at once
// after every list). The real API server paths are in test/e2e/list-watch.test.ts.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeClient, type KubeObject } from '../../src/cluster.js';
import { ListWatch } from '../../src/serviceaccounts/list-watch.js';

type Handler = (request: IncomingMessage, response: ServerResponse) => void;
let server: Server | undefined;

async function standIn(handler: Handler): Promise<KubeClient> {
  server = createServer(handler);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return new KubeClient(config);
}

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

describe('KubeClient.watch', () => {
  it('ends the watch with the error, not the process, when handling an event throws', async () => {
    const client = await standIn((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"type":"ADDED"}\n'); // no object
    });
    const { ended } = await client.watch<KubeObject>('/api/v1/serviceaccounts?watch=1', (event) => {
      if (!event.object) throw new Error('the event has no object');
    });
    await expect(ended).rejects.toThrow('the event has no object');
  });
});

describe('ListWatch', () => {
  it('reports a 410 at once after every list as a failure (to be retried with backoff), not a busy relist', async () => {
    let lists = 0;
    const client = await standIn((request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      if (!request.url!.includes('watch=1')) {
        lists += 1;
        response.end(JSON.stringify({ metadata: { resourceVersion: String(lists) }, items: [] }));
        return;
      }
      response.end(`${JSON.stringify({ type: 'ERROR', object: { code: 410, message: 'too old' } })}\n`);
    });
    const informer = new ListWatch<KubeObject>({
      client,
      path: '/api/v1/serviceaccounts',
      list: () => ({ add: () => undefined, done: () => undefined }),
      onEvent: () => undefined,
    });
    const failed = new Promise<unknown>((resolve) => informer.on('error', resolve));
    await informer.start();
    expect(String(await failed)).toMatch(/ended \d+ms after it began/);
    expect(lists).toBe(1);
    await informer.stop();
  });
});
