// Loads the serving certificate and key, and reloads them when their files change (a Secret volume
// swaps a symlink; cert-manager rotates before expiry) without a restart. New connections get the
// new pair; connections and requests in flight keep the one they started with.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import { createSecureContext, type SecureVersion } from 'node:tls';
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
