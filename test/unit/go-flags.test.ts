// The Go webhook's command line: its flags (main.go and klog's), its argv forms, its TLS options.
import { getCiphers } from 'node:tls';
import { describe, expect, it } from 'vitest';
import {
  GO_ONLY_FLAGS,
  goFlagWarnings,
  goStyleArgs,
  isGoStyleInvocation,
  parseTlsMinVersion,
  tlsMinVersion,
} from '../../src/cli/go-flags.js';
import { OptionError } from '../../src/identity/options.js';
import { cipherSuitesFromGo, GO_TLS12_CIPHER_SUITES, GO_TLS13_CIPHER_SUITES } from '../../src/server/tls.js';

const attribute = (flag: string): string =>
  flag.slice(2).replace(/-(\w)/g, (_, c: string) => c.toUpperCase());

describe('the Go webhook flags this one only accepts', () => {
  const REFUSED = ['--in-cluster'];
  const REFUSED_WHEN_SET = ['--kube-api'];

  it.each(GO_ONLY_FLAGS.filter((f) => ![...REFUSED, ...REFUSED_WHEN_SET].includes(f)))(
    '%s is accepted with a warning naming it',
    (flag) => {
      const warnings = goFlagWarnings({ [attribute(flag)]: 'x' });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(new RegExp(`^${flag} \\(a flag of the Go webhook\\) is ignored: .+`));
    },
  );

  it.each(REFUSED)('%s=true is refused; %s=false is warned about as off', (flag) => {
    expect(() => goFlagWarnings({ [attribute(flag)]: true })).toThrow(`${flag}=true is not supported: `);
    expect(goFlagWarnings({ [attribute(flag)]: false })).toEqual([
      `${flag} (a flag of the Go webhook) is ignored: it is off`,
    ]);
  });

  it.each([['--kube-api', /^--kube-api is not supported: pass a --kubeconfig/]])(
    '%s is refused when set, warned about when empty',
    (flag, message) => {
      expect(() => goFlagWarnings({ [attribute(flag)]: '/some/value' })).toThrow(message);
      expect(goFlagWarnings({ [attribute(flag)]: '' })).toEqual([
        `${flag} (a flag of the Go webhook) is ignored: it is empty`,
      ]);
    },
  );

  it('says nothing about flags not given', () => expect(goFlagWarnings({})).toEqual([]));

  it('covers every klog flag main.go registers, under klog’s own (underscore) names', () => {
    for (const flag of [
      'log_dir',
      'log_file',
      'log_file_max_size',
      'logtostderr',
      'alsologtostderr',
      'legacy_stderr_threshold_behavior',
      'v',
      'add_dir_header',
      'skip_headers',
      'one_output',
      'skip_log_headers',
      'stderrthreshold',
      'alsologtostderrthreshold',
      'vmodule',
      'log_backtrace_at',
    ]) {
      expect(GO_ONLY_FLAGS).toContain(`--${flag}`);
    }
  });
});

describe('--tls-min-version, as the Go webhook takes it', () => {
  it.each([
    ['1.2', '1.2'],
    ['1.3', '1.3'],
    ['VersionTLS12', '1.2'],
    ['VersionTLS13', '1.3'],
    ['1.0', '1.0'],
    ['VersionTLS11', '1.1'],
  ])('%s is %s', (value, version) => expect(parseTlsMinVersion('--t', value)).toBe(version));

  it.each(['', '1.4', 'TLSv1.2', 'VersionTLS14', '1'])('rejects %j naming the values', (value) => {
    expect(() => parseTlsMinVersion('--t', value)).toThrow(
      new OptionError(
        `--t must be one of 1.0, 1.1, 1.2, 1.3 (or VersionTLS10 to VersionTLS13), got "${value}"`,
      ),
    );
  });

  it.each(['1.0', '1.1'])('raises %s to 1.2, with a warning', (value) => {
    expect(tlsMinVersion(value)).toEqual({
      version: '1.2',
      warning: expect.stringMatching(new RegExp(`^--tls-min-version ${value} is raised to 1.2: `)),
    });
  });

  it.each(['1.2', '1.3'])('keeps %s without a warning', (value) => {
    expect(tlsMinVersion(value)).toEqual({ version: value });
  });
});

