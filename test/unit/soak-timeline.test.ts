// The soak's oracle (test/soak/timeline.ts): which ServiceAccount states an answer may rightly show.
import { describe, expect, it } from 'vitest';
import { EITHER_ANSWER_MS, Timeline } from '../soak/timeline.js';

describe('the soak timeline', () => {
  it('accepts only the current state long after the last change', () => {
    const timeline = new Timeline([0]);
    timeline.settle(timeline.begin(0, 'none', 1000), 1010);
    expect(timeline.acceptable(0, 1010 + EITHER_ANSWER_MS + 1, 1010 + EITHER_ANSWER_MS + 5)).toEqual([
      'none',
    ]);
  });

  it('accepts the old state until a second after the change was acknowledged, the new one from when it was sent', () => {
    const timeline = new Timeline([0]);
    expect(timeline.acceptable(0, 900, 990)).toEqual([0]);
    const change = timeline.begin(0, 1, 1000);
    expect(timeline.acceptable(0, 990, 1001)).toEqual([1, 0]);
    timeline.settle(change, 1020);
    expect(timeline.acceptable(0, 1500, 1510)).toEqual([1, 0]);
    expect(timeline.acceptable(0, 2021, 2030)).toEqual([1]);
  });

  it('keeps every state a request could have seen across quick changes, and the absent one', () => {
    const timeline = new Timeline(['absent']);
    timeline.settle(timeline.begin(0, 2, 100), 110);
    timeline.settle(timeline.begin(0, 'absent', 200), 210);
    expect(timeline.acceptable(0, 150, 160)).toEqual([2, 'absent']);
    expect(timeline.acceptable(0, 5000, 5001)).toEqual(['absent']);
    expect(timeline.current(0)).toBe('absent');
  });
});
