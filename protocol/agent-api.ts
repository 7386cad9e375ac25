// Wire contract between agents and the control plane: zod schemas shared by both sides.
import { z } from 'zod';
import { heldPrefixesSchema } from './prefix-digest.ts';

export const AGENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Free memory can never exceed total memory: a claim that it does is refused. */
const freeWithinTotal = (m: { memoryTotalBytes: number; memoryFreeBytes: number }) =>
  m.memoryFreeBytes <= m.memoryTotalBytes;
const FREE_OVER_TOTAL = { error: 'memoryFreeBytes exceeds memoryTotalBytes' };

export const gpuStatsSchema = z
  .object({
    index: z.number().int().nonnegative(),
    name: z.string().max(200),
    memoryTotalBytes: z.number().nonnegative(),
    memoryFreeBytes: z.number().nonnegative(),
    utilizationPercent: z.number().min(0).max(100).optional(),
  })
  .refine(freeWithinTotal, FREE_OVER_TOTAL);
export type GpuStats = z.infer<typeof gpuStatsSchema>;

export const agentStatsSchema = z
  .object({
    cpuCores: z.number().int().positive().max(4096),
    cpuLoadPercent: z.number().min(0).max(100),
    memoryTotalBytes: z.number().nonnegative(),
    memoryFreeBytes: z.number().nonnegative(),
    gpus: z.array(gpuStatsSchema).max(64),
  })
  .refine(freeWithinTotal, FREE_OVER_TOTAL);
export type AgentStats = z.infer<typeof agentStatsSchema>;

export const agentModelSchema = z.object({
  name: z.string().min(1).max(200),
  loaded: z.boolean(),
  /** Estimated memory the model needs once loaded (weights + KV cache), bytes. */
  memoryBytes: z.number().nonnegative().optional(),
  /** Its GGUF quantization as llama.cpp names it (`Q4_1`, `Q4_K_M`, `F16`…), when known. */
  quantization: z.string().min(1).max(32).optional(),
});
export type AgentModel = z.infer<typeof agentModelSchema>;

export const registerRequestSchema = z.object({
  id: z.string().regex(AGENT_ID_PATTERN),
  /** Base URL clients use to reach the agent, e.g. http://127.0.0.1:8081 */
  url: z.url({ protocol: /^https?$/ }),
  maxConcurrentJobs: z.number().int().min(1).max(1024),
  models: z.array(agentModelSchema).max(256),
  stats: agentStatsSchema,
  engine: z.string().max(50),
  version: z.string().max(50),
  /** Where the agent runs (configured), so the control plane can route clients to nearby agents. */
  location: z
    .object({ latitude: z.number().min(-90).max(90), longitude: z.number().min(-180).max(180) })
    .optional(),
});
export type RegisterRequest = z.infer<typeof registerRequestSchema>;

export const registerResponseSchema = z.object({
  agentId: z.string(),
  /** This agent's own secret: `Authorization: Bearer <credential>` on heartbeats and job reports. */
  credential: z.string().min(16).max(200),
  heartbeatIntervalMs: z.number().int().positive(),
  /** Present when the control plane clamped the agent's slot claim to what its stats support. */
  maxConcurrentJobs: z.number().int().positive().optional(),
  issuer: z.string(),
  jwksUrl: z.string(),
  /**
   * This registration's epoch (the control plane's clock, ms). Tickets carry the epoch of the
   * registration they were issued under (`reg`); the agent refuses tickets of an earlier one.
   */
  registeredAt: z.number().int().nonnegative(),
});
export type RegisterResponse = z.infer<typeof registerResponseSchema>;

/** What the engine itself reports (vLLM/llama-server /metrics, Ollama /api/ps); all optional. */
export const engineLoadSchema = z.object({
  /** Requests the engine is decoding now. */
  running: z.number().nonnegative().optional(),
  /** Requests queued inside the engine. */
  waiting: z.number().nonnegative().optional(),
  /** KV-cache use, 0..1. */
  kvCacheUsage: z.number().min(0).max(1).optional(),
});
export type EngineLoad = z.infer<typeof engineLoadSchema>;

export const heartbeatRequestSchema = z.object({
  activeJobs: z.number().int().nonnegative(),
  /** Admitted requests waiting for a slot on the agent (bounded queue). */
  queuedJobs: z.number().int().nonnegative().optional(),
  engineLoad: engineLoadSchema.optional(),
  /** jti of every ticket the agent is serving right now. */
  runningJobs: z.array(z.string().max(100)).max(4096),
  models: z.array(agentModelSchema).max(256),
  stats: agentStatsSchema,
  draining: z.boolean().optional(),
  /** Round trip of the previous heartbeat, ms. */
  rttMs: z.number().nonnegative().optional(),
  /** Prefix-digest hashes the engine holds, most recent first (docs/adr/0013). */
  prefixes: heldPrefixesSchema.optional(),
});
export type HeartbeatRequest = z.infer<typeof heartbeatRequestSchema>;

