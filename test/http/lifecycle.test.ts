// serve() as a whole: certificate reload, readiness and graceful shutdown, over real TLS.
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFile, readFile, rename, writeFile } from 'node:fs/promises';
import { Agent, request as httpsRequest } from 'node:https';
import {
  connect as netConnect,
  createServer as createNetServer,
  type AddressInfo,
  type Socket,
} from 'node:net';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { connect } from 'node:tls';
import type { V1ServiceAccount } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { serve, SHUTDOWN_TIMEOUT_MS, type RunningServer } from '../../src/commands/serve.js';
import type { ServiceAccountSource } from '../../src/serviceaccounts/source.js';
import { DEFAULT_MUTATION_OPTIONS } from '../../src/identity/options.js';
import { createCA, issueCertificate } from '../../scripts/pki.mjs';
import { appPod, podReview, ROLE_ARN, ROLE_ARN_KEY } from '../support/reviews.js';
import { testCertificates, type TestCertificates } from '../support/tls.js';
import { waitFor } from '../support/wait.js';
import { httpsGet, postReview, serveArgs, servingPorts, testServeFlags } from '../support/serving.js';
import { captureLog } from '../support/log.js';

/** A source whose lookups wait until released: holds a request in flight. */
function heldSource(): ServiceAccountSource & { release(): void; waiting: Promise<void> } {
  let release!: () => void;
  let started!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const waiting = new Promise<void>((resolve) => (started = resolve));
  const account: V1ServiceAccount = { metadata: { annotations: { [ROLE_ARN_KEY]: ROLE_ARN } } };
  return {
    async get() {
      started();
      await released;
      return account;
    },
    size: () => 1,
    release,
    waiting,
  };
}

/** The fingerprint of the certificate a new TLS connection is served. */
function servedFingerprint(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      resolve(socket.getPeerX509Certificate()!.fingerprint256);
      socket.end();
    });
    socket.once('error', reject);
  });
}

/**
 * A connection whose TLS handshake starts and stalls: a real client's ClientHello goes out, the
 * server's answer comes back (so the server's TLS layer has it), and the client never sends more.
 */
function stalledHandshake(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const raw = netConnect(port, '127.0.0.1');
    let helloSent = false;
    const firstFlightOnly = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, done) {
        if (!helloSent) raw.write(chunk);
        helloSent = true;
        done();
      },
    });
    connect({ socket: firstFlightOnly, servername: 'localhost', rejectUnauthorized: false }).on(
      'error',
      () => {},
    );
    raw.once('data', () => resolve(raw));
    raw.once('error', reject);
  });
}

/** A TCP connection that never sends a byte, once it is open. */
const silentConnection = (port: number): Promise<Socket> =>
  new Promise((resolve, reject) => {
    const raw = netConnect(port, '127.0.0.1', () => resolve(raw));
    raw.once('error', reject);
  });

const closedEvent = (socket: Socket): Promise<void> =>
  new Promise((resolve) => (socket.closed ? resolve() : socket.once('close', () => resolve())));

const fingerprintOf = async (file: string) => new X509Certificate(await readFile(file)).fingerprint256;

let certs: TestCertificates;
let running: RunningServer | undefined;

beforeEach(async () => {
  certs = await testCertificates();
});
afterEach(async () => {
  await running?.shutdown();
  running = undefined;
});

