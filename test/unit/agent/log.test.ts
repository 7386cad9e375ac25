import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../agent/log.ts';

describe('createLogger', () => {
  it('writes one JSON object a line with time, level, svc and the fields', () => {
    const lines: string[] = [];
    const log = createLogger({ json: true, write: (l) => lines.push(l), now: () => 0 });
    log.warn('request', { requestId: 'r1', status: 401, skipped: undefined });
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      {
        time: '1970-01-01T00:00:00.000Z',
        level: 'warn',
        svc: 'agent',
        msg: 'request',
        requestId: 'r1',
        status: 401,
      },
    ]);
  });

  it('keeps a plain format for people', () => {
    const lines: string[] = [];
    const log = createLogger({ write: (l) => lines.push(l) });
    log.info('draining', { reason: 'SIGTERM', activeJobs: 1 });
    log.error('failed', { error: 'two words' });
    expect(lines).toEqual([
      'draining reason=SIGTERM activeJobs=1',
      'ERROR: failed error="two words"',
    ]);
  });
});
