// The short fuzz run of CI (`npm run fuzz` runs a million): hostile requests through the real app,
// in-process, with a fixed seed. A failure here replays alone with
// `npm run fuzz -- --seed 20261130 --replay <index>`. The oracle is in check.ts.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzzApps } from './apps.js';
import { fuzz, inputAt } from './fuzz.js';
import { firstLoss } from './check.js';

const SEED = 20261130;
const INPUTS = 10_000;

let apps: FastifyInstance[];
beforeAll(async () => {
  apps = await fuzzApps();
});
afterAll(() => Promise.all(apps.map((app) => app.close())));

describe('fuzzing POST /mutate', () => {
  it(`answers ${INPUTS} hostile requests with 200, 400, 413 or 415, right and the same twice`, async () => {
    const stats = await fuzz(apps, { seed: SEED, from: 0, to: INPUTS, timeoutMs: 10_000, keepFailures: 3 });
    const failures = stats.failures.map(({ index, problems, minimal }) => ({ index, problems, minimal }));
    expect(failures).toEqual([]);
    // The run reached every answer, not only the parser's refusals.
    for (const status of ['200', '400', '413', '415']) expect(stats.statuses[status]).toBeGreaterThan(0);
    expect(stats.patched).toBeGreaterThan(INPUTS / 20);
    expect(stats.inputs).toBe(INPUTS);
  }, 300_000);

  it('replays an input from the seed and its index alone', () => {
    expect(inputAt(SEED, 1234)).toEqual(inputAt(SEED, 1234));
    expect(inputAt(SEED, 1234)).not.toEqual(inputAt(SEED, 1235));
  });
});

describe('the oracle', () => {
  it.each([
    [{ a: 1 }, { a: 1, b: 2 }, undefined],
    [{ a: [1] }, { a: [1, 2] }, undefined],
    [{ a: null }, { a: { x: 1 } }, undefined],
    [{ a: '' }, { a: {} }, '/a'],
    [{ a: [1, 2] }, { a: [0, 1, 2] }, '/a/1'],
    [{ a: { b: 1 } }, { a: {} }, '/a/b'],
    [{ a: [1] }, { a: [] }, '/a'],
  ])('sees what a patch lost: %j then %j', (before, after, lost) => {
    expect(firstLoss(before, after)).toBe(lost);
  });
});