describe('certificate reload', () => {
  it('serves a rotated certificate to new connections while a request in flight completes', async () => {
    const source = heldSource();
    running = await serve(testServeFlags(certs), DEFAULT_MUTATION_OPTIONS, {
      log: pino({ level: 'silent' }),
      source,
    });
    const before = await fingerprintOf(certs.certFile);
    expect(await servedFingerprint(running.port, certs.ca)).toBe(before);

    const inFlight = postReview(running.port, certs.ca, podReview(appPod()));
    await source.waiting;

    // Rotate as a Secret volume does: write the new files aside, then rename over the old ones.
    const ca = { cert: join(certs.dir, 'ca.crt'), key: join(certs.dir, 'ca.key') };
    const next = await issueCertificate(join(certs.dir, 'next'), 'tls', ca, {
      commonName: 'rotated',
      hosts: ['127.0.0.1', 'localhost'],
    });
    await copyFile(next.key, `${certs.keyFile}.new`);
    await copyFile(next.cert, `${certs.certFile}.new`);
    await rename(`${certs.keyFile}.new`, certs.keyFile);
    await rename(`${certs.certFile}.new`, certs.certFile);
    const after = await fingerprintOf(certs.certFile);
    expect(after).not.toBe(before);
    const port = running.port;
    await waitFor(
      'the rotated certificate to be served',
      async () => ((await servedFingerprint(port, certs.ca)) === after ? true : undefined),
      { intervalMs: 25 },
    );

    source.release();
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body).response.patch).toBeDefined();
    const metrics = await fetch(`http://127.0.0.1:${running.metricsPort}/metrics`).then((r) => r.text());
    const expiry = new Date(new X509Certificate(await readFile(certs.certFile)).validTo).getTime() / 1000;
    expect(metrics).toContain(`pod_identity_webhook_tls_certificate_expiry_timestamp_seconds ${expiry}`);
  });

  it('keeps the current certificate when the new files do not fit together', async () => {
    const logs: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => logs.push(line) });
    running = await serve(testServeFlags(certs), DEFAULT_MUTATION_OPTIONS, { log });
    const before = await fingerprintOf(certs.certFile);
    const other = await createCA(join(certs.dir, 'other'), 'ca', 'unrelated');
    await copyFile(other.key, certs.keyFile);
    await waitFor('the reload error to be logged', () =>
      logs.some((line) => line.includes('serving certificate not reloaded')) ? true : undefined,
    );
    expect(await servedFingerprint(running.port, certs.ca)).toBe(before);
    expect((await postReview(running.port, certs.ca, podReview(appPod('x')))).status).toBe(200);
  });

  it('refuses to start with a key that does not match the certificate, naming both files', async () => {
    const other = await createCA(join(certs.dir, 'other'), 'ca', 'unrelated');
    await expect(
      serve({ ...testServeFlags(certs), tlsKey: other.key }, DEFAULT_MUTATION_OPTIONS, {
        log: pino({ level: 'silent' }),
      }),
    ).rejects.toThrow(`--tls-key ${other.key} does not fit --tls-cert ${certs.certFile}`);
    await expect(
      serve({ ...testServeFlags(certs), tlsCert: '/nonexistent/tls.crt' }, DEFAULT_MUTATION_OPTIONS, {
        log: pino({ level: 'silent' }),
      }),
    ).rejects.toThrow('--tls-cert /nonexistent/tls.crt cannot be read: ENOENT');
  });
});

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('a cluster that cannot be reached', () => {
  it('logs one short warn line per retry, without a stack, and names the reason in /readyz', async () => {
    const kubeconfig = join(certs.dir, 'kubeconfig');
    await writeFile(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: `https://127.0.0.1:${await closedPort()}` } }],
        users: [{ name: 'u', user: { token: 't' } }],
        contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'c',
      }),
    );
    const { log, lines } = captureLog('debug');
    running = await serve(
      { ...testServeFlags(certs), serviceAccounts: undefined, kubeconfig },
      DEFAULT_MUTATION_OPTIONS,
      {
        log,
      },
    );
    const failures = () => lines.filter((l) => l['level'] === 40 && String(l['msg']).includes('list/watch'));
    await waitFor('two failed attempts', () => (failures().length >= 2 ? true : undefined), {
      timeoutMs: 10_000,
    });
    for (const line of failures()) {
      expect(line['msg']).toMatch(/^ServiceAccount list\/watch failed; retrying in \d+ms$/);
      expect(line['reason']).toMatch(/ECONNREFUSED/);
      expect(JSON.stringify(line)).not.toContain('stack');
      expect(JSON.stringify(line).length).toBeLessThan(400);
    }
    const readyz = await httpsGet(running.port, certs.ca, '/readyz');
    expect(readyz.status).toBe(503);
    const { reasons } = JSON.parse(readyz.body) as { reasons: string[] };
    expect(reasons).toEqual([expect.stringMatching(/^ServiceAccount cache not synced: .*ECONNREFUSED/)]);
    const metrics = await (await fetch(`http://127.0.0.1:${running.metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/^pod_identity_webhook_service_account_cache_synced 0$/m);
  });
});

describe('shutdown', () => {
  it('stops being ready, keeps serving through the delay, finishes the request in flight, then refuses connections', async () => {
    const source = heldSource();
    const server = await serve({ ...testServeFlags(certs), shutdownDelay: 2000 }, DEFAULT_MUTATION_OPTIONS, {
      log: pino({ level: 'silent' }),
      source,
    });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const inFlight = postReview(server.port, certs.ca, podReview(appPod()), agent);
    await source.waiting;
    const closed = server.shutdown();
    const readyz = await httpsGet(server.port, certs.ca, '/readyz');
    expect(readyz).toEqual({
      status: 503,
      body: JSON.stringify({ status: 'not ready', reasons: ['shutting down'] }),
    });
    source.release();
    expect((await inFlight).status).toBe(200);
    expect((await postReview(server.port, certs.ca, podReview(appPod()))).status).toBe(200);
    await closed;
    await expect(postReview(server.port, certs.ca, podReview(appPod()))).rejects.toThrow(/ECONNREFUSED/);
    agent.destroy();
  });

  it('answers every request sent on an open keep-alive connection while it shuts down: none is reset', async () => {
    const server = await serve(testServeFlags(certs), DEFAULT_MUTATION_OPTIONS, {
      log: pino({ level: 'silent' }),
    });
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    const body = JSON.stringify(podReview(appPod()));
    // One request: its status, or why it failed and whether it had been written to a connection.
    const send = () =>
      new Promise<{ status?: number; error?: string; written: boolean }>((resolve) => {
        let written = false;
        const req = httpsRequest(
          { host: '127.0.0.1', port: server.port, path: '/mutate', method: 'POST', ca: certs.ca, agent },
          (res) => res.resume().on('end', () => resolve({ status: res.statusCode, written })),
        );
        req.setHeader('content-type', 'application/json');
        req.on('finish', () => (written = true));
        req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code, written }));
        req.end(body);
      });
    const results: Array<Awaited<ReturnType<typeof send>>> = [];
    let shutdown: Promise<void> | undefined;
    // Four clients send back to back until a connection is refused (the listener has closed).
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (;;) {
          const result = await send();
          results.push(result);
          if (results.length === 200) shutdown = server.shutdown();
          if (result.error !== undefined && !result.written) return;
        }
      }),
    );
    await shutdown;
    agent.destroy();
    const sent = results.filter((r) => r.written);
    expect(sent.length).toBeGreaterThan(200);
    expect(sent.filter((r) => r.status !== 200)).toEqual([]);
    expect(results.filter((r) => !r.written).map((r) => r.error)).toEqual([
      'ECONNREFUSED',
      'ECONNREFUSED',
      'ECONNREFUSED',
      'ECONNREFUSED',
    ]);
  });

  it('closes connections stalled in their TLS handshake or silent since they opened, and ends within its limit', async () => {
    const server = await serve(testServeFlags(certs), DEFAULT_MUTATION_OPTIONS, {
      log: pino({ level: 'silent' }),
    });
    const stalled = await stalledHandshake(server.port);
    const silent = await silentConnection(server.port);
    const timer = new AbortController();
    const limit = delay(SHUTDOWN_TIMEOUT_MS, 'still open at the shutdown limit', { signal: timer.signal });
    // Without dropping them, shutdown waits for the TLS handshake timeout: two minutes.
    expect(await Promise.race([server.shutdown().then(() => 'shut down'), limit])).toBe('shut down');
    timer.abort();
    limit.catch(() => undefined);
    await Promise.all([closedEvent(stalled), closedEvent(silent)]);
    await expect(postReview(server.port, certs.ca, podReview(appPod()))).rejects.toThrow(/ECONNREFUSED/);
  });

  it('takes the Go webhook’s Deployment flags and exits with status 0 soon after SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      [
        'dist/cli/main.js',
        ...serveArgs(certs),
        '--service-accounts',
        'examples/service-accounts.yaml',
        // As in the Go webhook's Deployment: accepted, and reported as ignored.
        '--in-cluster=false',
        '--namespace=default',
        '--service-name=pod-identity-webhook',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const { port } = await waitFor('the CLI to start serving', () => servingPorts(output), {
      intervalMs: 25,
    });
    expect(await servedFingerprint(port, certs.ca)).toBe(await fingerprintOf(certs.certFile));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toContain('"signal":"SIGTERM"');
    expect(output).toContain('shut down');
    expect(output).toContain(`"msg":"--in-cluster (a flag of the Go webhook) is ignored: `);
    for (const flag of ['--namespace', '--service-name']) {
      expect(output).toContain(`"msg":"${flag} is used only with --certificates=builtin; ignored"`);
    }
  });
});