export const heartbeatResponseSchema = z.object({
  heartbeatIntervalMs: z.number().int().positive(),
});
export type HeartbeatResponse = z.infer<typeof heartbeatResponseSchema>;

export const jobOutcomeSchema = z.enum(['success', 'error', 'cancelled', 'rejected']);
export type JobOutcome = z.infer<typeof jobOutcomeSchema>;

export const jobReportSchema = z.object({
  outcome: jobOutcomeSchema,
  model: z.string().max(200),
  promptTokens: z.number().int().nonnegative(),
  /** Of promptTokens, those served from the engine's cache instead of evaluated again. */
  cachedPromptTokens: z.number().int().nonnegative().optional(),
  completionTokens: z.number().int().nonnegative(),
  /** What the engine holds once this job ended, as in heartbeats (docs/adr/0013). */
  prefixes: heldPrefixesSchema.optional(),
  /** Time to first token, ms; absent when no token was produced. */
  ttftMs: z.number().nonnegative().optional(),
  durationMs: z.number().nonnegative(),
  /** Why it ended: the engine's finish reason (`stop`, `length`…) or the agent's error code. */
  reason: z.string().max(100).optional(),
  error: z.string().max(2000).optional(),
});
export type JobReport = z.infer<typeof jobReportSchema>;

export const jobReportResponseSchema = z.object({ released: z.boolean() });

/**
 * `POST /v1/agents/:id/offline`, sent by the agent's supervisor when the agent process died
 * (ADR 0007), and by the agent itself once its drain is over (`reason: "stopped"`). Only what the
 * control plane logs; the agent's own credential authenticates it.
 */
export const offlineRequestSchema = z.object({
  reason: z.string().max(200).optional(),
  /** The dead process's exit code, or the signal that ended it. */
  exitCode: z.number().int().nullable().optional(),
  signal: z.string().max(20).nullable().optional(),
});
export type OfflineRequest = z.infer<typeof offlineRequestSchema>;

/** `changed`: false when the agent was already offline (the call is idempotent). */
export const offlineResponseSchema = z.object({ offline: z.literal(true), changed: z.boolean() });

/** Claims carried by a ticket (a JWT signed by the control plane). */
export interface TicketClaims {
  iss: string;
  /** Client or API-key id the ticket was issued to. */
  sub: string;
  /** The one agent id that may accept it. */
  aud: string;
  exp: number;
  nbf: number;
  iat: number;
  jti: string;
  model: string;
  /** Most completion tokens the request may ask for (and the agent will generate). */
  max_tokens: number;
  /**
   * Epoch of the agent's registration the ticket was issued under (`registeredAt`, ms). An agent
   * refuses tickets of an earlier registration: its replay memory did not survive the restart.
   */
  reg: number;
}

/** The JOSE `typ` header of every ticket (RFC 8725 §3.11: explicit typing). */
export const TICKET_TYPE = 'titan-ticket+jwt';
/**
 * Header a registering agent sends with its current credential, so it may re-register an id
 * that is still live (its join token goes in `Authorization`).
 */
export const AGENT_CREDENTIAL_HEADER = 'x-titan-agent-credential';
/** Where an agent takes its ticket when the control plane redirects a client to it (`?ticket=`). */
export const TICKET_QUERY_PARAM = 'ticket';
/** The control plane's ticket-signing keys, which agents fetch to verify tickets. */
export const JWKS_PATH = '/.well-known/jwks.json';

/** Where the control plane serves the agent API; AGENT_ROUTES are relative to it. */
export const AGENT_API_BASE = '/v1/agents';
/** The agent API's routes, as Hono patterns relative to AGENT_API_BASE. */
export const AGENT_ROUTES = {
  register: '/register',
  heartbeat: '/:id/heartbeat',
  jobAdmitted: '/:id/jobs/:jti/admitted',
  jobReport: '/:id/jobs/:jti',
  offline: '/:id/offline',
} as const;

/** The full path of an agent API route with its `:id` and `:jti` filled in, URL-encoded. */
export function agentApiPath(route: string, params: { id?: string; jti?: string } = {}): string {
  const filled = route.replace(/:(id|jti)\b/g, (_, name: 'id' | 'jti') => {
    const value = params[name];
    if (value === undefined) throw new Error(`agent API route ${route} needs :${name}`);
    return encodeURIComponent(value);
  });
  return AGENT_API_BASE + filled;
}
