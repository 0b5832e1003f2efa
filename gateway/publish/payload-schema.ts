/**
 * Payload schemas per route (`routes[].schema`): a JSON Schema (draft 2020-12, inline or
 * `{ file }`) that every JSON payload published on the route must match — on every endpoint
 * (/v1 single and batch, CloudEvents data, the compatible APIs). Compiled once per config
 * generation (at config load, so a bad schema fails the config with its route and file), applied
 * with validatePayload(): 422 GW_ERR_SCHEMA_VIOLATION with the first MAX_SCHEMA_ERRORS violations
 * (path, message), and nothing is published.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import formatsPlugin from 'ajv-formats';
import { parseDocument } from 'yaml';
import type { GatewayConfig, RouteConfig } from '../config/schema.js';
import { GatewayError, type ProblemItem } from '../errors/registry.js';
import { isJsonMediaType, parseMediaType } from './content-type.js';
import { parseJsonBody } from './json.js';

/** Most violations listed in one answer; the detail says how many there were. */
export const MAX_SCHEMA_ERRORS = 20;

/** Nesting accepted when validatePayload parses a payload itself (callers check depth before). */
const PARSE_DEPTH = 1000;

type RouteSchema = NonNullable<RouteConfig['schema']>;

// ajv-formats is CommonJS: under NodeNext its default import is module.exports, the plugin itself.
const addFormats = formatsPlugin as unknown as (ajv: Ajv2020) => Ajv2020;

/** The compiled validator of each route object of a loaded config (one config generation). */
const compiled = new WeakMap<RouteConfig, ValidateFunction>();

/** Compiles one schema document; throws an Error saying what is wrong with it. */
export function compileSchema(document: unknown): ValidateFunction {
  if (typeof document !== 'boolean' && (typeof document !== 'object' || document === null)) {
    throw new Error('a JSON Schema is an object (or true/false)');
  }
  // One Ajv per schema: two routes may use the same $id without colliding. strictSchema: an
  // unknown keyword (a typo such as "requried") fails the config instead of validating nothing.
  const ajv = new Ajv2020({ allErrors: true, strictSchema: true, strictTypes: false, strictTuples: false });
  addFormats(ajv);
  return ajv.compile(document as object);
}

/**
 * Reads the JSON (or YAML) schema file of `{ file }`, relative to `baseDir`; throws an Error
 * naming the file when it cannot be read or parsed.
 */
export function readSchemaFile(file: string, baseDir: string): unknown {
  const absolute = path.resolve(baseDir, file);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (error) {
    throw new Error(`cannot read schema file ${absolute}: ${(error as Error).message}`);
  }
  const parsed = parseDocument(text, { uniqueKeys: true });
  if (parsed.errors.length > 0) {
    throw new Error(`schema file ${absolute} is not JSON or YAML: ${parsed.errors[0]!.message}`);
  }
  return parsed.toJS({ maxAliasCount: 100 });
}

/**
 * Loads every `{ file }` schema of a parsed (not yet frozen) config into its `document`, relative
 * to `baseDir` (the config file's directory). Throws an Error naming the route.
 */
export function loadSchemaFiles(config: GatewayConfig, baseDir: string): void {
  config.routes.forEach((route, i) => {
    const schema = route.schema as (RouteSchema & { document?: unknown }) | undefined;
    if (schema?.file === undefined || schema.document !== undefined) return;
    try {
      schema.document = readSchemaFile(schema.file, baseDir);
    } catch (error) {
      throw new Error(`routes[${i}].schema: ${(error as Error).message}`);
    }
  });
}

/**
 * Compiles the schema of every route of a config generation (once; validatePayload then uses
 * it). Throws an Error naming the route (and file) of the first schema that does not compile.
 */
export function compileRouteSchemas(config: Readonly<GatewayConfig>): void {
  config.routes.forEach((route, i) => {
    if (route.schema === undefined || compiled.has(route)) return;
    try {
      compiled.set(route, compileSchema(route.schema.document));
    } catch (error) {
      const file = route.schema.file === undefined ? '' : ` (${route.schema.file})`;
      throw new Error(`routes[${i}].schema${file}: invalid JSON Schema: ${(error as Error).message}`);
    }
  });
}

/** The JSON Schema document of a route, or undefined when it has none. */
export function routeSchemaDocument(route: RouteConfig): unknown {
  return route.schema?.document;
}

function validatorOf(route: RouteConfig): ValidateFunction | undefined {
  if (route.schema === undefined) return undefined;
  let validate = compiled.get(route);
  if (!validate) {
    // A config that did not come through loadConfig (unit tests): compiled on first use.
    const document = route.schema.document ?? readSchemaFile(route.schema.file!, process.cwd());
    validate = compileSchema(document);
    compiled.set(route, validate);
  }
  return validate;
}

/**
 * Checks a payload against its route's schema. Only JSON payloads (a JSON content type) are
 * checked; others, and routes without a schema, pass. `value` is the parsed payload when the
 * caller has it (else it is parsed here: invalid JSON is 400 GW_ERR_INVALID_JSON). Returns the
 * 422 GW_ERR_SCHEMA_VIOLATION error to answer with, or undefined when the payload may be published.
 *
 * For every publishing endpoint, the compatible APIs included: call it with the resolved route
 * (`ResolvedRoute.route`), the exact payload bytes and the message's content type.
 */
export function validatePayload(
  route: RouteConfig,
  payload: Uint8Array,
  contentType: string,
  value?: unknown,
): GatewayError | undefined {
  const validate = validatorOf(route);
  if (!validate) return undefined;
  const media = parseMediaType(contentType);
  if (!media || !isJsonMediaType(media.essence)) return undefined;
  let data = value;
  if (data === undefined) {
    const parsed = parseJsonBody(payload, PARSE_DEPTH);
    if ('error' in parsed) return parsed.error;
    data = parsed.value;
  }
  if (validate(data)) return undefined;
  const all = validate.errors ?? [];
  const errors: ProblemItem[] = all.slice(0, MAX_SCHEMA_ERRORS).map((error) => {
    const message = describe(error);
    const at = error.instancePath === '' ? '(the payload)' : error.instancePath;
    return {
      code: 'GW_ERR_SCHEMA_VIOLATION',
      detail: `${at}: ${message}`,
      path: error.instancePath,
      message,
    };
  });
  const shown = all.length > MAX_SCHEMA_ERRORS ? ` (the first ${MAX_SCHEMA_ERRORS} are listed)` : '';
  return new GatewayError(
    'GW_ERR_SCHEMA_VIOLATION',
    `the payload does not match the route's schema (routes[].schema of ${route.topic}): ${all.length} violation(s)${shown}; nothing was published`,
    { errors },
  );
}

function describe(error: ErrorObject): string {
  const message = error.message ?? `fails "${error.keyword}"`;
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
    return `${message}: ${JSON.stringify(params.additionalProperty)}`;
  }
  if (error.keyword === 'enum' && Array.isArray(params.allowedValues)) {
    return `${message}: ${JSON.stringify(params.allowedValues).slice(0, 200)}`;
  }
  return message;
}
