// Typed access to scripts/pki.mjs (plain JavaScript, shared with `npm run certs`).
import type { CertificateFiles } from './context.js';

export interface CertificateOptions {
  commonName: string;
  /** DNS names or IP addresses (IPs become IP SANs). */
  hosts?: string[];
  /** O= of the subject: Kubernetes groups for client certificates. */
  organization?: string;
  client?: boolean;
  days?: number;
}

interface PkiModule {
  createCA(dir: string, name?: string, commonName?: string): Promise<CertificateFiles>;
  issueCertificate(
    dir: string,
    name: string,
    ca: CertificateFiles,
    options: CertificateOptions,
  ): Promise<CertificateFiles>;
  createRsaKeyPair(dir: string, name: string, bits?: number): Promise<{ key: string; pub: string }>;
}

let loaded: Promise<PkiModule> | undefined;

function pki(): Promise<PkiModule> {
  loaded ??= import(new URL('../../../scripts/pki.mjs', import.meta.url).href) as Promise<PkiModule>;
  return loaded;
}

export async function createCA(dir: string, name: string, commonName: string): Promise<CertificateFiles> {
  return (await pki()).createCA(dir, name, commonName);
}

export async function issueCertificate(
  dir: string,
  name: string,
  ca: CertificateFiles,
  options: CertificateOptions,
): Promise<CertificateFiles> {
  return (await pki()).issueCertificate(dir, name, ca, options);
}

export async function createRsaKeyPair(
  dir: string,
  name: string,
  bits = 2048,
): Promise<{ key: string; pub: string }> {
  return (await pki()).createRsaKeyPair(dir, name, bits);
}
