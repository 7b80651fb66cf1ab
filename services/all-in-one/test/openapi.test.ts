import SwaggerParser from '@apidevtools/swagger-parser';
import { ROUTE_RULES } from '@logserver/shared/auth/rbac';
import { CleanupQuery, ExportQuery, ListLogsQuery, StatsQuery } from '@logserver/shared/schemas/log-query';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type RunningServer, startAllInOne } from '../../../test/support/all-in-one.js';

let server: RunningServer;
// biome-ignore lint/suspicious/noExplicitAny: the OpenAPI document is read field by field
let document: any;
beforeAll(async () => {
  server = await startAllInOne();
  const response = await call(`${server.url}/docs/json`);
  expect(response.status).toBe(200);
  document = response.body;
});
afterAll(() => server.close());

const openApiPath = (path: string) => path.replace(/:(\w+)/g, '{$1}');
const QUERIES: Record<string, { shape: Record<string, unknown> }> = {
  'GET /api/v1/logs': ListLogsQuery,
  'GET /api/v1/logs/export': ExportQuery,
  'GET /api/v1/logs/stats': StatsQuery,
  'DELETE /api/v1/logs/cleanup': CleanupQuery,
};

describe('OpenAPI 3 at /docs, generated from the zod schemas', () => {
  it('serves the document and the UI without a token', async () => {
    expect(document.openapi).toMatch(/^3\./);
    const ui = await fetch(`${server.url}/docs`);
    expect(ui.status).toBe(200);
    expect(await ui.text()).toContain('swagger');
  });

  it('is a valid OpenAPI 3 document', async () => {
    await expect(SwaggerParser.validate(structuredClone(document))).resolves.toBeDefined();
  });

  for (const rule of ROUTE_RULES) {
    it(`lists ${rule.method} ${rule.path} with its parameters and its error responses`, () => {
      const operation = document.paths[openApiPath(rule.path)]?.[rule.method.toLowerCase()];
      expect(operation, 'the route is in the document').toBeDefined();
      expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['401', '403']));
      const query = QUERIES[`${rule.method} ${rule.path}`];
      if (query) {
        const names = operation.parameters.filter((p: { in: string }) => p.in === 'query').map((p: { name: string }) => p.name);
        expect(names.sort()).toEqual(Object.keys(query.shape).sort());
        expect(Object.keys(operation.responses)).toContain('422');
      }
      if (rule.path.includes(':id')) {
        expect(operation.parameters).toContainEqual(expect.objectContaining({ in: 'path', name: 'id', required: true }));
        expect(Object.keys(operation.responses)).toContain('404');
      }
      if (rule.method === 'POST') expect(operation.requestBody).toBeDefined();
    });
  }

  it('describes the three export formats and the error envelope', () => {
    const exported = document.paths['/api/v1/logs/export'].get.responses['200'].content;
    expect(Object.keys(exported).sort()).toEqual(['application/json', 'application/x-ndjson', 'text/csv']);
    const invalid = document.paths['/api/v1/logs'].get.responses['422'].content['application/json'].schema;
    expect(invalid.properties.data.items.properties).toHaveProperty('loc');
    expect(document.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
  });
});
