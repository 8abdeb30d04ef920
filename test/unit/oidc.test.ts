// `oidc`: the issuer documents for a self-hosted issuer. Key IDs are checked against an independent
// computation (WebCrypto's SPKI export, hashed with WebCrypto's SHA-256), and a token signed with the
// private key verifies against the JWKS written.
import { generateKeyPairSync, createPublicKey, webcrypto, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, jwtVerify, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { writeOidcDocuments } from '../../src/commands/oidc.js';
import {
  checkIssuer,
  discoveryDocument,
  jwksUri,
  keyId,
  oidcDocuments,
  OidcInputError,
  publicKeysFromPem,
  signingKey,
} from '../../src/irsa/oidc.js';

const ISSUER = 'https://oidc.example.com/id/ABC123';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });

const pem = (key: KeyObject): string =>
  key.type === 'private'
    ? key.export({ type: 'pkcs8', format: 'pem' }).toString()
    : key.export({ type: 'spki', format: 'pem' }).toString();

type ImportAlgorithm = Parameters<typeof webcrypto.subtle.importKey>[2];

/** The kid as Kubernetes derives it, computed another way: WebCrypto SPKI → SHA-256 → base64url. */
async function independentKid(publicKey: KeyObject, algorithm: ImportAlgorithm) {
  const jwk = publicKey.export({ format: 'jwk' });
  const imported = await webcrypto.subtle.importKey('jwk', jwk, algorithm, true, ['verify']);
  const spki = await webcrypto.subtle.exportKey('spki', imported);
  const digest = await webcrypto.subtle.digest('SHA-256', spki);
  return Buffer.from(digest).toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

describe('key IDs', () => {
  it('are base64url(SHA-256(DER SubjectPublicKeyInfo)) for RSA keys, as kube-apiserver computes them', async () => {
    const kid = keyId(rsa.publicKey);
    expect(kid).toBe(await independentKid(rsa.publicKey, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }));
    expect(kid).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 bytes, no padding
  });

  it('are the same derivation for EC keys (P-256 and P-384)', async () => {
    expect(keyId(p256.publicKey)).toBe(
      await independentKid(p256.publicKey, { name: 'ECDSA', namedCurve: 'P-256' }),
    );
    expect(keyId(p384.publicKey)).toBe(
      await independentKid(p384.publicKey, { name: 'ECDSA', namedCurve: 'P-384' }),
    );
  });

  it('match known vectors computed with openssl (pkey -outform DER | dgst -sha256 | base64url)', () => {
    expect(keyId(createPublicKey(RSA_VECTOR.pem))).toBe(RSA_VECTOR.kid);
    expect(keyId(createPublicKey(EC_VECTOR.pem))).toBe(EC_VECTOR.kid);
  });
});

describe('publicKeysFromPem', () => {
  it('takes public keys, private keys (their public part), certificates and PKCS#1 RSA public keys', async () => {
    const fromPublic = publicKeysFromPem(pem(rsa.publicKey), 'pub.pem');
    const fromPrivate = publicKeysFromPem(pem(rsa.privateKey), 'key.pem');
    const pkcs1 = rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    const fromPkcs1 = publicKeysFromPem(pkcs1, 'pkcs1.pem');
    const kids = [fromPublic, fromPrivate, fromPkcs1].map((keys) => keys.map(keyId));
    expect(kids).toEqual([[keyId(rsa.publicKey)], [keyId(rsa.publicKey)], [keyId(rsa.publicKey)]]);
    expect(publicKeysFromPem(CERTIFICATE.pem, 'cert.pem').map(keyId)).toEqual([CERTIFICATE.kid]);
  });

  it('takes several PEM blocks in one file, as --service-account-key-file does', () => {
    const keys = publicKeysFromPem(`${pem(rsa.publicKey)}\n${pem(p256.publicKey)}`, 'both.pem');
    expect(keys.map(keyId)).toEqual([keyId(rsa.publicKey), keyId(p256.publicKey)]);
  });

  it.each([
    ['no PEM at all', 'hello', 'bad.pem: no PEM block found'],
    [
      'a broken PEM body',
      '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n',
      'bad.pem: not a usable PUBLIC KEY',
    ],
    [
      'an Ed25519 key',
      pem(generateKeyPairSync('ed25519').publicKey),
      'bad.pem: ed25519 keys are not supported (kube-apiserver signs with RSA or ECDSA keys)',
    ],
    [
      'a secp256k1 key',
      pem(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey),
      'bad.pem: EC curve secp256k1 is not one kube-apiserver signs with',
    ],
  ])('refuses %s, naming the file', (_what, text, message) => {
    expect(() => publicKeysFromPem(text, 'bad.pem')).toThrow(OidcInputError);
    expect(() => publicKeysFromPem(text, 'bad.pem')).toThrow(message);
  });

  it('names the block when a file holds several', () => {
    const text = `${pem(rsa.publicKey)}\n-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n`;
    expect(() => publicKeysFromPem(text, 'two.pem')).toThrow(
      'two.pem (PEM block 2, PUBLIC KEY): not a usable',
    );
  });
});

