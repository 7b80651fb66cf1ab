import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';

/**
 * CORS_ORIGINS: the browser origins allowed to call the API, comma-separated
 * (`https://app.example.com,http://localhost:5173`); empty by default, so no other origin may.
 * `*` is refused: an audit log answers with tenant data, so origins are named one by one.
 */
export const corsConfig = {
  CORS_ORIGINS: z
    .string()
    .optional()
    .transform((value) =>
      (value ?? '')
        .split(',')
        .map((origin) => origin.trim().replace(/\/+$/, ''))
        .filter((origin) => origin !== ''),
    )
    .refine((origins) => origins.every((origin) => /^https?:\/\/[^/\s*]+$/.test(origin)), {
      message: 'must be a comma-separated list of origins such as https://app.example.com (scheme and host, no path, no *)',
    }),
};

/**
 * Lets the named origins call the API from a browser (@fastify/cors): preflights answered, the
 * Authorization header allowed, the export's Content-Disposition readable. No origin, no headers.
 */
export async function registerCors(app: FastifyInstance, origins: string[]): Promise<void> {
  if (origins.length === 0) return;
  await app.register(cors, {
    origin: origins,
    methods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
    allowedHeaders: ['authorization', 'content-type', 'x-request-id'],
    exposedHeaders: ['content-disposition', 'retry-after', 'www-authenticate', 'x-request-id'],
    maxAge: 600,
    strictPreflight: true,
  });
}
