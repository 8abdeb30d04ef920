// OIDC discovery for a cluster's service-account issuer, as AWS IAM reads it from a self-hosted
// issuer (an S3 bucket or any static HTTPS host): `/.well-known/openid-configuration` and the JWKS
// it points to. Pure: PEM text in, documents out. The key IDs are the ones kube-apiserver puts in
// the tokens it signs, so the tokens verify against this JWKS.
import { createHash, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { exportJWK, type JWK } from 'jose';

export const JWKS_FILE = 'keys.json';
export const DISCOVERY_PATH = '.well-known/openid-configuration';

/** What kube-apiserver signs with, by key type and curve. */
const EC_ALGORITHMS: Record<string, string> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' };
const ALGORITHM_ORDER = ['RS256', 'ES256', 'ES384', 'ES512'];

export class OidcInputError extends Error {}

export interface SigningKey {
  /** base64url (no padding) of SHA-256 of the DER SubjectPublicKeyInfo: kube-apiserver's `kid`. */
  kid: string;
  alg: string;
  jwk: JWK;
}

export interface DiscoveryDocument {
  issuer: string;
  jwks_uri: string;
  authorization_endpoint: string;
  response_types_supported: string[];
  subject_types_supported: string[];
  id_token_signing_alg_values_supported: string[];
  claims_supported: string[];
}

/** kube-apiserver's key ID for a public key (`keyIDFromPublicKey` in k8s.io/kubernetes/pkg/serviceaccount). */
export function keyId(key: KeyObject): string {
  const der = publicPart(key).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64url');
}

/** A public key as it is; a private key's public part. */
const publicPart = (key: KeyObject): KeyObject => (key.type === 'private' ? createPublicKey(key) : key);

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/**
 * The public keys in one PEM file: public keys (`PUBLIC KEY`, `RSA PUBLIC KEY`), private keys
 * (their public part) and certificates (their subject key), several blocks per file as
 * kube-apiserver's `--service-account-key-file` allows. `origin` names the file in every error.
 */
export function publicKeysFromPem(text: string, origin: string): KeyObject[] {
  const blocks = [...text.matchAll(PEM_BLOCK)];
  if (blocks.length === 0) throw new OidcInputError(`${origin}: no PEM block found (expected a public key)`);
  return blocks.map((block, i) => {
    const where = blocks.length > 1 ? `${origin} (PEM block ${i + 1}, ${block[1]})` : origin;
    const key = publicKeyOf(block[0], block[1]!, where);
    algorithmOf(key, where);
    return key;
  });
}

function publicKeyOf(pem: string, label: string, where: string): KeyObject {
  try {
    if (label === 'CERTIFICATE') return new X509Certificate(pem).publicKey;
    if (label.includes('ENCRYPTED')) throw new Error('encrypted private keys are not supported');
    // createPublicKey takes a private key too and returns its public part.
    return createPublicKey(pem);
  } catch (error) {
    throw new OidcInputError(`${where}: not a usable ${label}: ${firstLine(error)}`);
  }
}

function firstLine(error: unknown): string {
  return ((error as Error).message || String(error)).split('\n')[0]!;
}

/** The JWS algorithm kube-apiserver signs with for this key, or an error naming the key. */
function algorithmOf(key: KeyObject, where: string): string {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.export({ format: 'jwk' }).crv;
    const alg = curve === undefined ? undefined : EC_ALGORITHMS[curve];
    if (alg) return alg;
    throw new OidcInputError(`${where}: EC curve ${curve ?? 'unknown'} is not one kube-apiserver signs with`);
  }
  throw new OidcInputError(
    `${where}: ${key.asymmetricKeyType ?? 'unknown'} keys are not supported (kube-apiserver signs with RSA or ECDSA keys)`,
  );
}

/** The JWK for one public key, as kube-apiserver serves it at /openid/v1/jwks. */
export async function signingKey(key: KeyObject, where = 'key'): Promise<SigningKey> {
  const publicKey = publicPart(key);
  const alg = algorithmOf(publicKey, where);
  const kid = keyId(publicKey);
  const { kty, n, e, crv, x, y } = await exportJWK(publicKey);
  const material = kty === 'RSA' ? { n, e } : { crv, x, y };
  return { kid, alg, jwk: { use: 'sig', kty, kid, alg, ...material } as JWK };
}

/** The JWKS document: one key per distinct public key, in the order given. */
export function jwksDocument(keys: readonly SigningKey[]): { keys: JWK[] } {
  const seen = new Set<string>();
  return { keys: keys.filter((key) => !seen.has(key.kid) && seen.add(key.kid)).map((key) => key.jwk) };
}

/** Checks an issuer URL as AWS IAM takes it: https, no query or fragment. Returns it unchanged. */
export function checkIssuer(issuer: string): string {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new OidcInputError(`--issuer must be an https URL, got "${issuer}"`);
  }
  if (url.protocol !== 'https:') throw new OidcInputError(`--issuer must be an https URL, got "${issuer}"`);
  if (url.search !== '' || url.hash !== '' || issuer.includes('?') || issuer.includes('#')) {
    throw new OidcInputError(`--issuer must have no query or fragment, got "${issuer}"`);
  }
  return issuer;
}

/** `<issuer>/keys.json`, without a doubled slash when the issuer ends in one. */
export function jwksUri(issuer: string): string {
  return `${issuer.replace(/\/+$/, '')}/${JWKS_FILE}`;
}

/** `/.well-known/openid-configuration` for an S3- or otherwise statically hosted issuer. */
export function discoveryDocument(issuer: string, keys: readonly SigningKey[]): DiscoveryDocument {
  const algorithms = new Set(keys.map((key) => key.alg));
  return {
    issuer,
    jwks_uri: jwksUri(issuer),
    authorization_endpoint: 'urn:kubernetes:programmatic_authorization',
    response_types_supported: ['id_token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ALGORITHM_ORDER.filter((alg) => algorithms.has(alg)),
    claims_supported: ['sub', 'iss'],
  };
}

export interface OidcDocuments {
  discovery: DiscoveryDocument;
  jwks: { keys: JWK[] };
}

/** Both documents from PEM files' text (`origin` names each file in errors). */
export async function oidcDocuments(
  issuer: string,
  files: ReadonlyArray<{ text: string; origin: string }>,
): Promise<OidcDocuments> {
  checkIssuer(issuer);
  if (files.length === 0) throw new OidcInputError('at least one --public-key is required');
  const keys: SigningKey[] = [];
  for (const { text, origin } of files) {
    for (const key of publicKeysFromPem(text, origin)) keys.push(await signingKey(key, origin));
  }
  return { discovery: discoveryDocument(issuer, keys), jwks: jwksDocument(keys) };
}
