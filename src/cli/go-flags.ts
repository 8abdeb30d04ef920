// Every flag of the Go webhook's main.go (its own and klog's) that has no counterpart here, so that
// its Deployment arguments work unchanged, and the argv forms its manifests use. Those that served
// only its own certificate mode, klog, debugging or client-go's informer are accepted and reported
// as ignored; those that would change what gets injected are refused when switched on. Never silent.
import { Option, type Command } from 'commander';
import { OptionError } from '../identity/options.js';
import { arg, parseBoolean, parseDuration, parseInteger } from './flags.js';

const wholeNumber = (flag: string) => arg((f, v) => parseInteger(f, v, 0, Number.MAX_SAFE_INTEGER), flag);
const goDuration = (flag: string) => arg(parseDuration, flag);

const KLOG = 'a klog flag; logs are JSON lines on stdout, see --log-level';

/** Accepted, with a warning naming each one given. [flags, why, value parser]. */
const IGNORED: Array<[flags: string, why: string, parse?: (value: string) => unknown]> = [
  ['--logtostderr', 'logs always go to stdout'],
  ['--v <level>', 'klog verbosity; use --log-level', wholeNumber('--v')],
  ['--enable-debugging-handlers', 'no debugging handlers are served'],
  [
    '--resync-period <duration>',
    'client-go’s informer resync re-delivers its cached ServiceAccounts to its own handlers without asking the API server; this webhook reads its cache directly and gets every change from its watch, so there is nothing to re-deliver',
    goDuration('--resync-period'),
  ],
  ['--alsologtostderr', KLOG],
  ['--legacy_stderr_threshold_behavior', KLOG],
  ['--add_dir_header', KLOG],
  ['--skip_headers', KLOG],
  ['--skip_log_headers', KLOG],
  ['--one_output', KLOG],
  ['--log_dir <dir>', KLOG],
  ['--log_file <file>', KLOG],
  ['--log_file_max_size <mb>', KLOG, wholeNumber('--log_file_max_size')],
  ['--stderrthreshold <severity>', KLOG],
  ['--alsologtostderrthreshold <severity>', KLOG],
  ['--vmodule <settings>', KLOG],
  ['--log_backtrace_at <location>', KLOG],
];

/** Go booleans refused when true (`--flag`, `--flag=true`); `=false` is warned about as off. */
const REFUSED_WHEN_ON: Array<[flag: string, why: string]> = [
  [
    '--in-cluster',
    'it takes certificates from the deprecated CSR signer; use --certificates=builtin, or pass --tls-cert and --tls-key (e.g. from cert-manager)',
  ],
];

/** Go strings refused when not empty; an empty one is warned about as off. */
const REFUSED_WHEN_SET: Array<[flags: string, message: string]> = [
  ['--kube-api <url>', '--kube-api is not supported: pass a --kubeconfig that names the API server'],
];

const attribute = (flag: string): string =>
  flag.slice(2).replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
const nameOf = (flags: string): string => flags.split(' ')[0]!;

/** The Go webhook's boolean flags: `--flag`, `--flag=true` or `--flag=false` (see goBooleanArgs). */
export const GO_BOOLEAN_FLAGS = [
  ...IGNORED.map(([flags]) => flags).filter((flags) => !flags.includes(' ')),
  ...REFUSED_WHEN_ON.map(([flag]) => flag),
];

/** Every flag name the Go webhook has and this one only accepts (for tests and the README). */
export const GO_ONLY_FLAGS = [...IGNORED, ...REFUSED_WHEN_ON, ...REFUSED_WHEN_SET].map(([flags]) =>
  nameOf(flags),
);

/** Adds the Go webhook's flags to `serve`, hidden from --help. */
export function withGoFlags(command: Command): Command {
  for (const [flags, , parse] of IGNORED) {
    const option = new Option(flags).hideHelp();
    command.addOption(parse ? option.argParser(parse) : option);
  }
  for (const [flag] of REFUSED_WHEN_ON) command.addOption(new Option(flag).hideHelp());
  for (const [flags] of REFUSED_WHEN_SET) command.addOption(new Option(flags).hideHelp());
  // Declared after `--flag`, so a flag not given stays undefined rather than defaulting to true.
  for (const flag of GO_BOOLEAN_FLAGS) command.addOption(new Option(`--no-${flag.slice(2)}`).hideHelp());
  return command;
}

