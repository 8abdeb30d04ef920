// Flags of the Go webhook with no counterpart here, so that its Deployment arguments work
// unchanged. Those that served only its own certificate mode, klog or debugging are accepted and
// reported as ignored; those that would change what gets injected are refused when switched on.
import { Option, type Command } from 'commander';

const IGNORED: Array<[flags: string, why: string]> = [
  ['--logtostderr', 'logs always go to stdout'],
  ['--v <level>', 'klog verbosity; use --log-level'],
  ['--enable-debugging-handlers', 'no debugging handlers are served'],
];

const REFUSED_WHEN_ON: Array<[flag: string, why: string]> = [
  [
    '--in-cluster',
    'it takes certificates from the deprecated CSR signer; use --certificates=builtin, or pass --tls-cert and --tls-key (e.g. from cert-manager)',
  ],
  ['--watch-config-map', 'it reads roles from a ConfigMap; annotate the ServiceAccounts'],
  ['--compose-role-arn', 'it composes role ARNs from role names; annotate full ARNs'],
];

const attribute = (flag: string): string =>
  flag.slice(2).replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
const nameOf = (flags: string): string => flags.split(' ')[0]!;

/** The Go webhook's boolean flags: `--flag`, `--flag=true` or `--flag=false` (see goBooleanArgs). */
export const GO_BOOLEAN_FLAGS = [
  ...IGNORED.map(([flags]) => flags).filter((flags) => !flags.includes(' ')),
  ...REFUSED_WHEN_ON.map(([flag]) => flag),
];

/** Adds the Go webhook's flags to `serve`, hidden from --help. */
export function withGoFlags(command: Command): Command {
  for (const [flags] of IGNORED) command.addOption(new Option(flags).hideHelp());
  for (const [flag] of REFUSED_WHEN_ON) command.addOption(new Option(flag).hideHelp());
  // Declared after `--flag`, so a flag not given stays undefined rather than defaulting to true.
  for (const flag of GO_BOOLEAN_FLAGS) command.addOption(new Option(`--no-${flag.slice(2)}`).hideHelp());
  return command.addOption(new Option('--kube-api <url>').hideHelp());
}

/** Warnings for the Go flags given; throws for one that asks for what this webhook does not do. */
export function goFlagWarnings(given: Record<string, unknown>): string[] {
  for (const [flag, why] of REFUSED_WHEN_ON) {
    if (given[attribute(flag)] === true) throw new Error(`${flag}=true is not supported: ${why}`);
  }
  if (given['kubeApi'])
    throw new Error('--kube-api is not supported: pass a --kubeconfig that names the API server');
  const ignored = [
    ...IGNORED.map(([flags, why]) => [nameOf(flags), why]),
    ...REFUSED_WHEN_ON.map(([flag]) => [flag, 'it is off']),
  ];
  return ignored
    .filter(([flag]) => given[attribute(flag!)] !== undefined)
    .map(([flag, why]) => `${flag} (a flag of the Go webhook) is ignored: ${why}`);
}
