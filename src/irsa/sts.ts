// AssumeRoleWithWebIdentity as AWS STS answers it, without AWS: the request's parameters, the web
// identity token (signature against the issuer's JWKS, issuer, expiry, audience), the role from a
// roles file and its trust policy, then temporary credentials in STS's XML. Pure: the keys and
// roles are handed in, the HTTP server and JWKS fetching live in commands/sts.ts.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import {
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
} from 'jose';
import { parse } from 'yaml';
import {
  assumeRoleWithWebIdentityXml,
  errorResponseXml,
  type AssumeRoleWithWebIdentityResult,
} from './sts-xml.js';
import { evaluateTrustPolicy, TrustPolicyError } from './trust-policy.js';

export const STS_VERSION = '2011-06-15';
export const ACTION = 'AssumeRoleWithWebIdentity';
export const DURATION = { min: 900, max: 43_200, default: 3600 };
/** A role's MaxSessionDuration when the roles file gives none: IAM's default. */
export const DEFAULT_MAX_SESSION_DURATION = 3600;
/** What kube-apiserver and common OIDC providers sign with; `none` and HMAC never verify. */
export const TOKEN_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
];
export const NOT_AUTHORIZED = `Not authorized to perform sts:${ACTION}`;

export type StsErrorCode =
  'ValidationError' | 'InvalidAction' | 'InvalidIdentityToken' | 'ExpiredTokenException' | 'AccessDenied';

/** An STS error: its code, message (what the caller sees) and HTTP status. */
export class StsError extends Error {
  readonly status: number;
  constructor(
    readonly code: StsErrorCode,
    message: string,
    /** Why, for the log, when the message alone does not say it. */
    readonly hints: string[] = [],
  ) {
    super(message);
    this.status = code === 'AccessDenied' ? 403 : 400;
  }
}

export class RolesFileError extends Error {}

// ---------------------------------------------------------------------------------------------
// Request parameters

export interface AssumeRoleWithWebIdentityParams {
  roleArn: string;
  roleSessionName: string;
  webIdentityToken: string;
  durationSeconds: number;
}

/** AWS's wording for a member that breaks a constraint. */
function validationError(member: string, value: string | null, constraint: string): StsError {
  const shown = value === null ? 'null' : `'${value.length > 100 ? `${value.slice(0, 100)}...` : value}'`;
  return new StsError(
    'ValidationError',
    `1 validation error detected: Value ${shown} at '${member}' failed to satisfy constraint: ${constraint}`,
  );
}

function required(params: URLSearchParams, name: string, member: string, min: number, max: number): string {
  const value = params.get(name);
  if (value === null || value === '') throw validationError(member, null, 'Member must not be null');
  if (value.length < min || value.length > max) {
    throw validationError(
      member,
      value,
      `Member must have length ${value.length < min ? 'greater than or equal to ' + min : 'less than or equal to ' + max}`,
    );
  }
  return value;
}

/** The parameters of an AssumeRoleWithWebIdentity call (form body or query string), checked as STS does. */
export function parseAssumeRoleWithWebIdentity(params: URLSearchParams): AssumeRoleWithWebIdentityParams {
  const action = params.get('Action');
  if (action === null || action === '') {
    throw new StsError('InvalidAction', `The request has no Action; this STS answers Action=${ACTION}`);
  }
  const version = params.get('Version');
  if (version === null || version === '') throw validationError('version', null, 'Member must not be null');
  if (action !== ACTION || version !== STS_VERSION) {
    throw new StsError(
      'InvalidAction',
      `Could not find operation ${action} for version ${version}` +
        (action === ACTION ? '' : ` (this STS answers ${ACTION} only)`),
    );
  }
  const roleArn = required(params, 'RoleArn', 'roleArn', 20, 2048);
  if (parseRoleArn(roleArn) === undefined) {
    throw new StsError(
      'ValidationError',
      `Request ARN is invalid: RoleArn '${roleArn}' is not an IAM role ARN (arn:<partition>:iam::<account>:role/<name>)`,
    );
  }
  const roleSessionName = required(params, 'RoleSessionName', 'roleSessionName', 2, 64);
  if (!/^[\w+=,.@-]*$/.test(roleSessionName)) {
    throw validationError(
      'roleSessionName',
      roleSessionName,
      'Member must satisfy regular expression pattern: [\\w+=,.@-]*',
    );
  }
  const webIdentityToken = required(params, 'WebIdentityToken', 'webIdentityToken', 4, 20_000);
  const duration = params.get('DurationSeconds');
  let durationSeconds = DURATION.default;
  if (duration !== null && duration !== '') {
    if (!/^\d+$/.test(duration)) {
      throw validationError('durationSeconds', duration, 'Member must be a whole number of seconds');
    }
    durationSeconds = Number(duration);
    if (durationSeconds < DURATION.min) {
      throw validationError(
        'durationSeconds',
        duration,
        `Member must have value greater than or equal to ${DURATION.min}`,
      );
    }
    if (durationSeconds > DURATION.max) {
      throw validationError(
        'durationSeconds',
        duration,
        `Member must have value less than or equal to ${DURATION.max}`,
      );
    }
  }
  return { roleArn, roleSessionName, webIdentityToken, durationSeconds };
}

