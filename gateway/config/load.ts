/**
 * Finds, reads, interpolates, validates and freezes the configuration. The only module that reads
 * process.env and argv for settings (house habit 5); everything else receives the frozen result.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { compileRouteSchemas, loadSchemaFiles } from '../publish/payload-schema.js';
import { configSchema, type GatewayConfig } from './schema.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export interface LoadedConfig {
  readonly config: Readonly<GatewayConfig>;
  /** The file it came from, or undefined for the built-in development default. */
  readonly source?: string;
  /** Directory relative paths in the config resolve against: the working directory. */
  readonly baseDir: string;
  /** Notes for the operator, logged at start (e.g. plaintext keys, the development credential). */
  readonly warnings: readonly string[];
  /** Where it was loaded from, so a live reload reads the same file the same way. */
  readonly loadOptions: Required<LoadOptions>;
}

export interface LoadOptions {
  readonly argv?: readonly string[];
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
}

/** The development default: embedded broker under ./data, tenant `dev` with key `dev-key`. */
export function developmentConfigInput(env: Readonly<Record<string, string | undefined>>): unknown {
  return {
    server: { port: env.PORT === undefined ? 8080 : parsePort(env.PORT) },
    ...(env.PUBGATE_LOG_LEVEL === undefined ? {} : { log: { level: env.PUBGATE_LOG_LEVEL } }),
    brokers: { local: { kind: 'embedded', dir: './data' } },
    routes: [{ topic: '**', target: 'local' }],
    tenants: { dev: { keys: ['dev-key'], topics: ['**'] } },
    admin: { keys: ['dev-admin-key'] },
  };
}

export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const argv = options.argv ?? process.argv.slice(2);
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const file = configPathFrom(argv) ?? nonEmpty(env.PUBGATE_CONFIG);
  const loadOptions = { argv, env, cwd };

  if (file === undefined) {
    const loaded = validate(developmentConfigInput(env), 'built-in development config', cwd);
    return {
      ...loaded,
      loadOptions,
      warnings: [
        ...loaded.warnings.filter((w) => !w.includes('plaintext')),
        'no config file given (--config or PUBGATE_CONFIG): running the development default. ' +
          'API key "dev-key" for tenant "dev" and admin key "dev-admin-key" are development-only credentials; never expose this gateway.',
      ],
    };
  }
  const absolute = path.resolve(cwd, file);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config file ${absolute}: ${(error as Error).message}`);
  }
  return { ...validate(parseYaml(text, absolute, env), absolute, cwd), source: absolute, loadOptions };
}

/** Parses YAML text, then replaces `${VAR}` / `${VAR:-default}` inside string values. */
export function parseYaml(
  text: string,
  source: string,
  env: Readonly<Record<string, string | undefined>>,
): unknown {
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (document.errors.length > 0) {
    throw new ConfigError(`${source}: invalid YAML: ${document.errors.map((e) => e.message).join('; ')}`);
  }
  return interpolate(document.toJS({ maxAliasCount: 100 }), env, []);
}

const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

function interpolate(
  value: unknown,
  env: Readonly<Record<string, string | undefined>>,
  at: (string | number)[],
): unknown {
  if (typeof value === 'string') {
    // A value that is exactly one placeholder may become a number or boolean (e.g. port: ${PORT}).
    const whole = /^\$\{[^}]+\}$/.test(value);
    const replaced = value.replace(PLACEHOLDER, (_match, name: string, fallback: string | undefined) => {
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      throw new ConfigError(
        `config ${formatPath(at)}: environment variable ${name} is not set and has no default`,
      );
    });
    return whole ? coerceScalar(replaced) : replaced;
  }
  if (Array.isArray(value)) return value.map((item, i) => interpolate(item, env, [...at, i]));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env, [...at, k])]));
  }
  return value;
}

function coerceScalar(text: string): unknown {
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (text === 'true') return true;
  if (text === 'false') return false;
  return text;
}

function validate(
  input: unknown,
  source: string,
  baseDir: string,
): Omit<LoadedConfig, 'source' | 'loadOptions'> {
  const result = configSchema.safeParse(input);
  if (!result.success)
    throw new ConfigError(`${source}: invalid configuration:\n${formatIssues(result.error)}`);
  // Route payload schemas: `{file}` read relative to the config file, every schema compiled once
  // for this generation (gateway/publish/payload-schema.ts); a bad one fails the config.
  try {
    loadSchemaFiles(result.data, path.isAbsolute(source) ? path.dirname(source) : baseDir);
    compileRouteSchemas(result.data);
  } catch (error) {
    throw new ConfigError(`${source}: invalid configuration:\n  - ${(error as Error).message}`);
  }
  const warnings: string[] = [];
  for (const [tenant, { keys }] of Object.entries(result.data.tenants)) {
    if (keys.some((key) => !key.startsWith('sha256:'))) {
      warnings.push(
        `tenant "${tenant}" has a plaintext API key in the config; store "sha256:<hex digest>" instead`,
      );
    }
  }
  return { config: deepFreeze(result.data), baseDir, warnings };
}

export function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const extra =
        issue.code === 'unrecognized_keys' ? ` (allowed keys are listed in the configuration reference)` : '';
      return `  - ${formatPath(issue.path)}: ${issue.message}${extra}`;
    })
    .join('\n');
}

function formatPath(at: readonly PropertyKey[]): string {
  return at.length === 0 ? '(root)' : at.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.');
}

function configPathFrom(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--config') {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new ConfigError('--config needs a file path');
      return next;
    }
    if (arg.startsWith('--config=')) return arg.slice('--config='.length);
  }
  return undefined;
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`PORT must be an integer between 0 and 65535, got "${text}"`);
  }
  return port;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
