import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import { errorResponses } from '../schemas/responses.js';
import { addOperationDocs } from './docs-examples.js';

type TransformInput = Parameters<typeof jsonSchemaTransform>[0];

/**
 * @fastify/websocket hides its routes from the document; the stream is part of the API, so it is
 * listed, marked as a WebSocket upgrade, with its query parameters and refusals.
 */
function showWebSocketRoutes(document: TransformInput) {
  const route = (document as { route?: { websocket?: boolean } }).route;
  if (!route?.websocket || !document.schema) return jsonSchemaTransform(document);
  const { hide: _hidden, ...schema } = document.schema as Record<string, unknown>;
  return jsonSchemaTransform({
    ...document,
    schema: {
      ...schema,
      description: `WebSocket: connect with Upgrade: websocket (101 Switching Protocols). ${String(schema.description ?? '')}`.trim(),
      response: { ...errorResponses(401, 403, 422) },
    },
  });
}

const OPENAPI_METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);
const PATH_ITEM_FIELDS = new Set(['summary', 'description', 'servers', 'parameters']);

/**
 * Fastify 5 knows methods OpenAPI 3.0 does not (forward-auth answers every method, QUERY
 * included); those operations are left out so the document stays valid.
 */
function dropUnknownMethods(paths: Record<string, object | undefined> | undefined): void {
  for (const item of Object.values(paths ?? {})) {
    for (const key of Object.keys(item ?? {})) {
      if (!OPENAPI_METHODS.has(key) && !PATH_ITEM_FIELDS.has(key)) delete (item as Record<string, unknown>)[key];
    }
  }
}

/**
 * OpenAPI 3 generated from the routes' zod schemas, at /docs (UI) and /docs/json (document).
 * Registered on the root instance before the services, so it sees every route they add.
 */
export async function registerDocs(app: FastifyInstance, info: { title: string; description: string }): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { ...info, version: '1.0.0' },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'HS256 token signed with the tenant’s key' },
        },
      },
      security: [{ bearer: [] }],
      tags: [
        { name: 'logs', description: 'Audit events: create, search, export, count, clean up, stream' },
        { name: 'tenants', description: 'Tenant administration (platform admin)' },
      ],
    },
    transform: showWebSocketRoutes,
    transformObject: (documentObject) => {
      const document = 'openapiObject' in documentObject ? documentObject.openapiObject : documentObject.swaggerObject;
      dropUnknownMethods(document.paths as Record<string, object | undefined> | undefined);
      addOperationDocs(document.paths as Parameters<typeof addOperationDocs>[0]);
      return document;
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
}
