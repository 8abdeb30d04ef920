// Certificate authority work for the built-in mode: a self-signed CA and serving certificates it
// signs, as PEM. ECDSA P-256 keys: generated natively in milliseconds, accepted by every TLS
// client kube-apiserver uses. @peculiar/x509 builds the certificates (Node can verify X.509 but
// not create it); it needs the reflect-metadata polyfill, so both load only in this mode.
import { randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';

type CryptoKeyPair = webcrypto.CryptoKeyPair;

export interface PemPair {
  cert: string;
  key: string;
}

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

async function x509(): Promise<typeof import('@peculiar/x509')> {
  await import('reflect-metadata');
  const library = await import('@peculiar/x509');
  library.cryptoProvider.set(globalThis.crypto);
  return library;
}

/** A positive 128-bit serial number, as hex (RFC 5280 allows up to 20 octets). */
const serialNumber = (): string => `01${randomBytes(16).toString('hex')}`;

async function keyPairAndPem(): Promise<{ keys: CryptoKeyPair; keyPem: string }> {
  const { PemConverter } = await x509();
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { keys, keyPem: PemConverter.encode(pkcs8, 'PRIVATE KEY') };
}

export async function createAuthority(commonName: string, notBefore: Date, notAfter: Date): Promise<PemPair> {
  const lib = await x509();
  const { keys, keyPem } = await keyPairAndPem();
  const cert = await lib.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: `CN=${commonName}`,
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new lib.BasicConstraintsExtension(true, 0, true),
      new lib.KeyUsagesExtension(lib.KeyUsageFlags.keyCertSign | lib.KeyUsageFlags.cRLSign, true),
      await lib.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: pem(cert.toString('pem')), key: pem(keyPem) };
}

/** PEM ending in a newline: bundles concatenate them, and Go's PEM reader needs the line break. */
const pem = (text: string): string => (text.endsWith('\n') ? text : `${text}\n`);

/** A serving certificate for `hosts` (DNS names or IP addresses), signed by `authority`. */
export async function issueServingCertificate(
  authority: PemPair,
  hosts: readonly string[],
  notBefore: Date,
  notAfter: Date,
): Promise<PemPair> {
  const lib = await x509();
  const issuer = new lib.X509Certificate(authority.cert);
  const signingKey = await webcrypto.subtle.importKey(
    'pkcs8',
    lib.PemConverter.decodeFirst(authority.key),
    ALGORITHM,
    false,
    ['sign'],
  );
  const { keys, keyPem } = await keyPairAndPem();
  const cert = await lib.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: `CN=${hosts[0] ?? 'pod-identity-webhook'}`,
    issuer: issuer.subject,
    notBefore,
    notAfter,
    signingKey,
    publicKey: keys.publicKey,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new lib.BasicConstraintsExtension(false, undefined, true),
      new lib.KeyUsagesExtension(lib.KeyUsageFlags.digitalSignature, true),
      new lib.ExtendedKeyUsageExtension([lib.ExtendedKeyUsage.serverAuth]),
      new lib.SubjectAlternativeNameExtension(
        hosts.map((host) => (isIP(host) ? { type: 'ip', value: host } : { type: 'dns', value: host })),
      ),
      await lib.AuthorityKeyIdentifierExtension.create(issuer, false),
    ],
  });
  return { cert: pem(cert.toString('pem')), key: pem(keyPem) };
}

/** What rotation needs to know of a certificate. Throws on text that holds no certificate. */
export interface CertificateFacts {
  notBefore: Date;
  notAfter: Date;
  fingerprint: string;
  /** DNS names and IP addresses, in order. */
  hosts: string[];
}

export function factsOf(pem: string): CertificateFacts {
  const cert = new X509Certificate(pem);
  return {
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    fingerprint: cert.fingerprint256,
    hosts: (cert.subjectAltName ?? '')
      .split(', ')
      .filter((entry) => entry !== '')
      .map((entry) => entry.replace(/^(DNS|IP Address):/, '')),
  };
}

/** True when `leaf` was signed by `authority`'s key. */
export function isSignedBy(leaf: string, authority: string): boolean {
  try {
    return new X509Certificate(leaf).verify(new X509Certificate(authority).publicKey);
  } catch {
    return false;
  }
}

/** Splits a PEM bundle into its certificates. */
export function splitBundle(bundle: string): string[] {
  return (bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(pem);
}
