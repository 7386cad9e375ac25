// `Authorization: Bearer <token>` (RFC 6750), read alike by both servers: API keys, join tokens,
// agent credentials, admin keys and tickets.

/** The token of an `Authorization: Bearer <token>` header (scheme in any case), or undefined. */
export function bearerToken(header: string | null | undefined): string | undefined {
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}
