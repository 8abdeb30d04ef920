// The ServiceAccount-to-role mapping of `--watch-config-map`: the ConfigMap `pod-identity-webhook`,
// key `config`, JSON `{"<namespace>/<name>": {"RoleARN", "Audience", "UseRegionalSTS",
// "TokenExpiration"}}`, as the Go webhook reads it (pkg/cache). Pure: text in, a lookup out.
//
// Field names match case-insensitively, as Go's encoding/json does. Types as the Go webhook's Entry:
// RoleARN and Audience strings, UseRegionalSTS a boolean, TokenExpiration a whole number of seconds.
// Unlike the Go webhook, which ignores what it does not know and panics on a key without `/`, an
// unknown field, a wrong type or a bad key is an error naming the key and the field.
//
// Keys may use `*` in the namespace, the name or both (`team-*/*`, `*/builder`; the Go webhook has
// only `*/<name>`). When several keys match, the most specific wins:
//   1. an exact key beats any glob;
//   2. fewer `*` beats more;
//   3. an exact namespace beats a glob namespace (`team-a/*` beats `*/builder` for team-a/builder:
//      a namespace is an ownership boundary);
//   4. more literal characters beat fewer (`team-a*/*` beats `team-*/*`);
//   5. otherwise the key that sorts first.
import type { Manifest } from '../manifests.js';

export const CONFIG_MAP_NAME = 'pod-identity-webhook';
export const CONFIG_MAP_KEY = 'config';

/** A ConfigMap entry. Settings left out (or 0 / '' as Go's zero values) fall back to the flags. */
export interface MappedIdentity {
  /** The key that matched, e.g. `team-*\/*`: named in warnings. */
  key: string;
  /** '' means no role: a more specific entry can exempt a ServiceAccount from a glob. */
  roleArn: string;
  audience?: string;
  regionalSts?: boolean;
  tokenExpiration?: number;
}

export interface RoleMapping {
  get(namespace: string, name: string): MappedIdentity | undefined;
  /** Number of entries. */
  readonly size: number;
}

export class RoleMappingError extends Error {
  override name = 'RoleMappingError';
}

interface Pattern {
  entry: MappedIdentity;
  namespace: (value: string) => boolean;
  name: (value: string) => boolean;
  wildcards: number;
  exactNamespace: boolean;
  literals: number;
}

const FIELDS = {
  rolearn: 'RoleARN',
  audience: 'Audience',
  useregionalsts: 'UseRegionalSTS',
  tokenexpiration: 'TokenExpiration',
} as const;

/** A namespace or name with `*` globs: DNS-label characters, dots (ServiceAccount names) and `*`. */
const PART = /^[a-z0-9*]([a-z0-9.*-]*[a-z0-9*])?$/;

/**
 * A `*` glob as a test. Not a RegExp: `^.*-.*-prod$` backtracks polynomially on a long name
 * without a match, while the literal parts found left to right in turn take linear time.
 */
function glob(part: string): (value: string) => boolean {
  const [first = '', ...rest] = part.split('*');
  const last = rest.pop();
  if (last === undefined) return (value) => value === first;
  return (value) => {
    const end = value.length - last.length;
    if (end < first.length || !value.startsWith(first) || !value.endsWith(last)) return false;
    let at = first.length;
    for (const literal of rest) {
      const found = value.indexOf(literal, at);
      if (found === -1 || found + literal.length > end) return false;
      at = found + literal.length;
    }
    return true;
  };
}

const stars = (part: string): number => part.split('*').length - 1;

export const EMPTY_ROLE_MAPPING: RoleMapping = { get: () => undefined, size: 0 };