export interface RoleArn {
  partition: string;
  account: string;
  /** The role's name without its path: what the assumed-role ARN holds. */
  name: string;
}

export function parseRoleArn(arn: string): RoleArn | undefined {
  const match = /^arn:(aws[a-z-]*):iam::(\d{12}):role\/(?:[\x21-\x7e]*\/)?([\w+=,.@-]{1,64})$/.exec(arn);
  if (!match) return undefined;
  return { partition: match[1]!, account: match[2]!, name: match[3]! };
}

// ---------------------------------------------------------------------------------------------
// Roles file

export interface Role {
  arn: string;
  trustPolicy: unknown;
  maxSessionDuration: number;
  /** The role's unique ID (`AROA...`); derived from the ARN when the file gives none. */
  roleId: string;
}

/**
 * The roles file: a YAML or JSON list of `{arn, trustPolicy}` (or `{roles: [...]}`). A trust policy
 * is the policy object or its JSON text; `maxSessionDuration` (seconds, default 3600) and `roleId`
 * are optional, as in IAM.
 */
export function parseRoles(text: string, origin: string): Map<string, Role> {
  let document: unknown;
  try {
    document = parse(text);
  } catch (error) {
    throw new RolesFileError(`${origin}: not YAML or JSON: ${(error as Error).message.split('\n')[0]}`);
  }
  const list =
    document !== null && typeof document === 'object' && !Array.isArray(document) && 'roles' in document
      ? (document as { roles: unknown }).roles
      : document;
  if (!Array.isArray(list)) {
    throw new RolesFileError(`${origin}: expected a list of {arn, trustPolicy} entries (or {roles: [...]})`);
  }
  const roles = new Map<string, Role>();
  list.forEach((entry: unknown, i) => {
    const where = `${origin}: role ${i + 1}`;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      throw new RolesFileError(`${where}: expected an object with arn and trustPolicy`);
    }
    const { arn, trustPolicy, maxSessionDuration, roleId } = entry as Record<string, unknown>;
    if (typeof arn !== 'string' || parseRoleArn(arn) === undefined) {
      throw new RolesFileError(
        `${where}: arn must be an IAM role ARN (arn:<partition>:iam::<account>:role/<name>), got ${JSON.stringify(arn)}`,
      );
    }
    if (roles.has(arn)) throw new RolesFileError(`${where}: ${arn} is listed twice`);
    let policy = trustPolicy;
    if (typeof policy === 'string') {
      try {
        policy = JSON.parse(policy);
      } catch (error) {
        throw new RolesFileError(`${where} (${arn}): trustPolicy is not JSON: ${(error as Error).message}`);
      }
    }
    if (policy === null || typeof policy !== 'object' || Array.isArray(policy)) {
      throw new RolesFileError(
        `${where} (${arn}): trustPolicy must be a policy document (an object or its JSON)`,
      );
    }
    const max = maxSessionDuration ?? DEFAULT_MAX_SESSION_DURATION;
    if (typeof max !== 'number' || !Number.isInteger(max) || max < 3600 || max > DURATION.max) {
      throw new RolesFileError(
        `${where} (${arn}): maxSessionDuration must be a whole number of seconds from 3600 to ${DURATION.max}`,
      );
    }
    if (roleId !== undefined && (typeof roleId !== 'string' || !/^AROA[A-Z0-9]{5,}$/.test(roleId))) {
      throw new RolesFileError(
        `${where} (${arn}): roleId must look like AROA followed by letters and digits`,
      );
    }
    roles.set(arn, {
      arn,
      trustPolicy: policy,
      maxSessionDuration: max,
      roleId: roleId ?? derivedRoleId(arn),
    });
  });
  return roles;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
function base32(bytes: Uint8Array, length: number): string {
  let out = '';
  for (let i = 0; out.length < length; i++) out += BASE32[bytes[i % bytes.length]! % 32];
  return out;
}

