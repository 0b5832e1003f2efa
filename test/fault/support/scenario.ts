/**
 * The body every broker fault scenario shares (TESTING.md, "the invariant every fault test
 * checks"): a real broker behind a fault proxy, the gateway as a child process, a closed-loop load,
 * a fault injected mid-load, then a real consumer's read-back checked by id:
 *   lost = ids answered 2xx and never delivered            → must be 0
 *   unexpected = delivered ids no client ever sent, or none → must be 0
 *   hung = requests unanswered past the gateway's deadline  → must be 0
 * Duplicates (same id delivered twice) are allowed and reported.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger, type DestinationReader } from '../../../adapters/core/index.js';
import { createReader } from '../../../adapters/registry.js';
import { ensureBrokers, thawBroker } from '../../../deploy/local/brokers.js';
import { analyzeDelivery } from '../../../gateway/verify/analyze.js';
import { createTcpProxy, type TcpProxy } from '../../support/tcp-proxy.js';
import type { FaultBroker } from './fault-brokers.js';
import { startGatewayProcess, type GatewayProcess } from '../../support/gateway-process.js';
import { startLoad, type Load, type LoadResult } from './load.js';
import { reportScenario } from './report.js';

/** API key of the fault tenant (the config holds its sha256). */
export const FAULT_API_KEY = 'fault-key';
export const FAULT_TENANT = 'fault';

/** Gateway settings of every scenario: short deadlines keep the suite short. */
export const FAULT_GATEWAY = { publishTimeoutMs: 3_000, shutdownTimeoutMs: 5_000 } as const;
/** A request unanswered this long hung: the gateway answers within publishTimeoutMs (+ slack). */
export const CLIENT_TIMEOUT_MS = FAULT_GATEWAY.publishTimeoutMs + 2_000;
const CLIENTS = 4;
/** After the load: how long deliveries may stall, and the most the read-back may take in all. */
const DELIVERY_STALL_MS = 30_000;
const DELIVERY_WAIT_CAP_MS = 5 * 60_000;

export interface FaultContext {
  readonly broker: FaultBroker;
  readonly proxy: TcpProxy;
  /** The gateway process the load currently talks to. */
  readonly gateway: GatewayProcess;
  readonly load: Load;
  /**
   * Starts a new gateway process in the same directory (its outbox survives), with the scenario's
   * config changed by `configure`, and points the load at it. The old one must have exited.
   */
  restartGateway(
    configure?: (config: Record<string, unknown>) => Record<string, unknown>,
  ): Promise<GatewayProcess>;
}

export interface BrokerScenario {
  /** e.g. '1 kill -9 broker'. */
  readonly name: string;
  /** Injects the fault and returns once it is healed (broker back, proxy healed...). */
  inject(context: FaultContext): Promise<void>;
  /** The gateway is gone after inject (SIGTERM): no recovery phase. */
  readonly stopsGateway?: boolean;
  /** Changes the gateway config (delivery modes, outbox, crash points). */
  configure?(config: Record<string, unknown>): Record<string, unknown>;
  /** Extra headers on every request (e.g. Prefer: respond-async). */
  readonly headers?: Record<string, string>;
  /** Wait for 20 answers 2xx before injecting (default true; false when the gateway crashes at once). */
  readonly warmup?: boolean;
  /**
   * The answer that shows the gateway recovered: 20 of them after the fault healed end the load.
   * Default: any 2xx. A spooling scenario waits for 201 (publishing to the broker again), as a 202
   * is also what it answers while the broker is down.
   */
  readonly recoveredWith?: number;
  /** Scenario-specific checks on the answers (e.g. 503 never 202). */
  check?(result: LoadResult): void;
}

export function gatewayConfig(broker: FaultBroker, endpoint: string): Record<string, unknown> {
  return {
    server: { ...FAULT_GATEWAY },
    log: { level: 'warn' },
    brokers: { main: broker.target(endpoint) },
    routes: [{ topic: 'fault.**', target: 'main' }],
    tenants: { [FAULT_TENANT]: { keys: [FAULT_API_KEY], topics: ['fault.**'] } },
  };
}