/** Warnings for the Go flags given; throws for one that asks for what this webhook does not do. */
export function goFlagWarnings(given: Record<string, unknown>): string[] {
  for (const [flag, why] of REFUSED_WHEN_ON) {
    if (given[attribute(flag)] === true) throw new Error(`${flag}=true is not supported: ${why}`);
  }
  for (const [flags, message] of REFUSED_WHEN_SET) {
    if (given[attribute(nameOf(flags))]) throw new Error(message);
  }
  const ignored = [
    ...IGNORED.map(([flags, why]) => [nameOf(flags), why]),
    ...REFUSED_WHEN_ON.map(([flag]) => [flag, 'it is off']),
    ...REFUSED_WHEN_SET.map(([flags]) => [nameOf(flags), 'it is empty']),
  ];
  return ignored
    .filter(([flag]) => given[attribute(flag!)] !== undefined)
    .map(([flag, why]) => `${flag} (a flag of the Go webhook) is ignored: ${why}`);
}

/** --tls-min-version as the Go webhook takes it: `1.0` to `1.3`, or `VersionTLS10` to `VersionTLS13`. */
export const GO_TLS_MIN_VERSIONS = ['1.0', '1.1', '1.2', '1.3'];

export function parseTlsMinVersion(flag: string, value: string): string {
  const version = /^VersionTLS1([0-3])$/.exec(value)?.[1];
  const normalized = version === undefined ? value : `1.${version}`;
  if (!GO_TLS_MIN_VERSIONS.includes(normalized)) {
    throw new OptionError(
      `${flag} must be one of ${GO_TLS_MIN_VERSIONS.join(', ')} (or VersionTLS10 to VersionTLS13), got "${value}"`,
    );
  }
  return normalized;
}

/** TLS 1.0 and 1.1 are raised to 1.2, with a warning: the one client, kube-apiserver, speaks 1.2+. */
export function tlsMinVersion(value: string): { version: string; warning?: string } {
  if (value === '1.2' || value === '1.3') return { version: value };
  return {
    version: '1.2',
    warning: `--tls-min-version ${value} is raised to 1.2: TLS 1.0 and 1.1 are deprecated (RFC 8996), and kube-apiserver, the only client, uses 1.2 or 1.3`,
  };
}

/** The Go webhook's port when run as the Go webhook is (no subcommand): its manifests expect it. */
export const GO_DEFAULT_PORT = 443;

const TOP_LEVEL = ['--help', '-h', '--version'];

/**
 * True when the command line is the Go webhook's: flags and no subcommand, as its manifests run
 * `/webhook --in-cluster=false ...`. Such a command line means `serve`, with the Go defaults.
 */
export function isGoStyleInvocation(argv: readonly string[]): boolean {
  const first = argv[2];
  return first !== undefined && first.startsWith('-') && first !== '-' && !TOP_LEVEL.includes(first);
}

/**
 * Rewrites the Go webhook's command line for commander, before goBooleanArgs:
 * - no subcommand (see isGoStyleInvocation): `serve` is inserted; a `--version` anywhere (pflag
 *   reads it wherever it is, `--version=<bool>` too) prints the version instead;
 * - in `serve`, klog's shorthand `-v 4`, `-v=4` and `-v4` become `--v=4`, and single-dash long flags
 *   (`-port=443`, `-port 443`), which Go's own flag package takes, become double-dash ones.
 * `longFlags` maps serve's long flags to whether they take a value, so that a value that begins
 * with a dash is left alone. Everything after `--` is left alone.
 */
export function goStyleArgs(argv: readonly string[], longFlags: ReadonlyMap<string, boolean>): string[] {
  const [node = '', script = '', ...rest] = argv;
  let args = rest;
  if (isGoStyleInvocation(argv)) {
    const end = args.indexOf('--');
    const flags = end === -1 ? args : args.slice(0, end);
    const version = flags.filter((a) => a === '--version' || a.startsWith('--version='));
    const last = version.at(-1);
    if (last !== undefined) {
      // pflag: the last one wins.
      if (last === '--version' || parseBoolean('--version', last.slice('--version='.length))) {
        return [node, script, '--version'];
      }
      args = args.filter((a, i) => (end !== -1 && i >= end) || !version.includes(a));
    }
    args = ['serve', ...args];
  }
  if (args[0] !== 'serve') return [node, script, ...args];
  const out: string[] = ['serve'];
  for (let i = 1; i < args.length; i++) {
    const argument = args[i]!;
    if (argument === '--') {
      out.push(...args.slice(i));
      break;
    }
    const long = /^-([a-z][\w-]+)(=.*)?$/.exec(argument);
    const shorthand = /^-v(?:=?(.+))?$/.exec(argument);
    const rewritten =
      long && longFlags.has(`--${long[1]}`)
        ? `--${long[1]}${long[2] ?? ''}`
        : shorthand
          ? `--v${shorthand[1] === undefined ? '' : `=${shorthand[1]}`}`
          : argument;
    out.push(rewritten);
    const flag = rewritten.split('=')[0]!;
    // A value-taking flag without `=` takes the next argument, whatever it looks like.
    if (longFlags.get(flag) === true && !rewritten.includes('=') && i + 1 < args.length) {
      out.push(args[++i]!);
    }
  }
  return [node, script, ...out];
}
