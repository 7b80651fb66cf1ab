import { z } from 'zod';

/**
 * The envelope as response schemas: they feed the OpenAPI document at /docs and check what each
 * route sends, so the documented shape and the real one cannot drift apart.
 */
export const okEnvelope = <D extends z.ZodType, M extends z.ZodType | undefined = undefined>(data: D, meta?: M) =>
  z.object({
    code: z.number().int().describe('200'),
    msg: z.string().describe('"ok"'),
    data,
    ...(meta === undefined ? {} : { meta }),
  });

const errorEnvelope = (description: string) => z.object({ code: z.number().int(), msg: z.string(), data: z.null() }).describe(description);

const validationEnvelope = z
  .object({
    code: z.number().int().describe('422'),
    msg: z.string().describe('"Validation error"'),
    data: z.array(z.object({ loc: z.array(z.union([z.string(), z.number()])), msg: z.string(), type: z.string() })),
  })
  .describe('Validation error: each problem with where it is (loc), why (msg) and its kind (type)');

const ERRORS = {
  400: errorEnvelope('Malformed request (e.g. a body that is not JSON)'),
  401: errorEnvelope('Missing, invalid or expired token'),
  403: errorEnvelope('The token’s role may not call this route'),
  404: errorEnvelope('Not found in the caller’s tenant'),
  409: errorEnvelope('Already exists, or (ingest) a request with the same Idempotency-Key is still being processed'),
  413: errorEnvelope('Request body larger than the route’s limit'),
  415: errorEnvelope('Body is not application/json'),
  422: validationEnvelope,
  429: errorEnvelope('Too many requests: this tenant (or the server) is at its limit; retry after the seconds the message gives'),
  431: errorEnvelope('Request header (such as the token) larger than allowed'),
  503: errorEnvelope('The store or queue cannot accept work right now; nothing was stored'),
} as const;

export type ErrorStatus = keyof typeof ERRORS;

/** The error responses a route can give, for its `schema.response`. */
export function errorResponses<S extends ErrorStatus>(...statuses: S[]): { [K in S]: (typeof ERRORS)[K] } {
  return Object.fromEntries(statuses.map((status) => [status, ERRORS[status]])) as { [K in S]: (typeof ERRORS)[K] };
}