describe('--tls-cipher-suites: Go cipher suite names to OpenSSL', () => {
  const available = new Set(getCiphers());
  const usable = Object.entries(GO_TLS12_CIPHER_SUITES).filter(([, openssl]) =>
    available.has(openssl.toLowerCase()),
  );

  it.each(usable)('%s is %s', (go, openssl) => {
    expect(cipherSuitesFromGo(go)).toEqual({ ciphers: openssl, ignored: [] });
  });

  it('knows every TLS 1.2 suite of Go’s tls.CipherSuites(), all usable here', () => {
    for (const name of [
      'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA',
      'TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA',
      'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA',
      'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA',
      'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
      'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384',
      'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
      'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
      'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256',
      'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256',
    ]) {
      expect(usable.map(([go]) => go)).toContain(name);
    }
  });

  it.each([
    ['an empty value', ''],
    ['only separators and blanks', ' , ,'],
  ])('%s means Node’s defaults', (_case, value) => {
    expect(cipherSuitesFromGo(value)).toEqual({ ignored: [] });
  });

  it('keeps the order, skips blanks and repeats, as an OpenSSL list', () => {
    expect(
      cipherSuitesFromGo(
        ' TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 ,,TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
      ),
    ).toEqual({ ciphers: 'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256', ignored: [] });
  });

  it.each(GO_TLS13_CIPHER_SUITES)('accepts the TLS 1.3 suite %s and reports it changes nothing', (name) => {
    expect(cipherSuitesFromGo(`${name},TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`)).toEqual({
      ciphers: 'ECDHE-RSA-AES128-GCM-SHA256',
      ignored: [name],
    });
  });

  it('refuses TLS 1.3 suites alone: TLS 1.2 would have none', () => {
    expect(() => cipherSuitesFromGo('TLS_AES_128_GCM_SHA256')).toThrow(
      /names only TLS 1.3 suites \(TLS_AES_128_GCM_SHA256\).+add TLS 1.2 suites, or use --tls-min-version=1.3$/,
    );
  });

  it.each([
    ['an OpenSSL name', 'ECDHE-RSA-AES128-GCM-SHA256'],
    ['a misspelt Go name', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA'],
    ['Go’s legacy constant name', 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305'],
  ])('refuses %s, naming it and listing the valid ones', (_case, name) => {
    expect(() => cipherSuitesFromGo(name)).toThrow(
      new RegExp(
        `^--tls-cipher-suites: unknown cipher suite "${name}"; valid: TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, .*TLS_AES_128_GCM_SHA256`,
      ),
    );
  });

  it.each([
    'TLS_RSA_WITH_RC4_128_SHA',
    'TLS_RSA_WITH_3DES_EDE_CBC_SHA',
    'TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA',
  ])('refuses %s, which Go knows but Node’s OpenSSL does not offer', (name) => {
    expect(() => cipherSuitesFromGo(name)).toThrow(`--tls-cipher-suites: ${name} is not available here`);
  });
});

describe('the Go webhook’s command line', () => {
  const SERVE_FLAGS = new Map([
    ['--port', true],
    ['--annotation-prefix', true],
    ['--in-cluster', false],
    ['--logtostderr', false],
    ['--v', true],
    ['--vmodule', true],
    ['--resync-period', true],
  ]);
  const argv = (...args: string[]) => ['node', 'main.js', ...args];
  const rewrite = (...args: string[]) => goStyleArgs(argv(...args), SERVE_FLAGS).slice(2);

  it.each([
    ['flags first (the Go manifests)', ['--in-cluster=false'], true],
    ['a single-dash flag', ['-port=443'], true],
    ['a subcommand', ['serve', '--port', '1'], false],
    ['mutate', ['mutate', '-'], false],
    ['nothing', [], false],
    ['--help', ['--help'], false],
    ['-h', ['-h'], false],
    ['--version', ['--version'], false],
    ['stdin, -', ['-'], false],
  ])('%s: Go style is %s', (_case, args, goStyle) => {
    expect(isGoStyleInvocation(argv(...args))).toBe(goStyle);
  });

  it.each([
    [
      'the Go manifests’ arguments become serve’s',
      ['--in-cluster=false', '--namespace=default', '--logtostderr'],
      ['serve', '--in-cluster=false', '--namespace=default', '--logtostderr'],
    ],
    [
      'single-dash long flags',
      ['-port=443', '-in-cluster=false'],
      ['serve', '--port=443', '--in-cluster=false'],
    ],
    ['a single-dash flag and its value', ['-port', '443'], ['serve', '--port', '443']],
    ['klog’s -v shorthand with =', ['-v=4'], ['serve', '--v=4']],
    ['klog’s -v shorthand joined', ['-v4'], ['serve', '--v=4']],
    ['klog’s -v shorthand and a separate value', ['-v', '4'], ['serve', '--v', '4']],
    ['-vmodule, a long flag, not -v', ['-vmodule=x=2'], ['serve', '--vmodule=x=2']],
    [
      'a value that begins with a dash',
      ['--annotation-prefix', '-port'],
      ['serve', '--annotation-prefix', '-port'],
    ],
    ['an unknown single-dash flag (left for commander to refuse)', ['-nope'], ['serve', '-nope']],
    ['everything after --', ['-port=1', '--', '-port=2'], ['serve', '--port=1', '--', '-port=2']],
    ['--version anywhere', ['--port=1', '--version'], ['--version']],
    ['--version=true', ['--version=true'], ['--version']],
    ['--version=false is dropped', ['--port=1', '--version=false'], ['serve', '--port=1']],
    ['the last --version wins', ['--port=1', '--version=false', '--version'], ['--version']],
    ['serve with single-dash flags', ['serve', '-port=1', '-v=2'], ['serve', '--port=1', '--v=2']],
    ['mutate alone', ['mutate', '-h'], ['mutate', '-h']],
    ['mutate reading stdin', ['mutate', '-', '-port=1'], ['mutate', '-', '-port=1']],
  ])('%s', (_case, args, expected) => {
    expect(rewrite(...args)).toEqual(expected);
  });

  it('takes --version=<bool> as Go does, naming a bad value', () => {
    expect(rewrite('--port=1', '--version=t')).toEqual(['--version']);
    expect(() => rewrite('--port=1', '--version=yes')).toThrow(
      new OptionError('--version must be true or false, got "yes"'),
    );
  });
});
