/**
 * The deploy artifacts against the gateway they deploy: the alert rules and the dashboard query only
 * metrics and labels a running gateway exports; the Kubernetes config validates with the real config
 * loader and agrees with the Deployment (probes, port, shutdown time, Secret, mount); the image runs
 * what the build emits. Needs no broker and no Docker.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Registry } from 'prom-client';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../gateway/config/load.js';
import type { GatewayConfig } from '../../gateway/config/schema.js';
import { auth, startGateway, type TestGateway } from '../support/gateway.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const K8S = 'deploy/kubernetes';

const readText = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

/** Every document of a YAML file, parsed strictly (any error or warning fails). */
function yamlDocuments(file: string): Record<string, unknown>[] {
  const docs = parseAllDocuments(readText(file), { uniqueKeys: true });
  assert.ok(Array.isArray(docs), `${file}: not a YAML stream`);
  return docs.map((doc, i) => {
    assert.deepEqual(
      [...doc.errors, ...doc.warnings].map((e) => e.message),
      [],
      `${file}: document ${i} does not parse`,
    );
    const value: unknown = doc.toJS();
    assert.ok(isObject(value), `${file}: document ${i} is not a mapping`);
    return value;
  });
}

function yamlDocument(file: string): Record<string, unknown> {
  const docs = yamlDocuments(file);
  assert.equal(docs.length, 1, `${file}: expected one document`);
  return docs[0]!;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Follows a path of keys and indexes, failing with the path when something is missing. */
function at(value: unknown, ...keys: (string | number)[]): unknown {
  let current = value;
  for (const [i, key] of keys.entries()) {
    const next = (current as Record<string | number, unknown> | undefined)?.[key];
    assert.notEqual(next, undefined, `missing ${keys.slice(0, i + 1).join('.')}`);
    current = next;
  }
  return current;
}

// ---- PromQL, just enough to find metric names and labels ----

/** Labels Prometheus attaches to every scraped series (from the scrape config, not the gateway). */
const TARGET_LABELS = new Set(['job', 'instance', 'namespace', 'pod']);
const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'];

function withoutStrings(expr: string): string {
  return expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
}

function metricNamesIn(expr: string): string[] {
  return [...new Set(withoutStrings(expr).match(/\bpubgate_[A-Za-z0-9_]+/g) ?? [])];
}

/** Label names in `metric{label="..."}` selectors, per metric name as written. */
function selectorLabelsIn(expr: string): { metric: string; labels: string[] }[] {
  return [...withoutStrings(expr).matchAll(/\b(pubgate_[A-Za-z0-9_]+)\s*\{([^}]*)\}/g)].map((m) => ({
    metric: m[1]!,
    labels: [...m[2]!.matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1]!),
  }));
}

/** The label lists of every `by (...)` clause. */
function byClausesIn(expr: string): string[][] {
  return [...withoutStrings(expr).matchAll(/\bby\s*\(([^)]*)\)/g)].map((m) =>
    m[1]!
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
}