/** Parses the `config` value; `origin` (e.g. `ConfigMap eks/pod-identity-webhook`) starts every error. */
export function parseRoleMapping(config: string, origin: string): RoleMapping {
  let json: unknown;
  try {
    json = JSON.parse(config);
  } catch (error) {
    throw new RoleMappingError(`${origin}: key ${CONFIG_MAP_KEY} is not JSON: ${(error as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new RoleMappingError(
      `${origin}: key ${CONFIG_MAP_KEY} must be a JSON object of "<namespace>/<name>": {"RoleARN": ...}`,
    );
  }
  const exact = new Map<string, MappedIdentity>();
  const patterns: Pattern[] = [];
  for (const [key, value] of Object.entries(json)) {
    const entry = parseEntry(key, value, origin);
    const [namespace, name, ...rest] = key.split('/');
    if (namespace === undefined || name === undefined || rest.length > 0) {
      throw new RoleMappingError(`${origin}: key "${key}" must be <namespace>/<name>`);
    }
    for (const part of [namespace, name]) {
      if (!PART.test(part)) {
        throw new RoleMappingError(
          `${origin}: key "${key}": "${part}" is not a namespace or name (lower-case letters, digits, '-', '.', and '*' for any run of characters)`,
        );
      }
    }
    const wildcards = stars(namespace) + stars(name);
    if (wildcards === 0) {
      exact.set(key, entry);
      continue;
    }
    patterns.push({
      entry,
      namespace: glob(namespace),
      name: glob(name),
      wildcards,
      exactNamespace: stars(namespace) === 0,
      literals: key.length - 1 - wildcards,
    });
  }
  patterns.sort(
    (a, b) =>
      a.wildcards - b.wildcards ||
      Number(b.exactNamespace) - Number(a.exactNamespace) ||
      b.literals - a.literals ||
      (a.entry.key < b.entry.key ? -1 : 1),
  );
  return {
    size: exact.size + patterns.length,
    get(namespace, name) {
      const hit = exact.get(`${namespace}/${name}`);
      if (hit !== undefined) return hit;
      return patterns.find((p) => p.namespace(namespace) && p.name(name))?.entry;
    },
  };
}

function parseEntry(key: string, value: unknown, origin: string): MappedIdentity {
  const where = `${origin}: key "${key}"`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RoleMappingError(`${where} must map to an object such as {"RoleARN": "arn:aws:iam::..."}`);
  }
  const seen = new Map<string, string>();
  const entry: MappedIdentity = { key, roleArn: '' };
  for (const [given, field] of Object.entries(value as Record<string, unknown>)) {
    const name = FIELDS[given.toLowerCase() as keyof typeof FIELDS] as string | undefined;
    if (name === undefined) {
      throw new RoleMappingError(
        `${where}: unknown field "${given}" (known: ${Object.values(FIELDS).join(', ')})`,
      );
    }
    if (seen.has(name)) {
      throw new RoleMappingError(`${where}: field ${name} is given twice ("${seen.get(name)}", "${given}")`);
    }
    seen.set(name, given);
    const wrong = (type: string): never => {
      throw new RoleMappingError(`${where}: field ${name} must be ${type}, got ${JSON.stringify(field)}`);
    };
    switch (name) {
      case 'RoleARN':
        if (typeof field !== 'string') wrong('a string');
        entry.roleArn = field as string;
        break;
      case 'Audience':
        if (typeof field !== 'string') wrong('a string');
        if (field !== '') entry.audience = field as string;
        break;
      case 'UseRegionalSTS':
        if (typeof field !== 'boolean') wrong('true or false');
        entry.regionalSts = field as boolean;
        break;
      case 'TokenExpiration':
        if (typeof field !== 'number' || !Number.isSafeInteger(field) || field < 0) {
          wrong('a whole number of seconds');
        }
        if (field !== 0) entry.tokenExpiration = field as number;
        break;
    }
  }
  if (!seen.has('RoleARN')) throw new RoleMappingError(`${where}: field RoleARN is missing`);
  return entry;
}

/** The mapping of a ConfigMap object (from the API server or a manifest file). */
export function roleMappingFromConfigMap(configMap: Manifest, origin: string): RoleMapping {
  if (configMap['kind'] !== undefined && configMap['kind'] !== 'ConfigMap') {
    throw new RoleMappingError(
      `${origin} must be a ConfigMap, got kind ${JSON.stringify(configMap['kind'])}`,
    );
  }
  const data = configMap['data'] as Record<string, unknown> | undefined | null;
  const config = data?.[CONFIG_MAP_KEY];
  if (config === undefined || config === null) {
    throw new RoleMappingError(`${origin} has no data.${CONFIG_MAP_KEY}`);
  }
  if (typeof config !== 'string')
    throw new RoleMappingError(`${origin}: data.${CONFIG_MAP_KEY} must be a string`);
  return parseRoleMapping(config, origin);
}
