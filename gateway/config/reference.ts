/**
 * Writes the configuration reference (the README section between the config-reference markers)
 * from the schema itself, so every option's description and default has exactly one source. A
 * test fails when the README is stale:
 *   npx tsx gateway/config/reference.ts --write
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ADAPTER_KINDS } from '../../adapters/registry.js';
import { configSchema } from './schema.js';

interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  required?: string[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
}

function toJson(schema: z.ZodType): JsonSchema {
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
}

function typeOf(schema: JsonSchema): string {
  if (schema.const !== undefined) return `\`${JSON.stringify(schema.const)}\``;
  if (schema.enum) return schema.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  const variants = schema.anyOf ?? schema.oneOf;
  if (variants) return variants.map(typeOf).join(' \\| ');
  if (schema.type === 'array') return `list of ${schema.items ? typeOf(schema.items) : 'any'}`;
  if (
    schema.type === 'object' &&
    schema.additionalProperties &&
    typeof schema.additionalProperties === 'object'
  ) {
    return `map of name → ${typeOf(schema.additionalProperties)}`;
  }
  return Array.isArray(schema.type) ? schema.type.join(' \\| ') : (schema.type ?? 'any');
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function rows(schema: JsonSchema, prefix: string, out: string[]): void {
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    const key = prefix === '' ? name : `${prefix}.${name}`;
    const required = schema.required?.includes(name) && child.default === undefined;
    const def =
      child.default === undefined
        ? required
          ? '**required**'
          : '—'
        : `\`${JSON.stringify(child.default)}\``;
    const description = (child.description ?? '').replace(/\s*Default: [^.]*(\.[0-9][^.]*)*\.?\s*$/, '');
    out.push(`| \`${key}\` | ${cell(typeOf(child))} | ${cell(def)} | ${cell(description)} |`);
    if (child.type === 'object' && child.properties) rows(child, key, out);
    // A union of objects (e.g. stores.quotas): the options of each variant, `kind` telling them apart.
    for (const variant of child.anyOf ?? child.oneOf ?? []) {
      if (variant.type === 'object' && variant.properties) rows(variant, key, out);
    }
    if (child.type === 'array' && child.items?.properties) rows(child.items, `${key}[]`, out);
  }
}

function table(schema: JsonSchema, prefix: string): string {
  const out = ['| option | type | default | meaning |', '| --- | --- | --- | --- |'];
  rows(schema, prefix, out);
  return out.join('\n');
}

/** Sections rendered by hand above, with their own layout. */
const WRITTEN_OUT = new Set(['server', 'log', 'limits', 'brokers', 'routes', 'tenants']);
const SECTION_INTROS: Record<string, string> = {
  auth: 'JWT issuers and the failed-authentication limit.',
  stores: 'Where shared state lives: the outbox, Idempotency-Key entries, quota counters.',
  breakers:
    'Circuit breakers, one per broker target; see [Routing and degradation](#routing-and-degradation).',
};

export function renderConfigReference(): string {
  const root = toJson(configSchema);
  const props = root.properties ?? {};
  const section = (name: string, intro: string) =>
    `### \`${name}\`\n\n${intro}\n\n${table({ properties: { [name]: props[name]! } }, '')}\n`;
  const tenants = (props.tenants?.additionalProperties ?? {}) as JsonSchema;
  const routes = props.routes?.items ?? {};
  const brokers = ADAPTER_KINDS.map((kind) => {
    const schema = toJson(kind.configSchema);
    return `#### \`kind: ${kind.kind}\`\n\nSee also \`adapters/${kind.kind}/README.md\`.\n\n${table(schema, `brokers.<name>`)}\n`;
  }).join('\n');
  return [
    "<!-- Generated from gateway/config/schema.ts and each adapter's config.ts by",
    '     `npx tsx gateway/config/reference.ts --write`. Do not edit by hand; a test checks it. -->',
    '',
    'pubgate reads one YAML file, named by `--config <path>` or `PUBGATE_CONFIG`. Without one it runs the',
    'development default (embedded broker under `./data`, tenant `dev` with API key `dev-key`, port 8080 or',
    '`PORT`). The file is validated at start: unknown keys, wrong types and dangling references stop the',
    'gateway with exit code 2 and a message naming each problem. `${VAR}` and `${VAR:-default}` inside',
    'string values are replaced from the environment (a value that is exactly one placeholder may become',
    'a number or boolean). Relative paths resolve against the working directory.',
    '',
    section('server', 'The HTTP listener and its time limits.'),
    section('log', 'Logging.'),
    section('limits', 'Input limits that apply to every route.'),
    '### `brokers`',
    '',
    'Named broker targets: `brokers: { <name>: { kind: …, … } }`. A route sends to one of them by name.',
    '',
    brokers,
    '### `routes`',
    '',
    "A list; the first route whose `topic` pattern matches the request's topic serves it. In patterns,",
    '`*` matches one dot-separated segment and `**` one or more.',
    '',
    table(routes, 'routes[]'),
    '',
    '### `tenants`',
    '',
    'Callers: `tenants: { <name>: { keys: […], topics: […], quota: {…} } }`. The tenant always comes',
    'from the credential (an API key, or a JWT of an issuer under `auth.jwt`). Store keys as',
    '`sha256:<hex>` (`printf %s "$KEY" | sha256sum`).',
    '',
    table(tenants, 'tenants.<name>'),
    '',
    // Every other top-level section, in schema order, introduced by its own description: a new
    // section is documented here the moment it is added to the schema.
    ...Object.keys(props)
      .filter((name) => !WRITTEN_OUT.has(name))
      .map((name) => section(name, SECTION_INTROS[name] ?? props[name]!.description ?? '')),
  ].join('\n');
}

const START = '<!-- config-reference:start -->';
const END = '<!-- config-reference:end -->';
const readme = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../README.md');

/** The generated section as it stands in the README now. */
export function currentConfigReference(): string {
  const text = readFileSync(readme, 'utf8');
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${START} … ${END} section`);
  return text.slice(start + START.length + 1, end);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const generated = renderConfigReference();
  const stale = currentConfigReference() !== generated;
  if (process.argv.includes('--write')) {
    const text = readFileSync(readme, 'utf8');
    const start = text.indexOf(START) + START.length + 1;
    writeFileSync(readme, text.slice(0, start) + generated + text.slice(text.indexOf(END)));
    process.stdout.write(stale ? 'README.md configuration reference rewritten\n' : 'up to date\n');
  } else {
    process.stdout.write(stale ? 'stale: run with --write\n' : 'up to date\n');
    process.exitCode = stale ? 1 : 0;
  }
}
