// The paths both sides build from protocol/: the agent API's and the client's failure report.
import { describe, expect, it } from 'vitest';
import { AGENT_ROUTES, agentApiPath } from '../../../protocol/agent-api.ts';
import { failureReportPath } from '../../../protocol/client-api.ts';

describe('protocol paths', () => {
  it('fills the agent API routes, URL-encoding ids', () => {
    expect(agentApiPath(AGENT_ROUTES.register)).toBe('/v1/agents/register');
    expect(agentApiPath(AGENT_ROUTES.jobAdmitted, { id: 'gpu-1', jti: 'a/b' })).toBe(
      '/v1/agents/gpu-1/jobs/a%2Fb/admitted',
    );
    expect(agentApiPath(AGENT_ROUTES.offline, { id: 'gpu 1' })).toBe('/v1/agents/gpu%201/offline');
  });

  it('refuses to build a path with a parameter missing', () => {
    expect(() => agentApiPath(AGENT_ROUTES.jobReport, { id: 'gpu-1' })).toThrow(/:jti/);
  });

  it('builds the failure report path of a ticket', () => {
    expect(failureReportPath('j/1')).toBe('/v1/route/j%2F1/failure');
  });
});
