// Flag values as the Go webhook's flags take them: Go durations, Go booleans and whole numbers.
import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import {
  arg,
  formatDuration,
  goBooleanArgs,
  parseBoolean,
  parseBoundedDuration,
  parseDuration,
  parseInteger,
  parseSeconds,
} from '../../src/cli/flags.js';
import { OptionError } from '../../src/identity/options.js';

describe('parseDuration (Go duration syntax, in ms)', () => {
  it.each([
    ['0', 0],
    ['0s', 0],
    ['500ms', 500],
    ['1s', 1000],
    ['1.5s', 1500],
    ['.5s', 500],
    ['1m30s', 90_000],
    ['2h', 7_200_000],
    ['1h0m0s', 3_600_000],
    ['250us', 0.25],
    ['250µs', 0.25],
    ['1000000ns', 1],
  ])('%s is %d ms', (value, ms) => {
    expect(parseDuration('--d', value)).toBe(ms);
  });

  it.each(['', '1', 's', '-1s', '1x', '1s ', ' 1s', '1 s', '1S', '1d'])(
    'rejects %j naming the flag',
    (value) => {
      expect(() => parseDuration('--d', value)).toThrow(
        new OptionError(`--d must be a duration such as 0, 500ms, 2s or 1m30s, got "${value}"`),
      );
    },
  );
});

describe('parseBoundedDuration', () => {
  it.each([
    ['below the bound', '29s', 29_000],
    ['at the bound', '30s', 30_000],
    ['zero', '0', 0],
  ])('accepts a duration %s', (_case, value, ms) => {
    expect(parseBoundedDuration('--d', value, 30_000)).toBe(ms);
  });

  it.each([
    ['30s', '31s', 30_000],
    ['1.5s', '2s', 1500],
    ['250ms', '1s', 250],
    ['2m', '2m1s', 120_000],
  ])('rejects a duration above %s, naming the bound as a duration', (bound, value, maxMs) => {
    expect(() => parseBoundedDuration('--d', value, maxMs)).toThrow(
      new OptionError(`--d must be at most ${bound}, got "${value}"`),
    );
  });

  it('checks the syntax first', () => {
    expect(() => parseBoundedDuration('--d', '10', 30_000)).toThrow(
      new OptionError('--d must be a duration such as 0, 500ms, 2s or 1m30s, got "10"'),
    );
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0'],
    [250, '250ms'],
    [1000, '1s'],
    [1500, '1.5s'],
    [90_000, '90s'],
    [60_000, '1m'],
    [120_000, '2m'],
    [3_600_000, '1h'],
    [5_400_000, '90m'],
  ])('%d ms is %s, which parseDuration reads back', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration('--d', text)).toBe(ms);
  });
});

describe('parseBoolean (Go strconv.ParseBool)', () => {
  it.each(['1', 't', 'T', 'TRUE', 'true', 'True'])('%s is true', (value) => {
    expect(parseBoolean('--b', value)).toBe(true);
  });

  it.each(['0', 'f', 'F', 'FALSE', 'false', 'False'])('%s is false', (value) => {
    expect(parseBoolean('--b', value)).toBe(false);
  });

  it.each(['', 'yes', 'no', 'on', 'tRUE', 'fAlse', ' true', 'true ', '2'])(
    'rejects %j naming the flag',
    (value) => {
      expect(() => parseBoolean('--b', value)).toThrow(
        new OptionError(`--b must be true or false, got "${value}"`),
      );
    },
  );
});

describe('goBooleanArgs', () => {
  const BOOLEANS = new Set(['--in-cluster', '--logtostderr']);

  it.each(['1', 't', 'T', 'TRUE', 'true', 'True'])('rewrites --flag=%s to --flag', (value) => {
    expect(goBooleanArgs(['serve', `--in-cluster=${value}`], BOOLEANS)).toEqual(['serve', '--in-cluster']);
  });

  it.each(['0', 'f', 'F', 'FALSE', 'false', 'False'])('rewrites --flag=%s to --no-flag', (value) => {
    expect(goBooleanArgs(['serve', `--in-cluster=${value}`], BOOLEANS)).toEqual(['serve', '--no-in-cluster']);
  });

  it('leaves bare boolean flags, other flags and their values alone', () => {
    const argv = [
      'serve',
      '--logtostderr',
      '--port=8443',
      '--annotation-prefix',
      'x=y',
      'true',
      '--in-cluster',
    ];
    expect(goBooleanArgs(argv, BOOLEANS)).toEqual(argv);
  });

  it.each(['true', 'false'])(
    'refuses a separate %s after a boolean flag, saying how to write it',
    (value) => {
      expect(() => goBooleanArgs(['serve', '--in-cluster', value], BOOLEANS)).toThrow(
        new OptionError(
          `--in-cluster takes no separate value; write --in-cluster=${value} (or --in-cluster alone for true)`,
        ),
      );
    },
  );

  it('leaves everything after -- alone, even what looks like a bad boolean', () => {
    expect(
      goBooleanArgs(['--logtostderr=false', '--', '--in-cluster=true', '--logtostderr=maybe'], BOOLEANS),
    ).toEqual(['--no-logtostderr', '--', '--in-cluster=true', '--logtostderr=maybe']);
  });

  it('rejects a value Go does not read as a boolean, naming the flag', () => {
    expect(() => goBooleanArgs(['--in-cluster=yes'], BOOLEANS)).toThrow(
      new OptionError('--in-cluster must be true or false, got "yes"'),
    );
  });

  it('does not change the arguments it is given', () => {
    const argv = Object.freeze(['--in-cluster=false', '--', 'x']);
    goBooleanArgs(argv, BOOLEANS);
    expect(argv).toEqual(['--in-cluster=false', '--', 'x']);
  });
});

describe('parseInteger', () => {
  it.each([
    ['the minimum', '1', 1],
    ['the maximum', '65535', 65535],
  ])('accepts %s', (_case, value, n) => {
    expect(parseInteger('--port', value, 1, 65535)).toBe(n);
  });

  it.each(['0', '65536', '', '-1', '1.5', '8443 ', '0x10'])(
    'rejects %j naming the flag and the range',
    (value) => {
      expect(() => parseInteger('--port', value, 1, 65535)).toThrow(
        new OptionError(`--port must be a whole number from 1 to 65535, got "${value}"`),
      );
    },
  );
});

describe('parseSeconds', () => {
  it('accepts any whole number; the range is checked where it is used', () => {
    expect(parseSeconds('--token-expiration', '0')).toBe(0);
    expect(parseSeconds('--token-expiration', '99999999999')).toBe(99_999_999_999);
  });

  it.each(['', '1h', '-1', '1.5', '99999999999999999999'])('rejects %j naming the flag', (value) => {
    expect(() => parseSeconds('--token-expiration', value)).toThrow(
      new OptionError(`--token-expiration must be a whole number of seconds, got "${value}"`),
    );
  });
});

describe('arg', () => {
  it('passes the flag to the parser and turns its error into a commander usage error', () => {
    const parse = arg(parseBoolean, '--b');
    expect(parse('true')).toBe(true);
    expect(() => parse('maybe')).toThrow(InvalidArgumentError);
    expect(() => parse('maybe')).toThrow('--b must be true or false, got "maybe"');
  });
});
