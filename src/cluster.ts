// Reaching the cluster: which kubeconfig to use, a thin JSON client over it, and how to say in one
// line why a request failed.
//
// `serve` talks to the API server through KubeClient rather than client-node's generated API:
// loading that API costs ~50 MB and most of a second at start-up for a dozen requests. KubeClient
// keeps client-node's authentication by asking KubeConfig for every request's TLS material and
// headers (applyToHTTPSOptions): client certificates, tokens, the in-cluster token file it re-reads,
// exec plugins and their expiry. KubeConfig comes from its own module, not the package index, so
// the bundle (hack/bundle.mjs) can leave the generated API out of what `serve` loads.
import { existsSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent, request as httpsRequest, type RequestOptions } from 'node:https';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';

/**
 * Loads --kubeconfig, else the in-cluster config, else $KUBECONFIG or ~/.kube/config. With none of
 * them, client-node would fall back to a guess (localhost) and fail on every retry: refuse instead.
 */
export function loadKubeConfig(file: string | undefined): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (file) kubeConfig.loadFromFile(file);
  else if (process.env['KUBERNETES_SERVICE_HOST']) kubeConfig.loadFromCluster();
  else if (process.env['KUBECONFIG'] || existsSync(join(homedir(), '.kube', 'config')))
    kubeConfig.loadFromDefault();
  else {
    throw new Error(
      'no ServiceAccounts to read: pass --service-accounts FILE to read them from a file, or --kubeconfig FILE to read them from a cluster (no in-cluster config, $KUBECONFIG or ~/.kube/config was found)',
    );
  }
  return kubeConfig;
}

/** The API server answered, but not with success: its HTTP status and body (a Status, as JSON text). */
export class KubernetesError extends Error {
  override name = 'KubernetesError';

  constructor(
    readonly code: number,
    readonly body: string,
    what: string,
  ) {
    super(`${what}: HTTP ${code}${statusMessage(body) ? `: ${statusMessage(body)}` : ''}`);
  }
}

/** Name, namespace and resourceVersion: all the list/watch machinery reads of an object. */
export interface KubeObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

export interface KubeList<T> {
  metadata?: { resourceVersion?: string; continue?: string };
  items: T[];
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/** A watch event; for ERROR the object is a Status ({ code, message }). */
export interface WatchEvent<T> {
  type: WatchEventType;
  object: T & { code?: number; message?: string };
}

export interface RequestSettings {
  body?: unknown;
  signal?: AbortSignal;
  /** Gives up when the connection is idle this long (default 60 s). */
  idleTimeoutMs?: number;
}

const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

/** JSON requests and watches to the kubeconfig's current cluster, over keep-alive connections. */
export class KubeClient {
  // One pool for every request: Node keeps connections apart by their TLS options (CA, client
  // certificate, server name), so a rotated client certificate gets new connections by itself.
  // A burst of live lookups opens many connections at once; only a few stay open afterwards.
  private readonly agent = new Agent({ keepAlive: true, maxFreeSockets: 4 });

  constructor(private readonly kubeConfig: KubeConfig) {}

  /** Resolves with the parsed JSON answer; rejects with KubernetesError when it is not 2xx. */
  async json<T>(method: string, path: string, settings: RequestSettings = {}): Promise<T> {
    const response = await this.send(method, path, settings);
    const text = await readText(response, settings.signal);
    const status = response.statusCode ?? 0;
    if (status < 200 || status >= 300) throw new KubernetesError(status, text, `${method} ${path}`);
    return JSON.parse(text) as T;
  }

