/** Probes, metrics, the OpenAPI document and the error registry. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GATEWAY_ERRORS, GATEWAY_ERROR_CODES } from '../../gateway/errors/registry.js';
import { DOCUMENTED_ERROR_CODES, openApiDocument } from '../../openapi/index.js';
import { auth, startGateway, type TestGateway } from '../support/gateway.js';
import { assertDocumented } from '../support/openapi.js';

describe('system endpoints', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway();
  });
  after(async () => {
    await gw.stop();
  });

  it('GET /livez and /readyz answer 200 with the target health', async () => {
    const live = await fetch(`${gw.url}/livez`);
    assert.equal(live.status, 200);
    const ready = await fetch(`${gw.url}/readyz`);
    const body = (await ready.json()) as {
      status: string;
      targets: Record<string, { ok: boolean; kind: string }>;
    };
    assert.equal(ready.status, 200);
    assertDocumented('/readyz', 'get', ready, body);
    assert.equal(body.status, 'ready');
    assert.deepEqual(Object.keys(body.targets), ['local']);
    assert.equal(body.targets.local?.ok, true);
    assert.equal(body.targets.local?.kind, 'embedded');
  });

  it('GET /openapi.json is OpenAPI 3.1 with the publish paths', async () => {
    const res = await fetch(`${gw.url}/openapi.json`);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    assert.equal(res.status, 200);
    assert.match(doc.openapi, /^3\.1\./);
    assert.ok(doc.paths['/v1/topics/{topic}/messages']?.post);
    assert.ok(doc.paths['/v1/topics/{topic}/messages']?.get);
    assert.ok(doc.paths['/v1/topics/{topic}/messages/batch']?.post);
  });

  it('GET /metrics is Prometheus text and counts publishes by target and outcome', async () => {
    const publish = await fetch(`${gw.url}/v1/topics/metrics.check/messages`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(publish.status, 201);
    await fetch(`${gw.url}/v1/topics/metrics.check/messages`, { method: 'POST', body: '{}' });
    const res = await fetch(`${gw.url}/metrics`);
    const text = await res.text();
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    assert.match(text, /pubgate_publish_messages_total\{target="local",outcome="confirmed"\} 1/);
    assert.match(
      text,
      /pubgate_http_requests_total\{route="\/v1\/topics\/:topic\/messages",method="POST",status="201"\} 1/,
    );
    assert.match(
      text,
      /pubgate_rejected_requests_total\{tenant="anonymous",code="GW_ERR_UNAUTHENTICATED"\} 1/,
    );
    assert.match(text, /pubgate_target_up\{target="local",kind="embedded"\} 1/);
    assert.match(text, /pubgate_process_resident_memory_bytes \d+/);
  });

  it('echoes a well-formed X-Request-Id and replaces a malformed one', async () => {
    const kept = await fetch(`${gw.url}/livez`, { headers: { 'x-request-id': 'trace-abc.123' } });
    assert.equal(kept.headers.get('x-request-id'), 'trace-abc.123');
    const replaced = await fetch(`${gw.url}/livez`, { headers: { 'x-request-id': 'bad id with spaces' } });
    assert.notEqual(replaced.headers.get('x-request-id'), 'bad id with spaces');
    assert.match(replaced.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
  });
});

describe('error registry and OpenAPI document agree', () => {
  it('documents every registry code under the status the registry gives it', () => {
    for (const code of GATEWAY_ERROR_CODES) {
      const status = String(GATEWAY_ERRORS[code].status);
      assert.ok(
        DOCUMENTED_ERROR_CODES[status]?.includes(code),
        `${code} (${status}) is not documented in openapi/`,
      );
    }
  });

  it('documents no code the registry does not have', () => {
    const known = new Set<string>(GATEWAY_ERROR_CODES);
    for (const codes of Object.values(DOCUMENTED_ERROR_CODES)) {
      for (const code of codes) assert.ok(known.has(code), `openapi/ documents unknown code ${code}`);
    }
  });

  it('every documented error status has a problem response in the components', () => {
    const doc = openApiDocument();
    for (const status of Object.keys(DOCUMENTED_ERROR_CODES)) {
      assert.ok(doc.components?.responses?.[`Problem${status}`], `no Problem${status} response`);
    }
  });
});
