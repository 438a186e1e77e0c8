/** The OpenAPI document covers the route table, and its schemas compile as JSON Schema 2020-12. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { openApiDocument } from '../../src/api/openapi.js';
import { API_ROUTES } from '../../src/api/routes.js';

const doc = openApiDocument() as { openapi: string; paths: Record<string, Record<string, unknown>>; components: { schemas: Record<string, object> } };
const template = (p: string) => p.replace(/:([A-Za-z]+)/g, '{$1}');

describe('OpenAPI document', () => {
  it('is OpenAPI 3.1', () => assert.match(doc.openapi, /^3\.1\./));

  it('has an operation for every route of the route table', () => {
    const missing = API_ROUTES.filter((r) => !doc.paths[template(r.path)]?.[r.method]).map((r) => `${r.method.toUpperCase()} ${r.path}`);
    assert.deepEqual(missing, []);
  });

  it('describes no operation the route table does not have', () => {
    const routes = new Set(API_ROUTES.map((r) => `${r.method} ${template(r.path)}`));
    const extra = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`)).filter((k) => !routes.has(k));
    assert.deepEqual(extra, []);
  });

  it('has schemas that compile, request schemas from the validating zod schemas included', () => {
    const ajv = new Ajv2020({ strict: false });
    ajv.addSchema(doc, 'openapi');
    for (const name of Object.keys(doc.components.schemas)) assert.ok(ajv.getSchema(`openapi#/components/schemas/${name}`), name);
    const restore = ajv.getSchema('openapi#/components/schemas/SetRestoreInput')!;
    assert.equal(restore({ stamp: '2026-11-21-0315', volumes: ['a'], paths: ['eA'], into: 'in-place' }), true);
    assert.equal(restore({ stamp: '2026-11-21-0315', into: 'over' }), false);
  });
});
