import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resizePlan, roundHalfEven } from '../../src/images/index.js';

test('roundHalfEven rounds halves to the even neighbour, as Python round()', () => {
  const cases: Array<[number, number]> = [[0.5, 0], [1.5, 2], [2.5, 2], [3.5, 4], [-0.5, -0], [-1.5, -2], [1.49, 1], [2.51, 3], [7, 7]];
  for (const [x, want] of cases) assert.equal(roundHalfEven(x), want, `round(${x})`);
});

test('resizePlan: short side to S, long side floored, centre-crop offsets', () => {
  // 301x199 at 224: long side floor(224*301/199) = floor(338.81) = 338; left round((338-224)/2) = 57.
  assert.deepEqual(resizePlan(301, 199, 224), { width: 338, height: 224, left: 57, top: 0 });
  // Portrait: 97x211 at 64: floor(64*211/97) = floor(139.21) = 139; top round(37.5) = 38 (even).
  assert.deepEqual(resizePlan(97, 211, 64), { width: 64, height: 139, left: 0, top: 38 });
  // A half offset that rounds down to even: 40x230 at 64 gives 368 tall, (368-64)/2 = 152 exactly.
  assert.deepEqual(resizePlan(40, 230, 64), { width: 64, height: 368, left: 0, top: 152 });
  // (101 - 64) / 2 = 18.5 rounds to 18, not 19.
  assert.equal(resizePlan(101 * 3, 64 * 3, 64).left, 18);
  assert.deepEqual(resizePlan(64, 64, 64), { width: 64, height: 64, left: 0, top: 0 });
  assert.deepEqual(resizePlan(1, 1, 224), { width: 224, height: 224, left: 0, top: 0 });
});
