// Wire contract between clients and the control plane: the route call and failure reports.
import { z } from 'zod';

/** `POST` a model (and agents to exclude) to be given an agent and a ticket for it. */
export const ROUTE_PATH = '/v1/route';
/** `POST` a failure report, with the ticket as `Authorization: Bearer`. */
export const FAILURE_REPORT_ROUTE = `${ROUTE_PATH}/:jti/failure`;
/** A request's timeline (admin key, or the API key that made it): docs/api.md. */
export const REQUEST_TIMELINE_ROUTE = '/v1/requests/:id';

export function failureReportPath(jti: string): string {
  return FAILURE_REPORT_ROUTE.replace(':jti', encodeURIComponent(jti));
}

export const failureReportSchema = z.object({
  /** connect: no connection; timeout: no answer in time; status: a 5xx; stream: broke mid-way. */
  kind: z.enum(['connect', 'timeout', 'status', 'stream']),
  status: z.number().int().min(100).max(599).optional(),
  message: z.string().max(500).optional(),
});
export type FailureReport = z.infer<typeof failureReportSchema>;
