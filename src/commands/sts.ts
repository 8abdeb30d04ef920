// `sts`: a local AWS STS endpoint for AssumeRoleWithWebIdentity (the AWS Query protocol over HTTP or
// HTTPS). The decisions are irsa/sts.ts's; here are the I/O around them: the listener, the JWKS
// (a file, or a URL such as the cluster's own /openid/v1/jwks) and the roles file, re-read when it
// changes.
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { JSONWebKeySet } from 'jose';
import type { LevelWithSilent, Logger } from 'pino';
import { errorResponseXml } from '../irsa/sts-xml.js';
import { answerAssumeRoleWithWebIdentity, parseRoles, type Role, type StsConfig } from '../irsa/sts.js';
import { createLogger } from '../log.js';
import { readText } from '../read-text.js';

export interface StsFlags {
  port: number;
  host: string;
  issuer: string;
  /** JWKS file; exactly one of jwks and jwksUrl. */
  jwks?: string;
  jwksUrl?: string;
  /** CA bundle (PEM) for an https jwksUrl, e.g. the cluster's CA. */
  jwksCa?: string;
  /** Bearer token file for jwksUrl (re-read for every fetch: projected tokens rotate). */
  jwksTokenFile?: string;
  roles: string;
  audiences: string[];
  tlsCert?: string;
  tlsKey?: string;
  logLevel: LevelWithSilent;
}

export interface RunningSts {
  url: string;
  port: number;
  close(): Promise<void>;
}

const MAX_BODY = 1024 * 1024;
/** At most one JWKS refetch per this interval when tokens name unknown keys. */
const JWKS_REFRESH_INTERVAL_MS = 5_000;

export async function startSts(flags: StsFlags, deps: { log?: Logger } = {}): Promise<RunningSts> {
  const log = deps.log ?? createLogger(flags.logLevel);
  if ((flags.jwks === undefined) === (flags.jwksUrl === undefined)) {
    throw new Error('give exactly one of --jwks FILE and --jwks-url URL');
  }
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) {
    throw new Error('--tls-cert and --tls-key go together');
  }
  if (flags.audiences.length === 0) throw new Error('at least one --audience is required');
  const keys = flags.jwks !== undefined ? fileJwks(flags.jwks) : urlJwks(flags);
  let current = await keys.load();
  let lastRefresh = 0;
  const roles = rolesFile(flags.roles, log);
  const roleCount = (await roles()).size;

  const config: StsConfig = {
    issuer: flags.issuer,
    audiences: flags.audiences,
    keys: () => Promise.resolve(current),
    refreshKeys: async () => {
      if (Date.now() - lastRefresh < JWKS_REFRESH_INTERVAL_MS) return undefined;
      lastRefresh = Date.now();
      try {
        current = await keys.load();
        log.info(
          { jwks: keys.source, keys: current.keys.length },
          'JWKS refreshed: a token named an unknown key',
        );
        return current;
      } catch (error) {
        log.error({ jwks: keys.source, err: error }, 'JWKS refresh failed; keeping the previous keys');
        return undefined;
      }
    },
    roles,
  };

  const handler = (request: IncomingMessage, response: ServerResponse): void => {
    handle(request, response, config, log).catch((error: unknown) => {
      log.error({ err: error }, 'STS request failed');
      if (!response.headersSent) {
        const requestId = randomUUID();
        send(
          response,
          500,
          requestId,
          errorResponseXml(
            { code: 'InternalFailure', message: 'internal error', type: 'Receiver' },
            requestId,
          ),
        );
      }
    });
  };
  const tls = flags.tlsCert !== undefined && flags.tlsKey !== undefined;
  const server: Server = tls
    ? createHttpsServer({ cert: await readText(flags.tlsCert!), key: await readText(flags.tlsKey!) }, handler)
    : createHttpServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(flags.port, flags.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = flags.host.includes(':') ? `[${flags.host}]` : flags.host;
  const url = `${tls ? 'https' : 'http'}://${host}:${port}`;
  log.info(
    {
      url,
      port,
      issuer: flags.issuer,
      audiences: flags.audiences,
      jwks: keys.source,
      keys: current.keys.length,
      roles: roleCount,
    },
    'pod-identity-webhook sts serving',
  );
  return {
    url,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(
  request: IncomingMessage,
  response: ServerResponse,
  config: StsConfig,
  log: Logger,
): Promise<void> {
  const requestId = randomUUID();
  if (request.method !== 'GET' && request.method !== 'POST') {
    response.setHeader('allow', 'GET, POST');
    send(
      response,
      405,
      requestId,
      errorResponseXml(
        {
          code: 'InvalidAction',
          message: `${request.method} is not supported: use POST (form) or GET (query)`,
        },
        requestId,
      ),
    );
    return;
  }
  const params = new URLSearchParams(new URL(request.url ?? '/', 'http://sts').search);
  const body = await readBody(request);
  if (body === undefined) {
    send(
      response,
      413,
      requestId,
      errorResponseXml(
        { code: 'ValidationError', message: `The request body exceeds ${MAX_BODY} bytes` },
        requestId,
      ),
    );
    return;
  }
  if (body !== '') for (const [name, value] of new URLSearchParams(body)) params.set(name, value);
  const answer = await answerAssumeRoleWithWebIdentity(params, config, requestId);
  log.info(answer.decision, 'AssumeRoleWithWebIdentity');
  send(response, answer.status, requestId, answer.body);
}

function send(response: ServerResponse, status: number, requestId: string, xml: string): void {
  response.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId }).end(xml);
}

