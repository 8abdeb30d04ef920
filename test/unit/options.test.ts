import { describe, expect, it } from 'vitest';
import { mutationOptionsFrom, OptionError, parseBoundedDuration, parseDuration } from '../../src/options.js';

describe('parseDuration (Go duration syntax, in ms)', () => {
  it.each([
    ['0', 0],
    ['0s', 0],
    ['500ms', 500],
    ['1s', 1000],
    ['1.5s', 1500],
    ['1m30s', 90_000],
    ['2h', 7_200_000],
    ['250us', 0.25],
  ])('%s is %d ms', (value, ms) => {
    expect(parseDuration('--d', value)).toBe(ms);
  });

  it.each(['', '1', 's', '-1s', '1x', '1s ', ' 1s', '1 s'])('rejects %j naming the flag', (value) => {
    expect(() => parseDuration('--d', value)).toThrow(
      new OptionError(`--d must be a duration such as 0, 500ms, 2s or 1m30s, got "${value}"`),
    );
  });

  it('bounds a duration', () => {
    expect(parseBoundedDuration('--d', '30s', 30_000, '30s')).toBe(30_000);
    expect(() => parseBoundedDuration('--d', '31s', 30_000, '30s')).toThrow(
      '--d must be at most 30s, got "31s"',
    );
  });
});

describe('mutationOptionsFrom (options.json)', () => {
  it('fills defaults and names an unknown or mistyped key', () => {
    expect(mutationOptionsFrom({ awsDefaultRegion: 'eu-west-1' })).toMatchObject({
      awsDefaultRegion: 'eu-west-1',
      tokenExpiration: 86400,
    });
    expect(() => mutationOptionsFrom({ region: 'x' })).toThrow('unknown mutation option "region"');
    expect(() => mutationOptionsFrom({ tokenExpiration: '600' })).toThrow(
      'mutation option "tokenExpiration" must be a number',
    );
    expect(() => mutationOptionsFrom([])).toThrow('mutation options must be a JSON object');
  });
});