/** A stable `AROA...` ID for a role (21 characters, as IAM's). */
export function derivedRoleId(arn: string): string {
  return `AROA${base32(createHash('sha256').update(arn).digest(), 17)}`;
}

// ---------------------------------------------------------------------------------------------
// The web identity token

export interface VerifiedToken {
  issuer: string;
  subject: string;
  audiences: string[];
  /** The audience that is one of the provider's client IDs. */
  audience: string;
  payload: JWTPayload;
}

export interface TokenCheck {
  /** The OIDC provider's URL: the token's `iss` must equal it exactly. */
  issuer: string;
  /** The provider's client IDs: one of the token's audiences must be among them. */
  audiences: readonly string[];
  keys: () => Promise<JSONWebKeySet>;
  /** Fetches the JWKS again (a key the token names is unknown: rotated); undefined when it cannot. */
  refreshKeys?: () => Promise<JSONWebKeySet | undefined>;
  now: Date;
}

const invalid = (message: string): StsError => new StsError('InvalidIdentityToken', message);

/** The claims a token carries, unverified: for errors and the log. */
export function unverifiedClaims(token: string): JWTPayload | undefined {
  try {
    return decodeJwt(token);
  } catch {
    return undefined;
  }
}

export async function verifyWebIdentityToken(token: string, check: TokenCheck): Promise<VerifiedToken> {
  const claims = unverifiedClaims(token);
  if (claims === undefined) throw invalid('The web identity token is not a JWT (header.payload.signature)');
  // STS finds the OIDC provider by the token's issuer before it looks at anything else.
  if (claims.iss !== check.issuer) {
    throw invalid(
      `No OpenIDConnect provider found in your account for ${String(claims.iss)} ` +
        `(the token's iss must be exactly ${check.issuer})`,
    );
  }
  let kid: string | undefined;
  try {
    kid = decodeProtectedHeader(token).kid;
  } catch {
    throw invalid('The web identity token has no readable header');
  }
  let payload: JWTPayload;
  try {
    payload = await verifySignature(token, await check.keys(), check.now);
  } catch (error) {
    const refreshed =
      error instanceof errors.JWKSNoMatchingKey && check.refreshKeys ? await check.refreshKeys() : undefined;
    if (refreshed === undefined) throw tokenError(error, kid, check);
    try {
      payload = await verifySignature(token, refreshed, check.now);
    } catch (retried) {
      throw tokenError(retried, kid, check);
    }
  }
  if (typeof payload.sub !== 'string' || payload.sub === '')
    throw invalid('The web identity token has no sub claim');
  const audiences = typeof payload.aud === 'string' ? [payload.aud] : (payload.aud ?? []);
  const audience = audiences.find((aud) => check.audiences.includes(aud));
  if (audience === undefined) {
    throw invalid(
      `Incorrect token audience: ${JSON.stringify(audiences)} holds none of the OIDC provider's client IDs ` +
        JSON.stringify(check.audiences),
    );
  }
  return { issuer: check.issuer, subject: payload.sub, audiences, audience, payload };
}

async function verifySignature(token: string, keys: JSONWebKeySet, now: Date): Promise<JWTPayload> {
  const { payload } = await jwtVerify(token, createLocalJWKSet(keys), {
    algorithms: TOKEN_ALGORITHMS,
    currentDate: now,
    requiredClaims: ['exp'],
  });
  return payload;
}

function tokenError(error: unknown, kid: string | undefined, check: TokenCheck): StsError {
  if (error instanceof errors.JWTExpired) {
    const exp = error.payload.exp;
    return new StsError(
      'ExpiredTokenException',
      `Token expired: current date/time ${check.now.toISOString()} must be before the expiration date/time ` +
        (typeof exp === 'number' ? new Date(exp * 1000).toISOString() : 'in the token'),
    );
  }
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return invalid(
      `No key in the JWKS of ${check.issuer} matches the token's kid ${kid === undefined ? '(none)' : `"${kid}"`}: ` +
        'the token was signed by another key, or the JWKS is out of date',
    );
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return invalid(
      `The token's signature does not verify with the JWKS of ${check.issuer} (key "${kid ?? ''}")`,
    );
  }
  if (error instanceof errors.JOSEAlgNotAllowed) {
    return invalid(`The token's algorithm is not accepted (accepted: ${TOKEN_ALGORITHMS.join(', ')})`);
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    return invalid(`The token's ${error.claim} claim is not acceptable: ${error.message}`);
  }
  return invalid(`The web identity token does not verify: ${(error as Error).message}`);
}

// ---------------------------------------------------------------------------------------------
// The call

