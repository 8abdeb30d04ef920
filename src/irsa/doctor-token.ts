// `doctor --check-token`: would AWS accept a ServiceAccount token? Its `kid` is in the JWKS the
// IAM OIDC provider reads, its signature verifies with that key, and its issuer, audience and
// subject are what the trust policy expects.
import {
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JSONWebKeySet,
} from 'jose';
import type { Finding } from './doctor.js';
import { serviceAccountSubject } from './trust-policy.js';

export interface TokenExpectations {
  /** The issuer the IAM OIDC provider is for (`--issuer`, else the cluster's own). */
  issuer: string;
  audience: string;
  namespace: string;
  serviceAccount: string;
  /** Where the JWKS came from, for the messages. */
  jwksSource: string;
}

/** Findings for one token; none when AWS would accept it as far as the OIDC provider goes. */
export async function tokenFindings(
  token: string,
  jwks: JSONWebKeySet,
  expected: TokenExpectations,
): Promise<Finding[]> {
  const subject = `token of ServiceAccount ${expected.namespace}/${expected.serviceAccount}`;
  const finding = (problem: string, action: string): Finding[] => [
    { severity: 'error', check: 'token', subject, problem, action },
  ];
  let kid: string | undefined;
  let claims: ReturnType<typeof decodeJwt>;
  try {
    kid = decodeProtectedHeader(token).kid;
    claims = decodeJwt(token);
  } catch (error) {
    return finding(`not a JWT: ${(error as Error).message}`, 'check the token request');
  }
  const keys = Array.isArray(jwks.keys) ? jwks.keys : [];
  if (kid === undefined) {
    return finding(
      'has no kid header: AWS cannot pick the key to verify it',
      'use a Kubernetes version that sets kid (1.16+)',
    );
  }
  if (!keys.some((key) => key.kid === kid)) {
    return finding(
      `kid ${kid} is not in the JWKS of ${expected.jwksSource} (kids: ${keys.map((key) => key.kid ?? '(none)').join(', ') || 'none'})`,
      'publish the JWKS of the keys kube-apiserver signs with (--service-account-signing-key-file): pod-identity-webhook oidc --public-key <its public key>, and upload keys.json where the issuer serves it',
    );
  }
  try {
    await jwtVerify(token, createLocalJWKSet(jwks), {
      issuer: expected.issuer,
      audience: expected.audience,
      subject: serviceAccountSubject(expected.namespace, expected.serviceAccount),
    });
  } catch (error) {
    if (error instanceof errors.JWTClaimValidationFailed) {
      if (error.claim === 'iss') {
        return finding(
          `issuer is ${String(claims.iss)}, but the IAM OIDC provider is for ${expected.issuer}`,
          `create the IAM OIDC provider for ${String(claims.iss)}, or run kube-apiserver with --service-account-issuer=${expected.issuer}`,
        );
      }
      if (error.claim === 'aud') {
        return finding(
          `audience is ${JSON.stringify(claims.aud)}, not ${expected.audience}`,
          `add ${expected.audience} to the IAM OIDC provider's client IDs, or annotate the ServiceAccount with the audience it lists`,
        );
      }
      if (error.claim === 'sub') {
        return finding(
          `subject is ${String(claims.sub)}, not ${serviceAccountSubject(expected.namespace, expected.serviceAccount)}`,
          'check the ServiceAccount name',
        );
      }
      return finding(`claim ${error.claim} refused: ${error.reason}`, 'check the token request');
    }
    if (error instanceof errors.JWTExpired) {
      return finding('has expired', 'check the clocks of kube-apiserver and this machine');
    }
    if (error instanceof errors.JWSSignatureVerificationFailed) {
      return finding(
        `signature does not verify with key ${kid} of ${expected.jwksSource}`,
        'the published key with this kid is not the one kube-apiserver signs with: regenerate the JWKS from the signing key (pod-identity-webhook oidc)',
      );
    }
    return finding(`does not verify: ${(error as Error).message}`, 'check the JWKS and the issuer');
  }
  return [];
}

/** The issuer's discovery document must point at a JWKS under the same issuer AWS reads. */
export function discoveryFindings(
  discovery: { issuer?: unknown; jwks_uri?: unknown },
  expectedIssuer: string,
  source: string,
): Finding[] {
  if (discovery.issuer === expectedIssuer) return [];
  return [
    {
      severity: 'error',
      check: 'token',
      subject: `OIDC discovery ${source}`,
      problem: `issuer is ${String(discovery.issuer)}, not ${expectedIssuer}: AWS refuses a provider whose document names another issuer`,
      action: `regenerate the documents for ${expectedIssuer} (pod-identity-webhook oidc --issuer ${expectedIssuer})`,
    },
  ];
}