function readBody(request: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    });
    request.on('end', () => resolve(size > MAX_BODY ? undefined : Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

// ---------------------------------------------------------------------------------------------

interface JwksSource {
  source: string;
  load(): Promise<JSONWebKeySet>;
}

function checkJwks(text: string, origin: string): JSONWebKeySet {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new Error(`${origin}: not a JWKS (JSON): ${(error as Error).message}`);
  }
  const keys = (document as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new Error(`${origin}: not a JWKS: no "keys" list`);
  return document as JSONWebKeySet;
}

function fileJwks(file: string): JwksSource {
  return {
    source: file,
    load: async () => checkJwks(await readText(file, `--jwks ${file}`), `--jwks ${file}`),
  };
}

function urlJwks(flags: StsFlags): JwksSource {
  const url = flags.jwksUrl!;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`--jwks-url must be an http or https URL, got "${url}"`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new Error(`--jwks-url must be an http or https URL, got "${url}"`);
  }
  return {
    source: url,
    load: async () => {
      const ca =
        flags.jwksCa === undefined ? undefined : await readText(flags.jwksCa, `--jwks-ca ${flags.jwksCa}`);
      const token =
        flags.jwksTokenFile === undefined
          ? undefined
          : (await readText(flags.jwksTokenFile, `--jwks-token-file ${flags.jwksTokenFile}`)).trim();
      const { status, body } = await get(parsed, ca, token);
      if (status !== 200) {
        const why =
          status === 401 || status === 403
            ? ': the API server serves its JWKS to authenticated users (give --jwks-token-file) or, with the system:service-account-issuer-discovery binding, to anonymous ones'
            : '';
        throw new Error(`GET ${url}: HTTP ${status}${why}`);
      }
      return checkJwks(body, url);
    },
  };
}

function get(
  url: URL,
  ca: string | undefined,
  token: string | undefined,
): Promise<{ status: number; body: string }> {
  const headers: Record<string, string> = { accept: 'application/jwk-set+json, application/json' };
  if (token) headers['authorization'] = `Bearer ${token}`;
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { headers, timeout: 10_000, ...(ca === undefined ? {} : { ca }) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.on('timeout', () => req.destroy(new Error('timed out after 10s')));
    req.on('error', (error) => reject(new Error(`GET ${url.href}: ${error.message}`)));
    req.end();
  });
}

/** The roles, re-read when the file changes; a broken edit is logged and the previous roles kept. */
function rolesFile(file: string, log: Logger): () => Promise<Map<string, Role>> {
  let loaded: { mtimeMs: number; size: number; roles: Map<string, Role> } | undefined;
  return async () => {
    const info = await stat(file).catch(() => undefined);
    if (
      loaded !== undefined &&
      (info === undefined || (info.mtimeMs === loaded.mtimeMs && info.size === loaded.size))
    ) {
      return loaded.roles;
    }
    try {
      const roles = parseRoles(await readText(file, `--roles ${file}`), `--roles ${file}`);
      if (loaded !== undefined) log.info({ roles: roles.size }, 'roles file reloaded');
      loaded = { mtimeMs: info?.mtimeMs ?? 0, size: info?.size ?? 0, roles };
    } catch (error) {
      if (loaded === undefined) throw error;
      log.error({ err: error }, 'roles file not reloaded; keeping the previous roles');
      loaded = { ...loaded, mtimeMs: info?.mtimeMs ?? 0, size: info?.size ?? 0 };
    }
    return loaded.roles;
  };
}

/** Runs `sts` until SIGTERM or SIGINT. */
export async function stsUntilSignalled(flags: StsFlags): Promise<void> {
  const log = createLogger(flags.logLevel);
  const sts = await startSts(flags, { log });
  const stop = (signal: NodeJS.Signals): void => {
    log.info({ signal }, 'shutting down');
    sts.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