/** `{{ $labels.x }}` (alert annotations) and `{{x}}` (Grafana legends). */
function templateLabelsIn(text: string): string[] {
  return [
    ...[...text.matchAll(/\$labels\.([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!),
    ...[...text.matchAll(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g)].map((m) => m[1]!),
  ];
}

interface Exported {
  /** Metric name (as on its # TYPE line) → type. */
  readonly types: ReadonlyMap<string, string>;
  /** Metric name → the label names it was declared with. */
  readonly labels: ReadonlyMap<string, ReadonlySet<string>>;
}

/** The exported metric a name in a query refers to: itself, or the histogram of a _bucket/_sum/_count. */
function exportedName(name: string, exported: Exported): string | undefined {
  if (exported.types.has(name)) return name;
  for (const suffix of HISTOGRAM_SUFFIXES) {
    const base = name.slice(0, -suffix.length);
    if (name.endsWith(suffix) && ['histogram', 'summary'].includes(exported.types.get(base) ?? '')) {
      return base;
    }
  }
  return undefined;
}

/**
 * Fails unless every metric the query names is exported, every selector label is one of that
 * metric's labels, every `by` label exists on some metric of the query, and every label the
 * legend or annotation shows survives the aggregation.
 */
function checkQuery(where: string, expr: string, shown: string[], exported: Exported): string[] {
  const names = metricNamesIn(expr);
  assert.ok(names.length > 0, `${where}: names no pubgate metric: ${expr}`);
  const available = new Set(TARGET_LABELS);
  for (const name of names) {
    const base = exportedName(name, exported);
    assert.ok(base, `${where}: ${name} is not a metric the gateway exports`);
    for (const label of exported.labels.get(base) ?? []) available.add(label);
    if (name.endsWith('_bucket')) available.add('le');
  }
  for (const { metric, labels } of selectorLabelsIn(expr)) {
    const base = exportedName(metric, exported)!;
    const own = new Set([
      ...(exported.labels.get(base) ?? []),
      ...(metric.endsWith('_bucket') ? ['le'] : []),
    ]);
    for (const label of labels) {
      assert.ok(
        own.has(label) || TARGET_LABELS.has(label),
        `${where}: ${metric} has no label "${label}" (it has: ${[...own].join(', ') || 'none'})`,
      );
    }
  }
  const byClauses = byClausesIn(expr);
  for (const clause of byClauses) {
    for (const label of clause) {
      assert.ok(available.has(label), `${where}: "by (${clause.join(', ')})": no metric has "${label}"`);
    }
  }
  for (const label of shown) {
    if (byClauses.length > 0) {
      for (const clause of byClauses) {
        assert.ok(
          clause.includes(label),
          `${where}: shows label "${label}", which "by (${clause.join(', ')})" drops`,
        );
      }
    } else {
      assert.ok(available.has(label), `${where}: shows label "${label}", which its series do not have`);
    }
  }
  return names;
}

function declaredLabels(registry: Registry): Map<string, Set<string>> {
  return new Map(
    registry.getMetricsAsArray().map((metric) => {
      // prom-client keeps the labelNames a metric was created with; only those can ever appear.
      const names = (metric as unknown as { labelNames?: unknown }).labelNames;
      assert.ok(Array.isArray(names), `prom-client exposes no labelNames on ${metric.name}`);
      return [metric.name, new Set(names as string[])];
    }),
  );
}

// ---- the artifacts ----

interface Rule {
  readonly alert: string;
  readonly expr: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

function alertRules(): Rule[] {
  const doc = yamlDocument('deploy/prometheus/alerts.yaml');
  const groups = at(doc, 'groups') as { rules: Rule[] }[];
  return groups.flatMap((g) => g.rules);
}

interface Panel {
  readonly type: string;
  readonly title: string;
  readonly id: number;
  readonly datasource?: { type: string; uid: string };
  readonly targets?: { expr: string; legendFormat?: string }[];
  readonly panels?: Panel[];
}

interface Dashboard {
  readonly schemaVersion: number;
  readonly panels: Panel[];
  readonly templating: { list: { name: string; type: string; query: unknown }[] };
}

function dashboard(): Dashboard {
  return JSON.parse(readText('deploy/grafana/pubgate-dashboard.json')) as Dashboard;
}

function dashboardPanels(): Panel[] {
  return dashboard().panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

function k8s(kind: string): Record<string, unknown> {
  const found = readdirSync(path.join(ROOT, K8S))
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => yamlDocuments(`${K8S}/${f}`))
    .filter((doc) => doc.kind === kind);
  assert.equal(found.length, 1, `expected one ${kind} in ${K8S}`);
  return found[0]!;
}

interface Container {
  readonly ports: { name: string; containerPort: number }[];
  readonly env?: { name: string; value?: string }[];
  readonly envFrom?: { secretRef?: { name: string } }[];
  readonly livenessProbe: { httpGet: { path: string; port: string | number } };
  readonly readinessProbe: { httpGet: { path: string; port: string | number }; timeoutSeconds?: number };
  readonly startupProbe?: { httpGet: { path: string; port: string | number } };
  readonly lifecycle?: { preStop?: { exec?: { command: string[] }; sleep?: { seconds: number } } };
  readonly securityContext?: Record<string, unknown>;
  readonly volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
}

function podSpec(): Record<string, unknown> {
  return at(k8s('Deployment'), 'spec', 'template', 'spec') as Record<string, unknown>;
}

function gatewayContainer(): Container {
  const containers = at(podSpec(), 'containers') as Container[];
  assert.equal(containers.length, 1);
  return containers[0]!;
}

/** The Secret example's keys, each with its placeholder value: the environment the pods get. */
function secretEnv(): Record<string, string> {
  return at(k8s('Secret'), 'stringData') as Record<string, string>;
}

/** configmap.yaml's pubgate.yaml, loaded by the gateway's own loader with the Secret's variables. */
function loadConfigMapConfig(): GatewayConfig {
  const text = at(k8s('ConfigMap'), 'data', 'pubgate.yaml') as string;
  const dir = mkdtempSync(path.join(tmpdir(), 'pubgate-k8s-config-'));
  try {
    const file = path.join(dir, 'pubgate.yaml');
    writeFileSync(file, text);
    return loadConfig({ argv: ['--config', file], env: secretEnv(), cwd: dir }).config;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function preStopSeconds(container: Container): number {
  const preStop = container.lifecycle?.preStop;
  if (preStop?.sleep) return preStop.sleep.seconds;
  const command = preStop?.exec?.command ?? [];
  assert.equal(command[0], 'sleep', 'preStop should be a sleep');
  return Number(command[1]);
}

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function dockerfile(): { instruction: string; args: string }[] {
  const lines = readText('deploy/docker/Dockerfile')
    .split('\n')
    .filter((line) => !/^\s*#/.test(line));
  const joined = lines.join('\n').replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [instruction, ...rest] = line.split(/\s+/);
      return { instruction: instruction!.toUpperCase(), args: rest.join(' ') };
    });
}

/** GitHub's heading anchors of a Markdown file. */
function anchors(file: string): Set<string> {
  return new Set(
    [...readText(file).matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) =>
      m[1]!
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, '')
        .replace(/\s/g, '-'),
    ),
  );
}

// ---- the tests ----

describe('deploy artifacts', () => {
  describe('against a running gateway', () => {
    let gw: TestGateway;
    let exported: Exported;

    before(async () => {
      gw = await startGateway();
      const publish = await fetch(`${gw.url}/v1/topics/deploy.check/messages`, {
        method: 'POST',
        headers: { ...auth(), 'content-type': 'application/json' },
        body: '{"n":1}',
      });
      assert.equal(publish.status, 201);
      const scrape = await fetch(`${gw.url}/metrics`);
      assert.equal(scrape.status, 200);
      const text = await scrape.text();
      const types = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!] as const));
      exported = { types, labels: declaredLabels(gw.gateway.metrics.registry) };
    });

    after(async () => {
      await gw.stop();
    });

    it('/metrics has a # TYPE line for every registered metric, including ones with no sample yet', () => {
      assert.deepEqual([...exported.types.keys()].sort(), [...exported.labels.keys()].sort());
      // Nothing went dead and no reload happened: no sample, but the metric is listed.
      for (const name of ['pubgate_dead_letters_total', 'pubgate_config_reloads_total']) {
        assert.equal(exported.types.get(name), 'counter', `${name} has no # TYPE line`);
      }
      assert.equal(exported.types.get('pubgate_publish_duration_seconds'), 'histogram');
    });

    it('every alert expression uses only exported metrics and labels', () => {
      const rules = alertRules();
      const used = new Set<string>();
      for (const rule of rules) {
        const shown = Object.values(rule.annotations ?? {}).flatMap(templateLabelsIn);
        for (const name of checkQuery(`alert ${rule.alert}`, rule.expr, shown, exported)) used.add(name);
      }
      for (const required of [
        'pubgate_breaker_state',
        'pubgate_outbox_messages',
        'pubgate_dead_letters_total',
        'pubgate_relay_publish_total',
        'pubgate_target_up',
        'pubgate_http_requests_total',
        'pubgate_shed_total',
        'pubgate_config_reloads_total',
        'pubgate_publish_duration_seconds_bucket',
      ]) {
        assert.ok(used.has(required), `no alert uses ${required}`);
      }
    });

    it('every dashboard query and variable uses only exported metrics and labels', () => {
      const used = new Set<string>();
      for (const panel of dashboardPanels()) {
        for (const target of panel.targets ?? []) {
          const shown = templateLabelsIn(target.legendFormat ?? '');
          for (const name of checkQuery(`panel "${panel.title}"`, target.expr, shown, exported)) {
            used.add(name);
          }
        }
      }
      for (const variable of dashboard().templating.list.filter((v) => v.type === 'query')) {
        const query = isObject(variable.query) ? String(variable.query.query) : String(variable.query);
        const match = /^label_values\((.+),\s*([A-Za-z_][A-Za-z0-9_]*)\)$/.exec(query);
        assert.ok(match, `variable ${variable.name}: expected label_values(<selector>, <label>)`);
        checkQuery(`variable ${variable.name}`, match[1]!, [match[2]!], exported);
      }
      for (const required of [
        'pubgate_http_requests_total',
        'pubgate_publish_duration_seconds_bucket',
        'pubgate_publish_messages_total',
        'pubgate_breaker_state',
        'pubgate_outbox_messages',
        'pubgate_relay_publish_total',
        'pubgate_publish_retries_total',
        'pubgate_idempotency_total',
        'pubgate_tenant_requests_total',
        'pubgate_shed_total',
        'pubgate_rejected_requests_total',
        'pubgate_http_in_flight_requests',
        'pubgate_config_generation',
        'pubgate_config_reloads_total',
      ]) {
        assert.ok(used.has(required), `no dashboard panel uses ${required}`);
      }
    });
  });

  it('every YAML file parses', () => {
    const files = [
      'deploy/prometheus/alerts.yaml',
      ...readdirSync(path.join(ROOT, K8S))
        .filter((f) => f.endsWith('.yaml'))
        .map((f) => `${K8S}/${f}`),
    ];
    for (const file of files) assert.ok(yamlDocuments(file).length > 0, `${file} is empty`);
    for (const file of files.filter((f) => f.startsWith(K8S))) {
      for (const doc of yamlDocuments(file)) {
        assert.ok(
          typeof doc.apiVersion === 'string' && typeof doc.kind === 'string',
          `${file}: not a resource`,
        );
      }
    }
  });

  it('kustomization.yaml lists every manifest except the Secret example', () => {
    const resources = at(yamlDocument(`${K8S}/kustomization.yaml`), 'resources') as string[];
    const manifests = readdirSync(path.join(ROOT, K8S)).filter(
      (f) => f.endsWith('.yaml') && f !== 'kustomization.yaml' && f !== 'secret.example.yaml',
    );
    assert.deepEqual([...resources].sort(), manifests.sort());
    for (const file of resources) assert.ok(existsSync(path.join(ROOT, K8S, file)), `${file} is missing`);
  });

  it("the ConfigMap's pubgate.yaml validates with the config loader, given the Secret's variables", () => {
    const config = loadConfigMapConfig();
    assert.equal(config.server.host, '0.0.0.0', 'a container must listen on every interface');
    const { outbox } = config.stores;
    assert.equal(outbox.kind, 'postgres');
    assert.equal(config.stores.idempotency.kind, 'redis');
    assert.equal(config.stores.quotas.kind, 'redis');
    assert.ok(
      Object.values(config.brokers).some((b) => b.kind === 'kafka'),
      'expected a Kafka target',
    );
    // Placeholder values came through interpolation (no credential is written in the ConfigMap).
    assert.equal(outbox.url, secretEnv().PUBGATE_POSTGRES_URL);
    // Each variable the config names is in the Secret (a missing one would have failed the load).
    const text = at(k8s('ConfigMap'), 'data', 'pubgate.yaml') as string;
    const names = [...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!);
    assert.ok(names.length > 0);
    for (const name of names) assert.ok(name in secretEnv(), `${name} is not in secret.example.yaml`);
  });

  it('the Deployment probes /livez and /readyz on the config port and outlasts the shutdown drain', () => {
    const config = loadConfigMapConfig();
    const container = gatewayContainer();
    const http = container.ports.find((p) => p.name === 'http');
    assert.ok(http, 'no container port named http');
    assert.equal(http.containerPort, config.server.port);
    assert.equal(container.livenessProbe.httpGet.path, '/livez');
    assert.equal(container.readinessProbe.httpGet.path, '/readyz');
    if (container.startupProbe) assert.equal(container.startupProbe.httpGet.path, '/livez');
    for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe]) {
      if (probe) assert.ok([http.name, http.containerPort].includes(probe.httpGet.port));
    }
    // /readyz waits up to 2 s for the target health checks.
    assert.ok((container.readinessProbe.timeoutSeconds ?? 1) > 2);

    const grace = at(podSpec(), 'terminationGracePeriodSeconds') as number;
    const preStop = preStopSeconds(container);
    const { shutdownTimeoutMs, publishTimeoutMs } = config.server;
    assert.ok(preStop > 0);
    assert.ok(
      grace > preStop + shutdownTimeoutMs / 1000,
      `terminationGracePeriodSeconds ${grace} <= preStop ${preStop} s + shutdownTimeoutMs ${shutdownTimeoutMs} ms`,
    );
    // The whole stop: HTTP drain, background publishes (each up to shutdownTimeoutMs), the relay's batch.
    assert.ok(grace >= preStop + (2 * shutdownTimeoutMs + publishTimeoutMs) / 1000);

    const annotations = at(k8s('Deployment'), 'spec', 'template', 'metadata', 'annotations') as Record<
      string,
      string
    >;
    assert.equal(annotations['prometheus.io/scrape'], 'true');
    assert.equal(Number(annotations['prometheus.io/port']), config.server.port);
    assert.equal(annotations['prometheus.io/path'], '/metrics');
  });

  it('the Deployment runs non-root on a read-only root with the config, Secret and data volume wired', () => {
    const pod = podSpec();
    const container = gatewayContainer();
    assert.equal(at(pod, 'securityContext', 'runAsNonRoot'), true);
    assert.equal(container.securityContext?.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext?.allowPrivilegeEscalation, false);

    const volumes = at(pod, 'volumes') as { name: string; configMap?: { name: string }; emptyDir?: object }[];
    const mount = (mountPath: string) => {
      const found = container.volumeMounts.find((m) => m.mountPath === mountPath);
      assert.ok(found, `nothing mounted at ${mountPath}`);
      return { mount: found, volume: volumes.find((v) => v.name === found.name) };
    };
    const data = mount('/app/data');
    assert.ok(data.volume && !data.mount.readOnly, '/app/data must be a writable volume');

    const configFile = container.env?.find((e) => e.name === 'PUBGATE_CONFIG')?.value;
    assert.ok(configFile, 'PUBGATE_CONFIG is not set');
    const config = mount(path.posix.dirname(configFile));
    assert.equal(config.volume?.configMap?.name, (k8s('ConfigMap').metadata as { name: string }).name);
    assert.ok('pubgate.yaml' === path.posix.basename(configFile));

    const secretName = (k8s('Secret').metadata as { name: string }).name;
    assert.ok(
      container.envFrom?.some((e) => e.secretRef?.name === secretName),
      `envFrom lacks ${secretName}`,
    );

    const podLabels = at(k8s('Deployment'), 'spec', 'template', 'metadata', 'labels');
    assert.deepEqual(at(k8s('Deployment'), 'spec', 'selector', 'matchLabels'), podLabels);
    assert.deepEqual(at(k8s('Service'), 'spec', 'selector'), podLabels);
    assert.deepEqual(at(k8s('PodDisruptionBudget'), 'spec', 'selector', 'matchLabels'), podLabels);
    const servicePort = (at(k8s('Service'), 'spec', 'ports') as { targetPort: string | number }[])[0];
    assert.ok(['http', 8080].includes(servicePort?.targetPort ?? ''));
  });

  it('the image runs what the build emits, as npm start does, from sources the build stage copies', () => {
    const steps = dockerfile();
    const cmd = steps.filter((s) => s.instruction === 'CMD').at(-1);
    assert.ok(cmd, 'no CMD');
    const [node, entry, ...extra] = JSON.parse(cmd.args) as string[];
    assert.equal(node, 'node');
    assert.deepEqual(extra, []);
    const pkg = JSON.parse(readText('package.json')) as { scripts: Record<string, string> };
    assert.match(pkg.scripts.start ?? '', new RegExp(`node ${entry!.replace(/\./g, '\\.')}$`));
    assert.equal(pkg.scripts.build, 'tsc -p tsconfig.build.json');

    // What `npm run build` emits for gateway/main.ts, computed by TypeScript from tsconfig.build.json.
    const parsed = ts.getParsedCommandLineOfConfigFile(
      path.join(ROOT, 'tsconfig.build.json'),
      {},
      {
        ...ts.sys,
        onUnRecoverableConfigFileDiagnostic: (d) =>
          assert.fail(ts.flattenDiagnosticMessageText(d.messageText, '\n')),
      },
    );
    assert.ok(parsed);
    const main = path.join(ROOT, 'gateway/main.ts');
    assert.ok(parsed.fileNames.includes(main), 'gateway/main.ts is not part of the build');
    const emitted = ts.getOutputFileNames(parsed, main, !ts.sys.useCaseSensitiveFileNames);
    assert.ok(
      emitted.map((f) => path.relative(ROOT, f)).includes(entry!),
      `the build emits ${emitted.join(', ')}, not ${entry}`,
    );
    // The runtime stage copies dist/ (the build's outDir) to the WORKDIR the CMD runs in.
    assert.equal(path.relative(ROOT, parsed.options.outDir ?? ''), entry!.split('/')[0]);
    const copies = steps.filter((s) => s.instruction === 'COPY').map((s) => s.args);
    assert.ok(copies.includes('--from=build /app/dist ./dist'));
    assert.ok(
      copies.includes('--from=build /app/package.json ./package.json'),
      'package.json makes dist/ ESM',
    );
    assert.ok(copies.includes('--from=build /app/node_modules ./node_modules'));
    assert.deepEqual(
      steps.filter((s) => s.instruction === 'WORKDIR').map((s) => s.args),
      ['/app', '/app'],
    );

    // Every source file the build compiles (imports followed) is under a folder the build stage copies.
    const copied = new Set(
      copies.filter((c) => !c.startsWith('--from')).flatMap((c) => c.split(/\s+/).slice(0, -1)),
    );
    const program = ts.createProgram(parsed.fileNames, { ...parsed.options, noEmit: true });
    for (const file of program.getSourceFiles()) {
      const relative = path.relative(ROOT, file.fileName);
      if (file.isDeclarationFile || relative.startsWith('node_modules')) continue;
      assert.ok(
        copied.has(relative.split(path.sep)[0]!),
        `${relative} is compiled but not copied into the image`,
      );
    }
    for (const file of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) {
      assert.ok(copied.has(file), `${file} is not copied into the build stage`);
    }
    // .dockerignore leaves everything out (`*`) and lets back in exactly what is copied.
    const ignore = readText('.dockerignore')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    assert.equal(ignore[0], '*');
    const included = new Set(
      ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, '')),
    );
    assert.deepEqual([...included].sort(), [...copied].sort());
  });

  it('the image listens where the Kubernetes config says, as a non-root user, with a /livez health check', () => {
    const steps = dockerfile();
    const args = (instruction: string) =>
      steps.filter((s) => s.instruction === instruction).map((s) => s.args);
    const config = loadConfigMapConfig();
    assert.deepEqual(args('EXPOSE'), [String(config.server.port)]);
    assert.deepEqual(args('VOLUME'), ['["/app/data"]']);
    const user = args('USER').at(-1) ?? '';
    assert.match(user, /^[1-9]\d*(:\d+)?$/, 'USER should be a numeric non-root uid');
    assert.match(args('HEALTHCHECK').join(' '), /\/livez/);
    const env = args('ENV').join(' ');
    assert.match(env, /NODE_ENV=production/);
    const configPath = /PUBGATE_CONFIG=(\S+)/.exec(env)?.[1];
    assert.equal(configPath, gatewayContainer().env?.find((e) => e.name === 'PUBGATE_CONFIG')?.value);
    assert.deepEqual(
      args('FROM').map((a) => a.split(/\s+/)[0]),
      ['${NODE_IMAGE}', '${NODE_IMAGE}'],
    );
    assert.deepEqual(args('ARG'), ['NODE_IMAGE=node:20-bookworm-slim']);
  });

  it('every alert has a severity, summary, description and a runbook section that exists', () => {
    const sections = anchors('docs/operations.md');
    for (const rule of alertRules()) {
      assert.ok(rule.labels?.severity, `${rule.alert}: no severity`);
      for (const key of ['summary', 'description', 'runbook']) {
        assert.ok(rule.annotations?.[key], `${rule.alert}: no ${key} annotation`);
      }
      const [file, anchor] = rule.annotations!.runbook!.split('#');
      assert.equal(file, 'docs/operations.md');
      assert.ok(
        anchor && sections.has(anchor),
        `${rule.alert}: docs/operations.md has no section #${anchor}`,
      );
    }
  });

  it('the dashboard has a Prometheus data source variable, target and tenant variables, unique panel ids', () => {
    const board = dashboard();
    assert.ok(board.schemaVersion >= 36);
    const variables = new Map(board.templating.list.map((v) => [v.name, v]));
    assert.equal(variables.get('datasource')?.type, 'datasource');
    assert.equal(variables.get('datasource')?.query, 'prometheus');
    assert.ok(variables.has('target') && variables.has('tenant'));
    const panels = dashboardPanels();
    assert.equal(new Set(panels.map((p) => p.id)).size, panels.length);
    for (const panel of panels.filter((p) => p.type !== 'row')) {
      assert.equal(panel.datasource?.uid, '${datasource}', `panel "${panel.title}" has a fixed data source`);
    }
  });
});