describe('the JWKS', () => {
  it('holds kube-apiserver’s JWK for an RSA key: use, kty, kid, alg RS256, n, e and nothing private', async () => {
    const key = await signingKey(rsa.privateKey);
    const jwk = rsa.publicKey.export({ format: 'jwk' });
    expect(key.jwk).toEqual({
      use: 'sig',
      kty: 'RSA',
      kid: keyId(rsa.publicKey),
      alg: 'RS256',
      n: jwk.n,
      e: jwk.e,
    });
  });

  it('holds crv, x, y and ES256/ES384 for EC keys', async () => {
    for (const [pair, alg, crv] of [
      [p256, 'ES256', 'P-256'],
      [p384, 'ES384', 'P-384'],
    ] as const) {
      const jwk = pair.publicKey.export({ format: 'jwk' });
      expect((await signingKey(pair.publicKey)).jwk).toEqual({
        use: 'sig',
        kty: 'EC',
        kid: keyId(pair.publicKey),
        alg,
        crv,
        x: jwk.x,
        y: jwk.y,
      });
    }
  });

  it('verifies a token signed with the private key and the kid kube-apiserver would put in it', async () => {
    const { jwks } = await oidcDocuments(ISSUER, [
      { text: pem(rsa.publicKey), origin: 'rsa.pem' },
      { text: pem(p256.publicKey), origin: 'ec.pem' },
    ]);
    for (const [privateKey, publicKey, alg] of [
      [rsa.privateKey, rsa.publicKey, 'RS256'],
      [p256.privateKey, p256.publicKey, 'ES256'],
    ] as const) {
      const token = await new SignJWT({ sub: 'system:serviceaccount:ns:app' })
        .setProtectedHeader({ alg, kid: keyId(publicKey) })
        .setIssuer(ISSUER)
        .setAudience('sts.amazonaws.com')
        .setExpirationTime('10m')
        .sign(privateKey);
      const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), {
        issuer: ISSUER,
        audience: 'sts.amazonaws.com',
      });
      expect(payload.sub).toBe('system:serviceaccount:ns:app');
    }
  });

  it('lists a key given twice (public and private key files) once', async () => {
    const { jwks } = await oidcDocuments(ISSUER, [
      { text: pem(rsa.publicKey), origin: 'a.pem' },
      { text: pem(rsa.privateKey), origin: 'b.pem' },
    ]);
    expect(jwks.keys).toHaveLength(1);
  });
});

describe('the discovery document', () => {
  it('is what IAM reads from an S3-hosted issuer', async () => {
    const keys = [await signingKey(rsa.publicKey)];
    expect(discoveryDocument(ISSUER, keys)).toEqual({
      issuer: ISSUER,
      jwks_uri: `${ISSUER}/keys.json`,
      authorization_endpoint: 'urn:kubernetes:programmatic_authorization',
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      claims_supported: ['sub', 'iss'],
    });
  });

  it('lists the algorithms of the keys given: RS256, ES256, ES384', async () => {
    const keys = await Promise.all([p384, rsa, p256].map((pair) => signingKey(pair.publicKey)));
    expect(discoveryDocument(ISSUER, keys).id_token_signing_alg_values_supported).toEqual([
      'RS256',
      'ES256',
      'ES384',
    ]);
  });

  it('keeps the issuer exactly as given and joins keys.json without a doubled slash', () => {
    expect(jwksUri('https://bucket.s3.amazonaws.com/')).toBe('https://bucket.s3.amazonaws.com/keys.json');
    expect(checkIssuer('https://bucket.s3.amazonaws.com/')).toBe('https://bucket.s3.amazonaws.com/');
  });

  it.each([
    ['http://oidc.example.com', 'must be an https URL'],
    ['oidc.example.com', 'must be an https URL'],
    ['https://oidc.example.com/?x=1', 'must have no query or fragment'],
  ])('refuses the issuer %s', (issuer, message) => {
    expect(() => checkIssuer(issuer)).toThrow(message);
  });
});

