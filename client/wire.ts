// What the client reads on the wire: tickets and agent error codes (the control plane's routes and
// failure reports are protocol/client-api.ts).

/** Agent error codes that say "not now" rather than "broken": fail over, but report nothing. */
export const NOT_AGENT_FAULTS = new Set([
  'agent_busy',
  'agent_draining',
  'verifier_not_ready',
  'keys_unavailable',
]);

export interface Route {
  agent: { id: string; url: string };
  ticket: string;
  jti: string;
}

/** A ticket's claims, read without verifying it (the agent verifies; the client only reads). */
export function ticketClaims(ticket: string): Record<string, unknown> {
  const part = ticket.split('.')[1] ?? '';
  return JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/')));
}

export function jtiOf(ticket: string): string {
  const { jti } = ticketClaims(ticket);
  return typeof jti === 'string' ? jti : '';
}

export async function errorCode(res: Response): Promise<string | undefined> {
  const body = (await res.json().catch(() => null)) as { error?: { code?: unknown } } | null;
  return typeof body?.error?.code === 'string' ? body.error.code : undefined;
}
