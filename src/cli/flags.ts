// Flag values as the Go webhook's flags take them: Go booleans, whole numbers and Go durations.
// Only the format is checked here; what a value may be is checked where it is used.
import { InvalidArgumentError } from 'commander';
import { OptionError, parseGoBool, parseWholeNumber } from '../identity/options.js';

/** Wraps a parser so commander reports its message as a usage error. */
export function arg<T>(parse: (flag: string, value: string) => T, flag: string): (value: string) => T {
  return (value) => {
    try {
      return parse(flag, value);
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message);
    }
  };
}

/** A Go boolean (`strconv.ParseBool`). */
export function parseBoolean(flag: string, value: string): boolean {
  const parsed = parseGoBool(value);
  if (parsed === undefined) throw new OptionError(`${flag} must be true or false, got "${value}"`);
  return parsed;
}

/**
 * Go's boolean flags are `--flag`, `--flag=true` or `--flag=false`, and never take the next argument
 * as their value. Commander's boolean options know only `--flag` and `--no-flag`, so this rewrites
 * `--flag=<bool>` to one of those before commander parses.
 */
export function goBooleanArgs(argv: readonly string[], booleanFlags: ReadonlySet<string>): string[] {
  const end = argv.indexOf('--');
  const flags = end === -1 ? argv : argv.slice(0, end);
  const rewritten = flags.map((argument, i) => {
    if (booleanFlags.has(argument) && ['true', 'false'].includes(flags[i + 1] ?? '')) {
      // Go would take the word for a positional argument and stop reading flags: say so instead.
      throw new OptionError(
        `${argument} takes no separate value; write ${argument}=${flags[i + 1]} (or ${argument} alone for true)`,
      );
    }
    const equals = argument.indexOf('=');
    const flag = argument.slice(0, equals);
    if (equals === -1 || !booleanFlags.has(flag)) return argument;
    return parseBoolean(flag, argument.slice(equals + 1)) ? flag : `--no-${flag.slice(2)}`;
  });
  return end === -1 ? rewritten : [...rewritten, ...argv.slice(end)];
}

export function parseInteger(flag: string, value: string, min: number, max: number): number {
  const n = parseWholeNumber(value);
  if (n === undefined || n < min || n > max) {
    throw new OptionError(`${flag} must be a whole number from ${min} to ${max}, got "${value}"`);
  }
  return n;
}

/** A whole number of any size; its range is checked by whoever uses it. */
export function parseSeconds(flag: string, value: string): number {
  const n = parseWholeNumber(value);
  if (n === undefined || !Number.isSafeInteger(n)) {
    throw new OptionError(`${flag} must be a whole number of seconds, got "${value}"`);
  }
  return n;
}

const DURATION_UNITS_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** A Go duration (`time.ParseDuration`), as the Go webhook's flags take: `0`, `500ms`, `1m30s`. In ms. */
export function parseDuration(flag: string, value: string): number {
  if (value === '0') return 0;
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let ms = 0;
  let matched = 0;
  for (let match = part.exec(value); match !== null; match = part.exec(value)) {
    ms += Number(match[1]) * DURATION_UNITS_MS[match[2]!]!;
    matched = part.lastIndex;
  }
  if (value === '' || matched !== value.length) {
    throw new OptionError(`${flag} must be a duration such as 0, 500ms, 2s or 1m30s, got "${value}"`);
  }
  return ms;
}

/** A duration no longer than `maxMs`. */
export function parseBoundedDuration(flag: string, value: string, maxMs: number): number {
  const ms = parseDuration(flag, value);
  if (ms > maxMs) throw new OptionError(`${flag} must be at most ${formatDuration(maxMs)}, got "${value}"`);
  return ms;
}

/** Milliseconds as a Go duration the flags accept: 1000 → `1s`, 1500 → `1.5s`, 250 → `250ms`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return ms >= 1000 ? `${ms / 1000}s` : `${ms}ms`;
}
