import { describe, expect, it } from 'vitest';
import { threadsPerAgent } from '../../../scripts/cluster.ts';

describe('threadsPerAgent', () => {
  it('splits the cores between the agents of one host, at least one thread each', () => {
    expect(threadsPerAgent(1, 2)).toBe(2);
    expect(threadsPerAgent(2, 2)).toBe(1);
    expect(threadsPerAgent(3, 2)).toBe(1);
    expect(threadsPerAgent(2, 16)).toBe(8);
    expect(threadsPerAgent(3, 16)).toBe(5);
    expect(threadsPerAgent(0, 4)).toBe(4);
  });
});
