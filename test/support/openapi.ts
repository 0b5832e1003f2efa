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
  method: 'get' | 'post' | 'delete',
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

const ROOT_FIELDS = new Set([
  'openapi',
  'info',
  'jsonSchemaDialect',
  'servers',
  'paths',
  'webhooks',
  'components',
  'security',
  'tags',
  'externalDocs',
]);
const PATH_ITEM_FIELDS = new Set(['$ref', 'summary', 'description', 'servers', 'parameters']);
const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);
const OPERATION_FIELDS = new Set([
  'tags',
  'summary',
  'description',
  'externalDocs',
  'operationId',
  'parameters',
  'requestBody',
  'responses',
  'callbacks',
  'deprecated',
  'security',
  'servers',
]);
const COMPONENT_KEY = /^[a-zA-Z0-9.\-_]+$/;

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function unknownFields(object: Json, allowed: Set<string>, where: string): void {
  for (const key of Object.keys(object)) {
    assert.ok(allowed.has(key) || key.startsWith('x-'), `${where}: ${key} is not an OpenAPI 3.1 field`);
  }
}

/**
 * Asserts that `document` is a well-formed OpenAPI 3.1 document, as far as this API uses the
 * format: the fields of the document, path items and operations; every $ref resolves; every path
 * parameter is declared; operation ids are unique; every response has a description; every schema
 * compiles as JSON Schema 2020-12 (with the validator the answers are checked with); every
 * parameter example matches its parameter's schema.
 */
export function assertValidOpenApi31(document: unknown): void {
  assert.ok(isObject(document), 'the document is an object');
  unknownFields(document, ROOT_FIELDS, 'root');
  assert.match(String(document.openapi), /^3\.1\.\d+$/);
  const info = document.info as Json;
  assert.ok(isObject(info) && typeof info.title === 'string' && typeof info.version === 'string');
  assert.ok(info.version.length > 0, 'info.version is empty');
  if (document.servers !== undefined) {
    assert.ok(Array.isArray(document.servers));
    for (const server of document.servers) assert.equal(typeof (server as Json).url, 'string');
  }

  const checker = new Ajv2020({ strict: false, validateFormats: false });
  checker.addSchema(document, 'document');
  const compiles = (where: string) => {
    try {
      checker.compile({ $ref: `document#${where}` });
    } catch (error) {
      assert.fail(`the schema at ${where} does not compile: ${(error as Error).message}`);
    }
  };

  // Every $ref resolves inside the document.
  const resolve = (ref: string): unknown =>
    ref
      .replace(/^#\//, '')
      .split('/')
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce<unknown>((node, key) => (isObject(node) ? node[key] : undefined), document);
  const walk = (node: unknown, where: string): void => {
    if (Array.isArray(node)) node.forEach((item, i) => walk(item, `${where}/${i}`));
    if (!isObject(node)) return;
    if (typeof node.$ref === 'string') {
      assert.ok(node.$ref.startsWith('#/'), `${where}: only local $refs are used`);
      assert.ok(resolve(node.$ref) !== undefined, `${where}: $ref ${node.$ref} does not resolve`);
    }
    for (const [key, value] of Object.entries(node)) walk(value, `${where}/${pointer(key)}`);
  };
  walk(document, '');

  const components = (document.components ?? {}) as Record<string, Json>;
  for (const [kind, entries] of Object.entries(components)) {
    for (const name of Object.keys(entries)) {
      assert.match(name, COMPONENT_KEY, `components.${kind}.${name}: not a valid component name`);
    }
  }
  for (const name of Object.keys(components.schemas ?? {})) compiles(`/components/schemas/${pointer(name)}`);

  const checkParameter = (parameter: Json, where: string) => {
    const p = (typeof parameter.$ref === 'string' ? resolve(parameter.$ref) : parameter) as Json;
    assert.equal(typeof p.name, 'string', `${where}: parameter without a name`);
    assert.ok(['query', 'header', 'path', 'cookie'].includes(String(p.in)), `${where}: bad "in"`);
    if (p.in === 'path')
      assert.equal(p.required, true, `${where}: path parameter ${String(p.name)} not required`);
    assert.ok(!(p.example !== undefined && p.examples !== undefined), `${where}: both example and examples`);
    if (p.schema !== undefined && parameter.$ref === undefined) {
      compiles(`${where}/schema`);
      const validate = checker.compile({ $ref: `document#${where}/schema` });
      for (const [name, example] of Object.entries((p.examples ?? {}) as Record<string, Json>)) {
        assert.ok(isObject(example), `${where}: example ${name} is not an Example Object`);
        unknownFields(example, new Set(['summary', 'description', 'value', 'externalValue']), where);
        assert.ok(validate(example.value), `${where}: example ${name} does not match the schema`);
      }
    }
  };
  const checkContent = (content: unknown, where: string) => {
    for (const mediaType of Object.keys((content ?? {}) as Json)) {
      if (((content as Record<string, Json>)[mediaType] ?? {}).schema !== undefined) {
        compiles(`${where}/content/${pointer(mediaType)}/schema`);
      }
    }
  };

  const operationIds = new Set<string>();
  for (const [template, item] of Object.entries((document.paths ?? {}) as Record<string, Json>)) {
    assert.ok(template.startsWith('/'), `path ${template} does not start with /`);
    const base = `/paths/${pointer(template)}`;
    unknownFields(item, new Set([...PATH_ITEM_FIELDS, ...METHODS]), template);
    const shared = (item.parameters ?? []) as Json[];
    shared.forEach((p, i) => checkParameter(p, `${base}/parameters/${i}`));
    for (const method of Object.keys(item).filter((k) => METHODS.has(k))) {
      const operation = item[method] as Json;
      const where = `${base}/${method}`;
      unknownFields(operation, OPERATION_FIELDS, `${method.toUpperCase()} ${template}`);
      if (operation.operationId !== undefined) {
        assert.ok(!operationIds.has(String(operation.operationId)), `duplicate operationId`);
        operationIds.add(String(operation.operationId));
      }
      const own = (operation.parameters ?? []) as Json[];
      own.forEach((p, i) => checkParameter(p, `${where}/parameters/${i}`));
      const declared = new Set(
        [...shared, ...own]
          .map((p) => (typeof p.$ref === 'string' ? resolve(p.$ref) : p) as Json)
          .filter((p) => p.in === 'path')
          .map((p) => p.name),
      );
      for (const [, name] of template.matchAll(/\{([^}]+)\}/g)) {
        assert.ok(
          declared.has(name),
          `${method.toUpperCase()} ${template}: path parameter ${name} undeclared`,
        );
      }
      if (isObject(operation.requestBody) && operation.requestBody.$ref === undefined) {
        checkContent(operation.requestBody.content, `${where}/requestBody`);
      }
      assert.ok(isObject(operation.responses), `${method.toUpperCase()} ${template}: no responses`);
      for (const [status, response] of Object.entries(operation.responses as Record<string, Json>)) {
        assert.match(status, /^([1-5](\d\d|XX)|default)$/, `${template}: bad response key ${status}`);
        if (typeof response.$ref === 'string') continue;
        assert.equal(typeof response.description, 'string', `${template} ${status}: no description`);
        checkContent(response.content, `${where}/responses/${status}`);
      }
    }
  }
  for (const [name, response] of Object.entries((components.responses ?? {}) as Record<string, Json>)) {
    assert.equal(typeof response.description, 'string', `components.responses.${name}: no description`);
    checkContent(response.content, `/components/responses/${pointer(name)}`);
  }
}
