// The IAM condition operators that role trust policies use, with IAM's rules for absent keys, the
// IfExists suffix and the ForAnyValue/ForAllValues set prefixes. Pure: no I/O.
//
// Multi-valued keys (a token with several `aud` values): with a set prefix, as IAM documents it.
// Without one, IAM's documentation only says not to do it; here a plain positive operator matches
// when ANY of the request's values matches one of the policy's values, and a plain negated operator
// is its exact negation (it matches when NONE does). For the usual one-valued key both readings are
// the same as comparing the single value.

/** The string operators this evaluator implements (each also with `IfExists`). */
export const STRING_OPERATORS = [
  'StringEquals',
  'StringNotEquals',
  'StringEqualsIgnoreCase',
  'StringNotEqualsIgnoreCase',
  'StringLike',
  'StringNotLike',
] as const;
export type StringOperator = (typeof STRING_OPERATORS)[number];

/** IAM operators that exist but that this evaluator does not implement (no trust policy needs them). */
const OTHER_IAM_OPERATORS = [
  'NumericEquals',
  'NumericNotEquals',
  'NumericLessThan',
  'NumericLessThanEquals',
  'NumericGreaterThan',
  'NumericGreaterThanEquals',
  'DateEquals',
  'DateNotEquals',
  'DateLessThan',
  'DateLessThanEquals',
  'DateGreaterThan',
  'DateGreaterThanEquals',
  'Bool',
  'BinaryEquals',
  'IpAddress',
  'NotIpAddress',
  'ArnEquals',
  'ArnNotEquals',
  'ArnLike',
  'ArnNotLike',
];

export type SetPrefix = 'ForAnyValue' | 'ForAllValues';

/** A parsed operator name such as `ForAnyValue:StringLikeIfExists`. */
export interface ParsedOperator {
  name: string; // as written in the policy
  set?: SetPrefix;
  base: StringOperator | 'Null';
  ifExists: boolean;
}

export type ParseResult = { operator: ParsedOperator } | { error: string };

/** Parses an operator name; on failure, says what is wrong (unknown, unsupported, wrong case). */
export function parseOperator(name: string): ParseResult {
  let rest = name;
  let set: SetPrefix | undefined;
  const colon = rest.indexOf(':');
  if (colon >= 0) {
    const prefix = rest.slice(0, colon);
    if (prefix !== 'ForAnyValue' && prefix !== 'ForAllValues') {
      const fix = ['ForAnyValue', 'ForAllValues'].find((p) => p.toLowerCase() === prefix.toLowerCase());
      return {
        error: `unknown set prefix "${prefix}"${fix ? ` (did you mean "${fix}"?)` : ' (ForAnyValue or ForAllValues)'}`,
      };
    }
    set = prefix;
    rest = rest.slice(colon + 1);
  }
  if (rest === 'Null') {
    if (set) return { error: `Null takes no set prefix` };
    return { operator: { name, base: 'Null', ifExists: false } };
  }
  const ifExists = rest.endsWith('IfExists');
  const base = ifExists ? rest.slice(0, -'IfExists'.length) : rest;
  if ((STRING_OPERATORS as readonly string[]).includes(base)) {
    return { operator: { name, base: base as StringOperator, ifExists, ...(set ? { set } : {}) } };
  }
  if (OTHER_IAM_OPERATORS.includes(base)) {
    return {
      error: `operator ${base} is valid IAM but not supported here: trust policies on OIDC tokens compare strings (${STRING_OPERATORS.join(', ')}, Null)`,
    };
  }
  const fix = [...STRING_OPERATORS, 'Null', ...OTHER_IAM_OPERATORS].find(
    (known) => known.toLowerCase() === base.toLowerCase(),
  );
  return {
    error: `unknown condition operator "${name}"${fix ? ` (operator names are case-sensitive: did you mean "${fix}${ifExists ? 'IfExists' : ''}"?)` : ''}`,
  };
}

/** Whether an operator is negated: its condition holds when nothing matches, and when the key is absent. */
export const isNegated = (base: StringOperator): boolean => base.includes('Not');

/** One piece of a policy value after policy variables are resolved: text, or a StringLike wildcard. */
type Piece = { text: string } | { wildcard: '*' | '?' };

/**
 * A policy value, resolved: `${*}`, `${?}` and `${$}` stand for those characters literally and
 * `${key}` / `${key, 'default'}` for a request value (policy Version 2012-10-17 only). `undefined`
 * when a variable names a key the request does not have and gives no default: such a value never
 * matches.
 */
