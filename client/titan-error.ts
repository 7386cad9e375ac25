// The one error the TitanCompute client throws: every non-complete ending has a code.

export type TitanErrorCode =
  | 'no_agent_available'
  | 'agents_failed'
  | 'stream_broken'
  | 'stream_error'
  | 'request_rejected'
  | 'deadline_exceeded';

/** Every way a request can end other than a complete answer: explicit and machine-readable. */
export class TitanError extends Error {
  constructor(
    readonly code: TitanErrorCode,
    message: string,
    readonly details: { status?: number; agentId?: string; attempts?: number } = {},
  ) {
    super(message);
    this.name = 'TitanError';
  }
}
