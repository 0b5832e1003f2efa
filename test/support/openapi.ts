/**
 * Validates live answers against the schemas of openapi/ (JSON Schema 2020-12, as OpenAPI 3.1
 * uses), so the HTTP tests fail when the code and the document disagree.
 */
import assert from 'node:assert/strict';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { OpenAPIV3_1 } from 'openapi-types';
import { openApiDocument } from '../../openapi/index.js';

const document = openApiDocument();
const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
ajv.addSchema(document as unknown as object, 'openapi');

function pointer(...segments: string[]): string {
  return segments.map((s) => s.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
}

/** Asserts that `response` (already read into `body`) matches what the document says. */
export function assertDocumented(
  pathTemplate: string,
  method: 'get' | 'post',
  response: Response,
  body: unknown,
): void {
  const operation = document.paths?.[pathTemplate]?.[method];
  assert.ok(operation, `${method.toUpperCase()} ${pathTemplate} is not in the OpenAPI document`);
  const status = String(response.status);
  let entry = operation.responses?.[status] as
    OpenAPIV3_1.ResponseObject | OpenAPIV3_1.ReferenceObject | undefined;
  assert.ok(entry, `${method.toUpperCase()} ${pathTemplate} does not document status ${status}`);
  let base = `/paths/${pointer(pathTemplate, method, 'responses', status)}`;
  if ('$ref' in entry) {
    const name = entry.$ref.split('/').pop()!;
    base = `/components/responses/${pointer(name)}`;
    entry = document.components?.responses?.[name] as OpenAPIV3_1.ResponseObject;
  }
  const mediaType = (response.headers.get('content-type') ?? '').split(';', 1)[0]!.trim();
  assert.ok(entry.content?.[mediaType], `status ${status} is documented without media type ${mediaType}`);
  const validate = ajv.compile({ $ref: `openapi#${base}/content/${pointer(mediaType)}/schema` });
  if (!validate(body)) {
    assert.fail(
      `answer ${status} to ${method.toUpperCase()} ${pathTemplate} does not match the document: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body)}`,
    );
  }
}
