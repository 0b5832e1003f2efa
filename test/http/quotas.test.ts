/**
 * Quotas over HTTP with deploy/config/quotas.yaml as shipped: tenant small (10 requests/s) is
 * throttled with agreeing RateLimit / RateLimit-Policy / Retry-After headers while tenant big (a
 * high quota) is not; grants and spoofing answer 403; per-tenant metrics count all of it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseYaml } from '../../gateway/config/load.js';
import { auth, embeddedConfig, startGateway, type TestGateway } from '../support/gateway.js';
import { assertDocumented } from '../support/openapi.js';

const EXAMPLE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../deploy/config/quotas.yaml');

function exampleConfig(): Record<string, unknown> {
  const config = parseYaml(readFileSync(EXAMPLE, 'utf8'), EXAMPLE, {
    PORT: '0',
    PUBGATE_LOG_LEVEL: 'silent',
  }) as Record<string, unknown>;
  return config;
}

function publish(url: string, key: string, topic: string, body: unknown = { n: 1 }) {
  return fetch(`${url}/v1/topics/${topic}/messages`, {
    method: 'POST',
    headers: { ...auth(key), 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** Asserts a 429's headers follow the draft and agree with each other and with the body. */
async function assertThrottled(res: Response, policy: RegExp): Promise<void> {
  const body = (await res.json()) as Record<string, unknown>;
  assert.equal(res.status, 429, JSON.stringify(body));
  assert.equal(body.code, 'GW_ERR_QUOTA_EXCEEDED');
  assert.equal(body.retriable, true);
  assertDocumented('/v1/topics/{topic}/messages', 'post', res, body);
  const policyHeader = res.headers.get('ratelimit-policy') ?? '';
  assert.match(policyHeader, policy);
  const name = /^("[^"]+")/.exec(policyHeader)?.[1];
  const limit = /^("[^"]+");r=(\d+);t=(\d+)$/.exec(res.headers.get('ratelimit') ?? '');
  assert.ok(limit, `RateLimit: ${res.headers.get('ratelimit')}`);
  assert.equal(limit[1], name, 'RateLimit names the policy RateLimit-Policy describes');
  assert.equal(limit[2], '0');
  assert.equal(limit[3], res.headers.get('retry-after'), 'RateLimit t equals Retry-After');
  assert.ok(Number(limit[3]) >= 1);
}

