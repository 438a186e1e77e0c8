/**
 * Checks an answer of the running API against GET /api/openapi.json (ajv, JSON Schema 2020-12 as
 * OpenAPI 3.1 uses it): the schema of `method path` for `status`, as the document declares it.
 */
import assert from 'node:assert/strict';
import { Ajv2020 } from 'ajv/dist/2020.js';

export class ContractChecker {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });

  constructor(private readonly doc: { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> }) {
    this.ajv.addSchema(doc as object, 'openapi');
  }

  /** `template` as in the document, e.g. /api/backups/{stamp}. */
  check(method: string, template: string, status: number, body: unknown): void {
    const op = this.doc.paths[template]?.[method.toLowerCase()];
    assert.ok(op, `the OpenAPI document has no ${method} ${template}`);
    assert.ok(op.responses[String(status)], `the OpenAPI document declares no ${status} for ${method} ${template}`);
    const pointer = ['paths', template, method.toLowerCase(), 'responses', String(status), 'content', 'application/json', 'schema']
      .map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1'))
      .join('/');
    const validate = this.ajv.getSchema(`openapi#/${pointer}`);
    assert.ok(validate, `no schema at ${pointer}`);
    const ok = validate(body);
    assert.ok(ok, `${method} ${template} ${status} does not match the OpenAPI document: ${this.ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 2000)}`);
  }
}
