import type { IncomingMessage } from 'node:http';
import { request as httpsRequest, type Agent } from 'node:https';
import type { ServeFlags } from '../../src/commands/serve.js';
/** The ports from `serve`'s "pod-identity-webhook serving" log line, once its output holds it. */
export function servingPorts(output: string): { port: number; metricsPort: number } | undefined {
  const line = output.split('\n').find((l) => l.includes('"msg":"pod-identity-webhook serving"'));
  return line === undefined ? undefined : (JSON.parse(line) as { port: number; metricsPort: number });
}

/** `serve` on free ports (0) with the given certificate files: the CLI's arguments. */
export function serveArgs(certs: { certFile: string; keyFile: string }): string[] {
  return [
    'serve',
    '--port',
    '0',
    '--metrics-port',
    '0',
    '--tls-cert',
    certs.certFile,
    '--tls-key',
    certs.keyFile,
  ];
}

/** `serve()`'s flags for a test: free ports, the given certificate files, the example ServiceAccounts. */
export function testServeFlags(certs: { certFile: string; keyFile: string }): ServeFlags {
  return {
    port: 0,
    metricsPort: 0,
    tlsCert: certs.certFile,
    tlsKey: certs.keyFile,
    tlsMinVersion: '1.2',
    serviceAccounts: 'examples/service-accounts.yaml',
    serviceAccountLookupGracePeriod: 1000,
    shutdownDelay: 0,
    logLevel: 'silent',
  };
}

export interface HttpsAnswer {
  status: number;
  body: string;
}

function answer(resolve: (answer: HttpsAnswer) => void): (res: IncomingMessage) => void {
  return (res) => {
    let text = '';
    res.on('data', (chunk: Buffer) => (text += chunk.toString()));
    res.on('end', () => resolve({ status: res.statusCode!, body: text }));
  };
}

/**
 * POSTs a review (an object, or JSON text) to /mutate on 127.0.0.1 over HTTPS, trusting `ca`.
 * A connection of its own unless given an agent: the global one keeps sockets alive.
 */
export function postReview(
  port: number,
  ca: string,
  body: object | string,
  agent?: Agent,
): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path: '/mutate',
        method: 'POST',
        ca,
        agent: agent ?? false,
        headers: { 'content-type': 'application/json' },
      },
      answer(resolve),
    );
    req.once('error', reject);
    req.end(typeof body === 'string' ? body : JSON.stringify(body));
  });
}

/** GETs `path` on 127.0.0.1 over HTTPS, trusting `ca`. */
export function httpsGet(port: number, ca: string, path: string): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    httpsRequest({ host: '127.0.0.1', port, path, ca, agent: false }, answer(resolve))
      .once('error', reject)
      .end();
  });
}
