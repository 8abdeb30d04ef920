// Loads the serving certificate and key, and reloads them when their files change (a Secret volume
// swaps a symlink; cert-manager rotates before expiry) without a restart. New connections get the
// new pair; connections and requests in flight keep the one they started with.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import { createSecureContext, getCiphers, type SecureVersion } from 'node:tls';
import { readText } from '../read-text.js';

export interface KeyPair {
  cert: string;
  key: string;
  /** When the leaf certificate expires. */
  notAfter: Date;
}

export async function loadKeyPair(certFile: string, keyFile: string): Promise<KeyPair> {
  const cert = await readText(certFile, `--tls-cert ${certFile}`);
  const key = await readText(keyFile, `--tls-key ${keyFile}`);
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (error) {
    throw new Error(`--tls-cert ${certFile} holds no valid PEM certificate: ${(error as Error).message}`);
  }
  try {
    if (!leaf.checkPrivateKey(createPrivateKey(key)))
      throw new Error('the key does not match the certificate');
    createSecureContext({ cert, key });
  } catch (error) {
    throw new Error(`--tls-key ${keyFile} does not fit --tls-cert ${certFile}: ${(error as Error).message}`);
  }
  return { cert, key, notAfter: new Date(leaf.validTo) };
}

export const TLS_VERSIONS: Record<string, SecureVersion> = { '1.2': 'TLSv1.2', '1.3': 'TLSv1.3' };

/**
 * Watches the directories of both files and calls `onChange` with the new pair, after changes
 * settle. A half-written pair fails to load and is reported through `onError`; the old one stays.
 */
export function watchKeyPair(
  certFile: string,
  keyFile: string,
  onChange: (pair: KeyPair) => void,
  onError: (error: Error) => void,
  settleMs = 100,
): () => void {
  let timer: NodeJS.Timeout | undefined;
  const reload = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => loadKeyPair(certFile, keyFile).then(onChange, onError), settleMs);
  };
  const watchers: FSWatcher[] = [...new Set([dirname(certFile), dirname(keyFile)])].map((dir) =>
    watch(dir, reload),
  );
  return () => {
    clearTimeout(timer);
    for (const watcher of watchers) watcher.close();
  };
}

/**
 * The TLS 1.2 cipher suites Go's crypto/tls knows (`tls.CipherSuites()` and
 * `tls.InsecureCipherSuites()`, the names the Go webhook's --tls-cipher-suites takes), by their
 * OpenSSL names. RC4 and 3DES ones are listed so that they are named as unavailable rather than
 * unknown: Node's OpenSSL 3 has none of them.
 */
export const GO_TLS12_CIPHER_SUITES: Record<string, string> = {
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  // Go's "insecure" list, still accepted by the Go webhook.
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: 'ECDHE-ECDSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: 'ECDHE-RSA-AES128-SHA256',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_RSA_WITH_AES_128_CBC_SHA256: 'AES128-SHA256',
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_3DES_EDE_CBC_SHA: 'DES-CBC3-SHA',
  TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA: 'ECDHE-RSA-DES-CBC3-SHA',
  TLS_RSA_WITH_RC4_128_SHA: 'RC4-SHA',
  TLS_ECDHE_RSA_WITH_RC4_128_SHA: 'ECDHE-RSA-RC4-SHA',
  TLS_ECDHE_ECDSA_WITH_RC4_128_SHA: 'ECDHE-ECDSA-RC4-SHA',
};

/** TLS 1.3 suites: Go accepts their names but, as Node without them in `ciphers`, always offers all three. */
export const GO_TLS13_CIPHER_SUITES = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
];

/**
 * A Go webhook `--tls-cipher-suites` value (comma-separated Go names; blanks skipped, as Go does) as
 * an OpenSSL cipher list for Node's `ciphers` option, restricting TLS 1.2 only. `undefined` for an
 * empty value: Node's defaults. `ignored` names TLS 1.3 suites, which change nothing.
 */
export function cipherSuitesFromGo(value: string): { ciphers?: string; ignored: string[] } {
  const names = value
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  if (names.length === 0) return { ignored: [] };
  const available = new Set(getCiphers());
  const ciphers: string[] = [];
  const ignored: string[] = [];
  for (const name of names) {
    if (GO_TLS13_CIPHER_SUITES.includes(name)) {
      ignored.push(name);
      continue;
    }
    const openssl = GO_TLS12_CIPHER_SUITES[name];
    if (openssl === undefined) {
      const valid = [...Object.keys(GO_TLS12_CIPHER_SUITES), ...GO_TLS13_CIPHER_SUITES].filter(
        (n) => GO_TLS13_CIPHER_SUITES.includes(n) || available.has(GO_TLS12_CIPHER_SUITES[n]!.toLowerCase()),
      );
      throw new Error(`--tls-cipher-suites: unknown cipher suite "${name}"; valid: ${valid.join(', ')}`);
    }
    if (!available.has(openssl.toLowerCase())) {
      throw new Error(
        `--tls-cipher-suites: ${name} is not available here: Node's OpenSSL has no RC4 or 3DES cipher suites`,
      );
    }
    if (!ciphers.includes(openssl)) ciphers.push(openssl);
  }
  if (ciphers.length === 0) {
    throw new Error(
      `--tls-cipher-suites names only TLS 1.3 suites (${ignored.join(', ')}), which are not configurable: TLS 1.2 would have no cipher suite; add TLS 1.2 suites, or use --tls-min-version=1.3`,
    );
  }
  return { ciphers: ciphers.join(':'), ignored };
}