  /**
   * Starts a watch (`path` with watch=1 among its parameters). Resolves once the API server
   * accepted it, with `ended`, which settles when the stream ends: resolved when the server closed
   * it, rejected on a broken connection or an unreadable event. `onEvent` sees every event.
   */
  async watch<T>(
    path: string,
    onEvent: (event: WatchEvent<T>) => void,
    settings: RequestSettings = {},
  ): Promise<{ ended: Promise<void> }> {
    const response = await this.send('GET', path, settings);
    const status = response.statusCode ?? 0;
    if (status !== 200) {
      throw new KubernetesError(status, await readText(response, settings.signal), `GET ${path}`);
    }
    // Without this a connection whose peer vanished (no FIN, no RST) would look like a quiet watch.
    response.socket.setKeepAlive(true, 30_000);
    const ended = new Promise<void>((resolve, reject) => {
      let pending = '';
      const fail = (error: unknown): void => {
        response.destroy();
        reject(error);
      };
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        pending += chunk;
        let newline: number;
        while ((newline = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, newline);
          pending = pending.slice(newline + 1);
          if (line.trim() === '') continue;
          let event: WatchEvent<T>;
          try {
            event = JSON.parse(line) as WatchEvent<T>;
          } catch {
            fail(new Error(`GET ${path}: the watch sent a line that is not JSON: ${line.slice(0, 100)}`));
            return;
          }
          // A malformed event (no object, say) must end this watch, not the process.
          try {
            onEvent(event);
          } catch (error) {
            fail(error);
            return;
          }
        }
      });
      response.on('end', () => resolve());
      response.on('error', reject);
      response.on('close', () => {
        if (!response.complete)
          reject(settings.signal?.reason ?? new Error(`GET ${path}: connection closed`));
      });
    });
    return { ended };
  }

  /** Closes the idle connections (the open ones close as their requests end). */
  close(): void {
    for (const sockets of Object.values(this.agent.freeSockets)) {
      for (const socket of sockets ?? []) socket.destroy();
    }
  }

  private async send(method: string, path: string, settings: RequestSettings): Promise<IncomingMessage> {
    settings.signal?.throwIfAborted();
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    const body = settings.body === undefined ? undefined : Buffer.from(JSON.stringify(settings.body));
    const options: RequestOptions = {
      method,
      headers: {
        accept: 'application/json',
        ...(body && { 'content-type': 'application/json', 'content-length': body.length }),
      },
    };
    await this.kubeConfig.applyToHTTPSOptions(options);
    // An exec plugin may take seconds: a listener added to an already aborted signal never fires.
    settings.signal?.throwIfAborted();
    // KubeConfig makes a new agent per call (one connection per request): keep ours, unless it
    // chose a proxy's agent or plain HTTP.
    const plainHttp = cluster.server.startsWith('http:');
    if (!cluster.proxyUrl && !plainHttp) options.agent = this.agent;
    const base = new URL(cluster.server);
    const url = new URL(`${base.pathname.replace(/\/$/, '')}${path}`, base);
    return new Promise((resolve, reject) => {
      const request = (plainHttp ? httpRequest : httpsRequest)(url, options, resolve);
      request.on('error', reject);
      request.setTimeout(settings.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS, () =>
        request.destroy(
          new Error(
            `${method} ${path}: no answer for ${settings.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS}ms`,
          ),
        ),
      );
      const signal = settings.signal;
      if (signal) {
        const abort = (): void => void request.destroy(signal.reason as Error);
        signal.addEventListener('abort', abort, { once: true });
        request.once('close', () => signal.removeEventListener('abort', abort));
      }
      request.end(body);
    });
  }
}

// Iterated rather than listened to: an https connection's first request stays reachable for as
// long as the connection is pooled (through its TLS session listener), and listeners left on the
// response would keep the whole body text with it.
async function readText(response: IncomingMessage, signal: AbortSignal | undefined): Promise<string> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of response) chunks.push(chunk as Buffer);
  } catch (error) {
    throw signal?.aborted ? signal.reason : error;
  }
  if (!response.complete) throw new Error('connection closed before the answer ended');
  return Buffer.concat(chunks).toString('utf8');
}

/** The `message` of a Kubernetes Status body (JSON text or already parsed). */
function statusMessage(body: unknown): string {
  let status = body;
  if (typeof body === 'string') {
    try {
      status = JSON.parse(body);
    } catch {
      return body.split('\n')[0]!.slice(0, 200);
    }
  }
  const message = (status as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : '';
}

/** One short line for a failed list, watch or GET: no stack, no response headers. */
export function describeFailure(error: unknown): string {
  // KubernetesError, and client-node's ApiException (the doctor command uses its generated API).
  const { code, body } = (error ?? {}) as { code?: unknown; body?: unknown };
  if (error instanceof Error && typeof code === 'number' && 'body' in error) {
    const message = statusMessage(body);
    return `HTTP ${code}${message ? `: ${message}` : ''}`;
  }
  if (!(error instanceof Error)) return String(error);
  // fetch errors carry the reason in `cause` (undici) or `code` (node-fetch).
  const { cause } = error as { cause?: { code?: unknown; message?: unknown } };
  const detail = typeof cause?.message === 'string' ? cause.message : error.message;
  const errno = typeof cause?.code === 'string' ? cause.code : code;
  return `${detail.split('\n')[0]}${typeof errno === 'string' && !detail.includes(errno) ? ` (${errno})` : ''}`;
}
