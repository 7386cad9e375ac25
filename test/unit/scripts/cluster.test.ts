import { describe, expect, it } from 'vitest';
import { logLine, startedAgentPid, threadsPerAgent } from '../../../scripts/cluster.ts';

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

describe('startedAgentPid', () => {
  it("reads the supervisor's line in either log format, and nothing else", () => {
    expect(startedAgentPid('supervisor: agent process started pid=4242')).toBe(4242);
    const json = JSON.stringify({
      level: 'info',
      msg: 'supervisor: agent process started',
      pid: 7,
    });
    expect(startedAgentPid(json)).toBe(7);
    expect(startedAgentPid(JSON.stringify({ msg: 'agent registered', pid: 7 }))).toBeUndefined();
    expect(startedAgentPid('supervisor: agent process started pid=12x')).toBeUndefined();
    expect(logLine('{not json')).toEqual({ msg: '{not json' });
  });
});