export async function runBrokerScenario(broker: FaultBroker, scenario: BrokerScenario): Promise<void> {
  const slug = scenario.name.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '');
  const topic = `fault.${slug}.${Date.now().toString(36)}${randomUUID().slice(0, 6)}`;
  await broker.prepare(topic);
  let proxy: TcpProxy | undefined;
  let reader: DestinationReader | undefined;
  let gateway: GatewayProcess | undefined;
  let load: Load | undefined;
  try {
    proxy = await createTcpProxy({
      upstream: { host: '127.0.0.1', port: broker.upstreamPort },
      ...(broker.proxyPort === undefined ? {} : { port: broker.proxyPort }),
    });
    // The reader reads the broker directly and starts before the load (RabbitMQ keeps only what
    // reached a bound queue; a new RocketMQ group starts where the topic is when it first reads).
    reader = await createReader(
      'fault-reader',
      broker.direct,
      { destination: topic },
      { logger: silentLogger },
    );
    const baseConfig = scenario.configure ?? ((config: Record<string, unknown>) => config);
    const config = baseConfig(gatewayConfig(broker, `127.0.0.1:${proxy.port}`));
    let current = await startGatewayProcess(config);
    gateway = current;
    const dir = current.dir;
    load = startLoad({
      url: () => current.url,
      topic,
      apiKey: FAULT_API_KEY,
      clients: CLIENTS,
      clientTimeoutMs: CLIENT_TIMEOUT_MS,
      ...(scenario.headers === undefined ? {} : { headers: scenario.headers }),
    });
    if (scenario.warmup ?? true) await load.waitForAccepted(20, 60_000);
    const context: FaultContext = {
      broker,
      proxy,
      get gateway() {
        return current;
      },
      load,
      async restartGateway(configure = (c) => c) {
        current = await startGatewayProcess(configure(config), { dir });
        gateway = current;
        return current;
      },
    };
    const phases: string[] = [];
    let phaseStart = Date.now();
    const phase = (name: string) => {
      phases.push(`${name} ${((Date.now() - phaseStart) / 1000).toFixed(1)} s`);
      phaseStart = Date.now();
    };
    await scenario.inject(context);
    phase('fault');
    if (!scenario.stopsGateway) {
      // Recovery: the gateway publishes again once the fault healed.
      await load.waitForAccepted(20, 90_000, scenario.recoveredWith);
      await sleep(1_000);
    }
    const result = await load.stop();
    load = undefined;
    phase('recovery');
    // Everything answered 2xx should arrive (spooled messages once the relay drained the outbox);
    // then idle. Wait as long as deliveries still progress (a big spool takes a while to drain),
    // but give up after 30 s without a new message, or after DELIVERY_WAIT_CAP_MS in all.
    const accepted = new Set(result.accepted);
    const cap = Date.now() + DELIVERY_WAIT_CAP_MS;
    let lastCount = -1;
    let lastProgress = Date.now();
    while (Date.now() < cap && Date.now() - lastProgress < DELIVERY_STALL_MS) {
      const received = reader.received();
      if (received.length !== lastCount) {
        lastCount = received.length;
        lastProgress = Date.now();
      }
      const seen = new Set(received.map((m) => m.id));
      if ([...accepted].every((id) => seen.has(id))) break;
      await reader.waitForCount(received.length + 1, 1_000).catch(() => {});
    }
    await reader.waitForIdle(3_000, 60_000);
    phase('read-back');
    const problems = Object.entries(result.problems).map(([problem, n]) => `${problem}: ${n}`);
    process.stderr.write(
      `FAULT PHASES ${broker.name} ${scenario.name}: ${phases.join(', ')}` +
        `${problems.length > 0 ? `; error answers ${problems.join(', ')}` : ''}\n`,
    );
    const report = analyzeDelivery(reader.received(), result.accepted, { mayArrive: result.notAccepted });
    const outcomes = Object.entries(result.byOutcome)
      .map(([outcome, count]) => `${outcome}:${count}`)
      .join(' ');
    reportScenario({
      broker: broker.name,
      scenario: scenario.name,
      sent: result.sent.length,
      accepted: result.accepted.length,
      delivered: report.distinct,
      lost: report.lost.length,
      duplicates: report.duplicates.length,
      unexpected: report.unexpected.length,
      hung: result.hung.length,
      note: outcomes,
    });
    if (report.lost.length > 0 && !scenario.stopsGateway) {
      // Tells a stuck relay (rows still queued in the outbox) from a stuck read-back.
      process.stderr.write(`gateway state after the read-back:\n${await relayState(gateway)}\n`);
    }
    assert.deepEqual(report.lost, [], `ids answered 2xx but never delivered`);
    assert.deepEqual(report.unexpected, [], `delivered ids no client sent`);
    assert.deepEqual(result.hung, [], `requests unanswered after ${CLIENT_TIMEOUT_MS} ms`);
    scenario.check?.(result);
  } catch (error) {
    if (gateway) process.stderr.write(`gateway log tail:\n${gateway.logs.slice(-20).join('\n')}\n`);
    throw error;
  } finally {
    await load?.stop().catch(() => {});
    await gateway?.dispose();
    if (gateway) rmSync(gateway.dir, { recursive: true, force: true });
    await reader?.close().catch(() => {});
    await proxy?.close();
    // Never leave a broker frozen or down.
    await thawBroker(broker.name).catch(() => []);
    await ensureBrokers([broker.name]);
  }
}

/** The gateway's outbox and relay metric lines, or why they could not be read. */
async function relayState(gateway: GatewayProcess | undefined): Promise<string> {
  if (!gateway) return '(no gateway)';
  try {
    const response = await fetch(`${gateway.url}/metrics`, { signal: AbortSignal.timeout(5_000) });
    const text = await response.text();
    return text
      .split('\n')
      .filter((line) => /^pubgate_(outbox|relay|breaker|target)/.test(line))
      .join('\n');
  } catch (error) {
    return `(metrics unavailable: ${String(error)})`;
  }
}