describe('writeOidcDocuments', () => {
  it('writes .well-known/openid-configuration and keys.json under the output directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'oidc-'));
    const keyFile = join(dir, 'sa.pub');
    await writeFile(keyFile, pem(rsa.publicKey));
    const out = join(dir, 'site');
    const result = await writeOidcDocuments({ issuer: ISSUER, publicKeys: [keyFile], outputDir: out });
    expect(result.files).toEqual([join(out, '.well-known/openid-configuration'), join(out, 'keys.json')]);
    const discovery = JSON.parse(await readFile(result.files[0]!, 'utf8')) as { jwks_uri: string };
    const jwks = JSON.parse(await readFile(result.files[1]!, 'utf8')) as { keys: Array<{ kid: string }> };
    expect(discovery.jwks_uri).toBe(`${ISSUER}/keys.json`);
    expect(jwks.keys.map((key) => key.kid)).toEqual([keyId(rsa.publicKey)]);
  });

  it('names a key file that cannot be read', async () => {
    await expect(
      writeOidcDocuments({ issuer: ISSUER, publicKeys: ['/nonexistent/sa.pub'], outputDir: tmpdir() }),
    ).rejects.toThrow('/nonexistent/sa.pub cannot be read: ENOENT');
  });
});

// Known vectors: keys made with openssl, kids computed with
// `openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d =`.
const RSA_VECTOR = {
  pem: `-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAyTT/SyCranO4XRmi35ry
jJ5kcaDVJCaVvJgrBABqyHVZtpCxcRIjjqqmMEJ7PiLJqDxJ+S47E3T5fHJdGj8v
JiggfgO7dNPoWaWmJ90e48hXHSw0vH1aMW3XKd8d+H8Y6PUb9tsLuxms8YeNpwaY
3TIDo/VAbysWVXMozxZ5AdEVY3bP5xhRaegnrg/Rxwk3z1PE5WAU8ffHDgbErx7W
kggLbb4q7v3PXSOz3weJu0hc+sg+CQvOTSB6Hi1qYh9OwxSIKqNFbdSqGkX4RpVn
YY/S3VuDcb8/rBL+WJp9otyGw1ITndwQGpod0MmkpzcmJGNunHr5sdZlHZA/vfTR
uwIDAQAB
-----END PUBLIC KEY-----
`,
  kid: 'fX0BzR6m9xpDhHB-iz6fmwZacc_N0R5IsRx0n99M4Rc',
};
const EC_VECTOR = {
  pem: `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEueH+NzUPu9TNGlLAWB7yVCreTIIY
8TObiUsjP+XH+BmKmyd+qD+CjN0YoCodhTdcnp8QYnq13+NG3SdrW+M2ug==
-----END PUBLIC KEY-----
`,
  kid: 'UWnL5CMCCCvH4bnVzwnRPWLwJkGbF6eOaRf9OCWuyFk',
};
/** A self-signed certificate for EC_VECTOR's key: its kid is the key's. */
const CERTIFICATE = {
  pem: `-----BEGIN CERTIFICATE-----
MIIBbjCCARWgAwIBAgIUEuCoiv1apOCIseUeI650gPtRjAAwCgYIKoZIzj0EAwIw
DTELMAkGA1UEAwwCc2EwHhcNMjYxMTMwMDU0NzM3WhcNMzYxMTI3MDU0NzM3WjAN
MQswCQYDVQQDDAJzYTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABLnh/jc1D7vU
zRpSwFge8lQq3kyCGPEzm4lLIz/lx/gZipsnfqg/gozdGKAqHYU3XJ6fEGJ6td/j
Rt0na1vjNrqjUzBRMB0GA1UdDgQWBBTGA0vT7qJRyLvQXWPcTeFTe8sFQjAfBgNV
HSMEGDAWgBTGA0vT7qJRyLvQXWPcTeFTe8sFQjAPBgNVHRMBAf8EBTADAQH/MAoG
CCqGSM49BAMCA0cAMEQCIHfI0D/Qwr8ZHWmccD3jy69ltaAXssWr1DM1UrFoxypl
AiB5GVMhpXvsbK5r+kxzQac0RLvMYi8EpniERAkBJ0uNcA==
-----END CERTIFICATE-----
`,
  kid: 'UWnL5CMCCCvH4bnVzwnRPWLwJkGbF6eOaRf9OCWuyFk',
};