export interface StsConfig extends Omit<TokenCheck, 'now'> {
  roles: () => Promise<Map<string, Role>>;
  now?: () => Date;
}

/** One decision, as the log records it. */
export interface StsDecision {
  requestId: string;
  decision: 'allowed' | 'denied';
  /** The error code when denied. */
  code?: string;
  role?: string;
  session?: string;
  subject?: string;
  reason: string;
  hints?: string[];
}

export interface StsAnswer {
  status: number;
  body: string;
  decision: StsDecision;
}

/** Answers one AssumeRoleWithWebIdentity request: the HTTP status, the XML and the decision to log. */
export async function answerAssumeRoleWithWebIdentity(
  params: URLSearchParams,
  config: StsConfig,
  requestId: string = randomUUID(),
): Promise<StsAnswer> {
  const context: Partial<StsDecision> = {
    role: params.get('RoleArn') ?? undefined,
    session: params.get('RoleSessionName') ?? undefined,
  };
  try {
    const { result, reason } = await assume(params, config, context);
    return {
      status: 200,
      body: assumeRoleWithWebIdentityXml(result, requestId),
      decision: { requestId, decision: 'allowed', ...context, reason },
    };
  } catch (error) {
    if (!(error instanceof StsError)) throw error;
    return {
      status: error.status,
      body: errorResponseXml(error, requestId),
      decision: {
        requestId,
        decision: 'denied',
        code: error.code,
        ...context,
        reason: error.message,
        ...(error.hints.length > 0 ? { hints: error.hints } : {}),
      },
    };
  }
}

async function assume(
  params: URLSearchParams,
  config: StsConfig,
  context: Partial<StsDecision>,
): Promise<{ result: AssumeRoleWithWebIdentityResult; reason: string }> {
  const request = parseAssumeRoleWithWebIdentity(params);
  const sub = unverifiedClaims(request.webIdentityToken)?.sub;
  if (typeof sub === 'string') context.subject = sub;
  const now = config.now?.() ?? new Date();
  const token = await verifyWebIdentityToken(request.webIdentityToken, { ...config, now });
  context.subject = token.subject;

  const arn = parseRoleArn(request.roleArn)!;
  const role = (await config.roles()).get(request.roleArn);
  if (role === undefined) {
    throw new StsError('AccessDenied', `${NOT_AUTHORIZED}: no role ${request.roleArn} in the roles file`);
  }
  let trust;
  try {
    trust = evaluateTrustPolicy(role.trustPolicy, {
      issuer: token.issuer,
      subject: token.subject,
      audiences: token.audiences,
      account: arn.account,
      partition: arn.partition,
    });
  } catch (error) {
    if (!(error instanceof TrustPolicyError)) throw error;
    throw new StsError(
      'AccessDenied',
      `${NOT_AUTHORIZED}: the trust policy of ${role.arn} is invalid: ${error.message}`,
    );
  }
  if (!trust.allowed) {
    const hints = trust.hints.length > 0 ? ` (hint: ${trust.hints.join('; ')})` : '';
    throw new StsError('AccessDenied', `${NOT_AUTHORIZED}: ${trust.reason}${hints}`, trust.hints);
  }
  if (request.durationSeconds > role.maxSessionDuration) {
    throw new StsError(
      'ValidationError',
      `The requested DurationSeconds exceeds the MaxSessionDuration set for this role (${role.maxSessionDuration})`,
    );
  }
  return {
    result: {
      credentials: temporaryCredentials(new Date(now.getTime() + request.durationSeconds * 1000)),
      subjectFromWebIdentityToken: token.subject,
      assumedRoleUser: {
        arn: `arn:${arn.partition}:sts::${arn.account}:assumed-role/${arn.name}/${request.roleSessionName}`,
        assumedRoleId: `${role.roleId}:${request.roleSessionName}`,
      },
      provider: providerOf(token.issuer),
      audience: token.audience,
    },
    reason: trust.reason,
  };
}

/** The OIDC provider as IAM names it: the issuer URL without its scheme. */
export function providerOf(issuer: string): string {
  return issuer.replace(/^https?:\/\//, '').replace(/\/+$/, '');
}

/** Random credentials shaped as STS's: `ASIA` + 16 characters, a 40-character secret, a session token. */
export function temporaryCredentials(expiration: Date): AssumeRoleWithWebIdentityResult['credentials'] {
  return {
    accessKeyId: `ASIA${base32(randomBytes(16), 16)}`,
    secretAccessKey: randomBytes(30).toString('base64'),
    sessionToken: `IQoJb3JpZ2luX2VjE${randomBytes(240).toString('base64')}`,
    expiration,
  };
}