export function resolveValue(
  value: string,
  like: boolean,
  variables: boolean,
  lookup: (key: string) => string | undefined,
): Piece[] | undefined {
  const pieces: Piece[] = [];
  const text = (t: string) => t !== '' && pieces.push({ text: t });
  const plain = (t: string) => {
    if (!like) return text(t);
    for (const part of t.split(/([*?])/)) {
      if (part === '*' || part === '?') pieces.push({ wildcard: part });
      else text(part);
    }
  };
  if (!variables) {
    plain(value);
    return pieces;
  }
  let at = 0;
  for (const match of value.matchAll(/\$\{([^}]*)\}/g)) {
    plain(value.slice(at, match.index));
    at = match.index + match[0].length;
    const inner = match[1]!.trim();
    if (inner === '*' || inner === '?' || inner === '$') {
      text(inner);
      continue;
    }
    const withDefault = /^(.*?)\s*,\s*'(.*)'$/.exec(inner);
    const key = withDefault ? withDefault[1]! : inner;
    const resolved = lookup(key) ?? withDefault?.[2];
    if (resolved === undefined) return undefined;
    text(resolved);
  }
  plain(value.slice(at));
  return pieces;
}

/** IAM's StringLike: `*` any run of characters (also none), `?` exactly one; case-sensitive. */
function like(pieces: Piece[], value: string): boolean {
  const source = pieces
    .map((p) =>
      'text' in p
        ? p.text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
        : p.wildcard === '*'
          ? '[\\s\\S]*'
          : '[\\s\\S]',
    )
    .join('');
  return new RegExp(`^${source}$`, 'u').test(value);
}

/** Whether one request value matches one resolved policy value, for the positive form of `base`. */
export function matchesOne(base: StringOperator, pieces: Piece[], value: string): boolean {
  if (base === 'StringLike' || base === 'StringNotLike') return like(pieces, value);
  const expected = pieces.map((p) => ('text' in p ? p.text : p.wildcard)).join('');
  if (base === 'StringEqualsIgnoreCase' || base === 'StringNotEqualsIgnoreCase') {
    return expected.toLowerCase() === value.toLowerCase();
  }
  return expected === value;
}

/**
 * Whether a condition holds: `values` are the request's values for the key (`undefined` when
 * absent), `policy` the policy's resolved values (an unresolvable one is `undefined` and never
 * matches).
 */
export function conditionHolds(
  operator: ParsedOperator,
  policy: (Piece[] | undefined)[],
  values: string[] | undefined,
): boolean {
  if (operator.base === 'Null') {
    // Null: "true" holds when the key is absent, "false" when it is present.
    const absent = values === undefined || values.length === 0;
    return policy.some((pieces) => {
      const flag = pieces?.map((p) => ('text' in p ? p.text : p.wildcard)).join('');
      return flag === 'true' ? absent : flag === 'false' ? !absent : false;
    });
  }
  const base = operator.base;
  const negated = isNegated(base);
  const absent = values === undefined || values.length === 0;
  if (absent) {
    if (operator.ifExists) return true;
    // ForAllValues holds vacuously for an absent key; ForAnyValue needs at least one value.
    if (operator.set === 'ForAllValues') return true;
    if (operator.set === 'ForAnyValue') return false;
    return negated;
  }
  const positive = (value: string) =>
    policy.some((pieces) => pieces !== undefined && matchesOne(base, pieces, value));
  // Per request value: does it satisfy the operator (for a negated operator: match none)?
  const satisfies = (value: string) => (negated ? !positive(value) : positive(value));
  if (operator.set === 'ForAllValues') return values.every(satisfies);
  if (operator.set === 'ForAnyValue') return values.some(satisfies);
  // No set prefix: see the note at the top of this file.
  const any = values.some(positive);
  return negated ? !any : any;
}

/** A condition's values as strings: IAM accepts a string, a number or a boolean, or an array of them. */
export function conditionValues(raw: unknown): { values: string[] } | { error: string } {
  const list: unknown[] = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) return { error: 'must not be an empty array' };
  const values: string[] = [];
  for (const item of list) {
    if (typeof item === 'string') values.push(item);
    else if (typeof item === 'number' || typeof item === 'boolean') values.push(String(item));
    else return { error: `must be a string or an array of strings, got ${describe(item)}` };
  }
  return { values };
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}