describe('deploy/config/quotas.yaml: tenants small and big', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway(exampleConfig());
  });
  after(() => gw.stop());

  it('60 near-simultaneous publishes by small: most get 429 with agreeing headers', async () => {
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) => publish(gw.url, 'small-key', 'small.t', { i })),
    );
    const accepted = answers.filter((r) => r.status === 201);
    const throttled = answers.filter((r) => r.status === 429);
    // 10 per 1 s fixed window; a burst that straddles a window boundary may get 2 windows' worth.
    assert.ok(accepted.length >= 1 && accepted.length <= 20, `accepted ${accepted.length}`);
    assert.equal(
      accepted.length + throttled.length,
      60,
      `statuses ${answers.map((r) => r.status).join(',')}`,
    );
    assert.ok(throttled.length >= 40, `only ${throttled.length} throttled`);
    for (const res of throttled) await assertThrottled(res, /^"requests";q=10;w=1$/);
    await Promise.all(accepted.map((r) => r.arrayBuffer()));
  });

  it('60 simultaneous publishes by big all succeed', async () => {
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) => publish(gw.url, 'big-key', 'big.t', { i })),
    );
    assert.deepEqual(
      answers.map((r) => r.status),
      Array(60).fill(201),
    );
    await Promise.all(answers.map((r) => r.arrayBuffer()));
  });

  it('small publishing to big.t, or naming a tenant in a header, is 403', async () => {
    await new Promise((r) => setTimeout(r, 1100)); // a fresh window for small
    const foreign = await publish(gw.url, 'small-key', 'big.t');
    assert.equal(foreign.status, 403);
    assert.equal(((await foreign.json()) as { code: string }).code, 'GW_ERR_FORBIDDEN_TOPIC');
    for (const header of ['X-Tenant', 'X-Tenant-Id', 'Tenant']) {
      const spoofed = await fetch(`${gw.url}/v1/topics/small.t/messages`, {
        method: 'POST',
        headers: { ...auth('small-key'), 'content-type': 'application/json', [header]: 'big' },
        body: '{}',
      });
      assert.equal(spoofed.status, 403, header);
      assert.equal(((await spoofed.json()) as { code: string }).code, 'GW_ERR_TENANT_HEADER');
    }
  });

  it('exports per-tenant accepted, throttled and rejected requests and bytes', async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    const value = (line: string) =>
      Number(new RegExp(`^${line.replace(/[{}"]/g, '\\$&')} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
    assert.ok(value('pubgate_tenant_requests_total{tenant="small",outcome="throttled"}') >= 40);
    assert.ok(value('pubgate_tenant_requests_total{tenant="small",outcome="accepted"}') >= 1);
    assert.ok(value('pubgate_tenant_requests_total{tenant="small",outcome="rejected"}') >= 4);
    assert.equal(value('pubgate_tenant_requests_total{tenant="big",outcome="accepted"}'), 60);
    assert.ok(value('pubgate_tenant_bytes_total{tenant="big",outcome="accepted"}') >= 60 * 7);
    assert.ok(value('pubgate_tenant_bytes_total{tenant="small",outcome="throttled"}') > 0);
  });
});

describe('message and byte quotas count what the body holds', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway(
      embeddedConfig({
        tenants: {
          dev: { keys: ['dev-key'], topics: ['**'] },
          t: {
            keys: ['t-key'],
            topics: ['t.**'],
            quota: { messages: '5/30s', bytes: '2KB/30s' },
          },
          u: {
            keys: ['u-key'],
            topics: ['u.*'],
            quota: { rate: 100, topics: [{ topic: 'u.slow', rate: '1/30s' }] },
          },
        },
      }),
    );
  });
  after(() => gw.stop());

  function batch(count: number, topic = 't.batch') {
    return fetch(`${gw.url}/v1/topics/${topic}/messages/batch`, {
      method: 'POST',
      headers: { ...auth('t-key'), 'content-type': 'application/json' },
      body: JSON.stringify({ messages: Array.from({ length: count }, (_, i) => ({ value: { i } })) }),
    });
  }

  it('a batch counts each message; a refused batch stores nothing and uses no quota', async () => {
    assert.equal((await batch(3)).status, 201);
    const over = await batch(3);
    const body = (await over.json()) as { code: string };
    assert.equal(over.status, 429);
    assert.equal(body.code, 'GW_ERR_QUOTA_EXCEEDED');
    assert.match(over.headers.get('ratelimit-policy') ?? '', /^"messages";q=5;w=30$/);
    assert.equal((await batch(2)).status, 201, 'the refused batch used none of the quota');
    const page = (await (
      await fetch(`${gw.url}/v1/topics/t.batch/messages`, { headers: auth() })
    ).json()) as {
      messages: unknown[];
    };
    assert.equal(page.messages.length, 5);
  });

  it('a per-topic limit applies on top of the tenant quota', async () => {
    assert.equal((await publish(gw.url, 'u-key', 'u.slow')).status, 201);
    await assertThrottled(await publish(gw.url, 'u-key', 'u.slow'), /^"topic-requests";q=1;w=30$/);
    assert.equal((await publish(gw.url, 'u-key', 'u.fast')).status, 201);
  });
});

describe('bytes per window', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway(
      embeddedConfig({
        tenants: { b: { keys: ['b-key'], topics: ['**'], quota: { bytes: '1KiB/30s' } } },
      }),
    );
  });
  after(() => gw.stop());

  it('refuses the request that would pass the byte quota, with the bytes policy in the headers', async () => {
    assert.equal((await publish(gw.url, 'b-key', 'b.t', { pad: 'x'.repeat(600) })).status, 201);
    await assertThrottled(
      await publish(gw.url, 'b-key', 'b.t', { pad: 'x'.repeat(600) }),
      /^"bytes";q=1024;w=30$/,
    );
    assert.equal((await publish(gw.url, 'b-key', 'b.t', { pad: 'x'.repeat(300) })).status, 201);
  });
});
