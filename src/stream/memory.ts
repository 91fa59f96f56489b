/**
 * The memory budgets of image work, split from processing.memory.maxInFlightBytes: what
 * messages hold from consume to produce (their value, or the tensor it becomes), fetched bodies
 * while they are decoded, and pixels while they are decoded. Work takes them in that order and
 * each later budget is released before anything else is waited for, so no cycle of waits can form.
 */
import { ByteBudget } from './byte-budget.js';

export interface MemoryBudgets {
  /** Message values and tensors, from consume until the records are made: half. */
  held: ByteBudget;
  /** Fetched image bodies, until decoded: a quarter. */
  fetch: ByteBudget;
  /** Decoded pixels, while decoding: a quarter. */
  decode: ByteBudget;
}

/** Splits `maxInFlightBytes` into the three budgets. */
export function memoryBudgets(maxInFlightBytes: number): MemoryBudgets {
  const quarter = Math.max(1, Math.floor(maxInFlightBytes / 4));
  return { held: new ByteBudget(Math.max(1, maxInFlightBytes - 2 * quarter)), fetch: new ByteBudget(quarter), decode: new ByteBudget(quarter) };
}
