// Minimal HTTPS client over node:https: custom CA, client certificates or bearer tokens, and every
// response header as sent (e.g. each `Warning` header separately).
import { readFileSync } from 'node:fs';
import { request } from 'node:https';

export interface HttpsRequest {
  url: string;
  method?: string;
  /** PEM file of the CA to trust. */
  caFile: string;
  /** Client certificate and key files (PEM). */
  clientCert?: { cert: string; key: string };
  token?: string;
  headers?: Record<string, string>;
  body?: unknown;
  timeoutMs?: number;
}

export interface HttpsResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** [name, value] for every header line, in order, names lower-cased. */
  headerLines: Array<[string, string]>;
  body: string;
}

export async function httpsRequest(options: HttpsRequest): Promise<HttpsResponse> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  if (payload !== undefined) headers['content-type'] ??= 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  return new Promise((resolve, reject) => {
    const req = request(
      options.url,
      {
        method: options.method ?? 'GET',
        headers,
        ca: readFileSync(options.caFile),
        cert: options.clientCert ? readFileSync(options.clientCert.cert) : undefined,
        key: options.clientCert ? readFileSync(options.clientCert.key) : undefined,
        timeout: options.timeoutMs ?? 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const headerLines: Array<[string, string]> = [];
          for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
            headerLines.push([String(res.rawHeaders[i]).toLowerCase(), String(res.rawHeaders[i + 1])]);
          }
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            headerLines,
            body: Buffer.concat(chunks).toString('utf8'),
          });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`request to ${options.url} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}
