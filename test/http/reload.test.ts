/**
 * Live config reload on the embedded broker: a changed file is picked up; an invalid config, or one
 * changing a restart-only setting, is refused while the old one keeps serving; unchanged targets
 * keep their adapter instance; a removed target is closed only after the requests still running
 * on it finished; the admin endpoint reports outcomes; SIGHUP reloads a gateway process.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { AdapterError, type BrokerAdapter } from '../../adapters/core/index.js';
import { startGatewayProcess } from '../support/gateway-process.js';
import { embeddedConfig, gatewaySet, writeGatewayConfig } from '../support/gateway.js';
import { heldPublish, metric, until } from './held-request.js';

const ADMIN = 'reload-admin-key';

function publish(url: string, key: string, topic = 'reload.test') {
  return fetch(`${url}/v1/topics/${topic}/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: '{"n":1}',
  });
}

async function receiptTarget(response: Response): Promise<string> {
  assert.equal(response.status, 201);
  return ((await response.json()) as { receipt: { target: string } }).receipt.target;
}

function adminReload(url: string, key = ADMIN) {
  return fetch(`${url}/admin/v1/config/reload`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}` },
  });
}

const twoTargets = (patch: Record<string, unknown> = {}) =>
  embeddedConfig({
    brokers: { a: { kind: 'embedded', dir: './a' }, b: { kind: 'embedded', dir: './b' } },
    routes: [
      { topic: 'to-b.**', target: 'b' },
      { topic: '**', target: 'a' },
    ],
    admin: { keys: [ADMIN] },
    ...patch,
  });

describe('live config reload', () => {
  const { start, stopAll } = gatewaySet();
  after(stopAll);

  it('picks up a changed config file: a new tenant can publish', async () => {
    const config = embeddedConfig({ reload: { debounceMs: 50 } });
    const gw = await start(config);
    assert.equal((await publish(gw.url, 'new-key')).status, 401);
    writeGatewayConfig(gw.dir, {
      ...config,
      tenants: {
        ...(config.tenants as object),
        newcomer: { keys: ['new-key'], topics: ['**'] },
      },
    });
    await until(async () => (await publish(gw.url, 'new-key')).status === 201, 'the new tenant');
    assert.equal(gw.gateway.generation(), 2);
    assert.equal(await metric(gw.url, 'pubgate_config_generation'), 2);
    assert.equal(await metric(gw.url, 'pubgate_config_reloads_total{outcome="applied"}'), 1);
    assert.equal((await publish(gw.url, 'dev-key')).status, 201, 'the old tenant still publishes');
  });

  it('refuses an invalid config and keeps serving the old one', async () => {
    const config = embeddedConfig({ reload: { watch: false } });
    const gw = await start(config);
    writeGatewayConfig(gw.dir, { ...config, routes: [{ topic: '**', target: 'nowhere' }] });
    const bad = await gw.gateway.reload();
    assert.equal(bad.outcome, 'refused');
    assert.match(bad.outcome === 'refused' ? bad.errors.join('\n') : '', /unknown broker target "nowhere"/);

    writeFileSync(path.join(gw.dir, 'pubgate.yaml'), 'server: [not: yaml');
    const broken = await gw.gateway.reload();
    assert.equal(broken.outcome, 'refused');

    // A JWKS file that cannot be read fails only when the pipeline is built: still refused.
    writeGatewayConfig(gw.dir, {
      ...config,
      auth: {
        jwt: [
          {
            issuer: 'https://issuer.test',
            audience: 'pubgate',
            algorithms: ['RS256'],
            jwksFile: './missing.json',
          },
        ],
      },
    });
    const jwks = await gw.gateway.reload();
    assert.equal(jwks.outcome, 'refused');
    assert.match(jwks.outcome === 'refused' ? jwks.errors.join('\n') : '', /JWKS file/, JSON.stringify(jwks));

    assert.equal(gw.gateway.generation(), 1);
    assert.equal((await publish(gw.url, 'dev-key')).status, 201);
    assert.equal(await metric(gw.url, 'pubgate_config_reloads_total{outcome="refused"}'), 3);
  });

  it('refuses a change of a restart-only setting, naming it', async () => {
    const config = embeddedConfig({ reload: { watch: false } });
    const gw = await start(config);
    writeGatewayConfig(gw.dir, { ...config, stores: { outbox: { kind: 'sqlite', path: './other.db' } } });
    const result = await gw.gateway.reload();
    assert.equal(result.outcome, 'refused');
    assert.match(
      result.outcome === 'refused' ? result.errors[0]! : '',
      /^stores cannot change while running/,
    );
    assert.equal((await publish(gw.url, 'dev-key')).status, 201);
  });

  it('keeps the adapter instance of an unchanged target and replaces a changed one', async () => {
    const config = twoTargets({ reload: { watch: false } });
    const gw = await start(config);
    const a = gw.gateway.targets.get('a');
    const b = gw.gateway.targets.get('b');
    writeGatewayConfig(gw.dir, {
      ...config,
      brokers: { a: { kind: 'embedded', dir: './a' }, b: { kind: 'embedded', dir: './b2' } },
      routes: [{ topic: '**', target: 'b' }],
    });
    const result = await gw.gateway.reload();
    assert.equal(result.outcome, 'applied');
    assert.deepEqual(result.outcome === 'applied' ? result.targets : undefined, {
      kept: ['a'],
      added: [],
      replaced: ['b'],
      removed: [],
    });
    assert.equal(gw.gateway.targets.get('a'), a, 'same instance: no reconnect');
    assert.notEqual(gw.gateway.targets.get('b'), b);
    assert.equal(await receiptTarget(await publish(gw.url, 'dev-key', 'any.topic')), 'b');
  });

  it('keeps an open breaker open across a reload that keeps its target; a changed target starts closed', async () => {
    const config = twoTargets({
      routes: [
        { topic: 'rej.**', target: 'b' },
        { topic: '**', target: 'a' },
      ],
      breakers: { default: { volumeThreshold: 2, resetTimeoutMs: 60_000 } },
      reliability: { retry: { maxAttempts: 1 } },
      reload: { watch: false },
    });
    const gw = await start(config);
    // Target b connected, then its broker fails every publish.
    const b = gw.gateway.targets.get('b') as BrokerAdapter;
    b.publish = async (batch) =>
      batch.map(() => ({
        ok: false as const,
        error: new AdapterError('ADP_ERR_UNAVAILABLE', 'broker down'),
      }));
    const stateOf = async () => {
      const res = await fetch(`${gw.url}/admin/v1/breakers`, {
        headers: { authorization: `Bearer ${ADMIN}` },
      });
      return ((await res.json()) as { targets: Record<string, { state: string }> }).targets.b?.state;
    };
    for (let i = 0; i < 4 && (await stateOf()) !== 'open'; i++) {
      assert.equal((await publish(gw.url, 'dev-key', 'rej.x')).status, 503);
    }
    assert.equal(await stateOf(), 'open');

    // An unrelated change (a new tenant): b is kept, and so is its open breaker.
    writeGatewayConfig(gw.dir, {
      ...config,
      tenants: { ...(config.tenants as object), other: { keys: ['other-key'], topics: ['**'] } },
    });
    const kept = await gw.gateway.reload();
    assert.equal(kept.outcome, 'applied');
    assert.equal(await stateOf(), 'open');
    assert.equal(await metric(gw.url, 'pubgate_breaker_state{target="b"}'), 2);
    const refused = await publish(gw.url, 'dev-key', 'rej.x');
    assert.equal(refused.status, 503);
    assert.equal(((await refused.json()) as { code: string }).code, 'GW_ERR_BREAKER_OPEN');

    // A changed breaker setting for b: a fresh breaker, closed.
    writeGatewayConfig(gw.dir, {
      ...config,
      breakers: {
        default: { volumeThreshold: 2, resetTimeoutMs: 60_000 },
        targets: { b: { volumeThreshold: 3 } },
      },
    });
    assert.equal((await gw.gateway.reload()).outcome, 'applied');
    assert.equal(await stateOf(), 'closed');
  });

  it('closes a removed target only after the requests running on it have finished', async () => {
    const config = twoTargets({ reload: { watch: false } });
    const gw = await start(config);
    const b = gw.gateway.targets.get('b') as BrokerAdapter & { close: () => Promise<void> };
    let closedAt: number | undefined;
    const close = b.close.bind(b);
    b.close = () => {
      closedAt ??= Date.now();
      return close();
    };
    const held = heldPublish(gw.url, 'to-b.orders', 'dev-key');
    // In flight: the held request and the scrape itself.
    await until(async () => (await metric(gw.url, 'pubgate_http_in_flight_requests')) === 2, 'held request');

    writeGatewayConfig(gw.dir, {
      ...config,
      brokers: { a: { kind: 'embedded', dir: './a' } },
      routes: [{ topic: '**', target: 'a' }],
    });
    const result = await gw.gateway.reload();
    assert.equal(result.outcome, 'applied');
    assert.deepEqual(result.outcome === 'applied' ? result.targets.removed : undefined, ['b']);
    // New requests use the new config at once; the held one still runs on the old.
    assert.equal(await receiptTarget(await publish(gw.url, 'dev-key', 'to-b.orders')), 'a');
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(closedAt, undefined, 'b stays open while a request on it is in flight');

    // The request cannot complete before the rest of its body is sent.
    const bodySentAt = Date.now();
    const answer = await held.finish();
    assert.equal(answer.status, 201, answer.body);
    assert.equal((JSON.parse(answer.body) as { receipt: { target: string } }).receipt.target, 'b');
    await until(() => closedAt !== undefined, 'b closed');
    assert.ok(closedAt! >= bodySentAt, 'closed after the request finished');
  });

  it('reloads through the admin API, which needs the admin key', async () => {
    const config = twoTargets({ reload: { watch: false } });
    const gw = await start(config);
    assert.equal((await adminReload(gw.url, 'dev-key')).status, 401);
    const same = await adminReload(gw.url);
    assert.equal(same.status, 200);
    assert.deepEqual(await same.json(), { outcome: 'unchanged', generation: 1 });

    writeGatewayConfig(gw.dir, {
      ...config,
      brokers: { ...(config.brokers as object), c: { kind: 'embedded', dir: './c' } },
      routes: [{ topic: '**', target: 'c' }],
    });
    const applied = await adminReload(gw.url);
    assert.deepEqual(await applied.json(), {
      outcome: 'applied',
      generation: 2,
      targets: { kept: ['a', 'b'], added: ['c'], replaced: [], removed: [] },
    });
    assert.equal(await receiptTarget(await publish(gw.url, 'dev-key')), 'c');

    writeGatewayConfig(gw.dir, { ...config, tenants: {} });
    const refused = (await (await adminReload(gw.url)).json()) as { outcome: string; errors: string[] };
    assert.equal(refused.outcome, 'refused');
    assert.match(refused.errors[0]!, /at least one tenant/);
  });

  it('reloads a gateway process on SIGHUP', async () => {
    const config = embeddedConfig({ reload: { watch: false }, log: { level: 'info' } });
    const proc = await startGatewayProcess(config);
    try {
      const file = path.join(proc.dir, 'gateway.yaml');
      const written = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      assert.equal((await publish(proc.url, 'hup-key')).status, 401);
      writeFileSync(
        file,
        stringify({
          ...written,
          tenants: { ...(written.tenants as object), hup: { keys: ['hup-key'], topics: ['**'] } },
        }),
      );
      proc.kill('SIGHUP');
      await until(async () => (await publish(proc.url, 'hup-key')).status === 201, 'reload on SIGHUP');
      assert.ok(proc.logs.some((line) => line.includes('config reloaded')));
    } finally {
      await proc.dispose();
    }
  });
});
