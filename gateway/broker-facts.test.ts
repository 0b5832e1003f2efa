import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ADAPTER_KINDS } from '../adapters/registry.js';
import type { PublishContext } from '../policies/core/index.js';
import { createTopicAclPolicy } from '../policies/acl/index.js';
import { BROKER_FACTS, brokerFacts, isReservedTopic, type DeclaringKind } from './broker-facts.js';
import { DEFAULT_LIMITS } from './config/schema.js';
import { checkHeaders, createHeaderCheck } from './publish/validation.js';

const limits = DEFAULT_LIMITS;

const ctx = (topic: string): PublishContext => ({
  requestId: 'r',
  operation: 'publish',
  topic,
  headerNames: [],
  principal: { tenant: 'all', method: 'api-key' },
});

/** The registered kinds, as broker-facts reads them. */
const REGISTERED: readonly DeclaringKind[] = ADAPTER_KINDS;

/** A broker the registry does not know, declared the way an adapter folder would declare it. */
const FAKE: DeclaringKind = {
  kind: 'fakemq',
  declarations: {
    reservedTopics: {
      description: 'FakeMQ keeps its system topics',
      prefixes: ['fake_sys.'],
      names: ['FAKE_ADMIN'],
      patterns: [/^q\d+$/],
    },
    reservedHeaders: {
      description: "FakeMQ's routing headers",
      names: ['Fake-Route'],
      prefixes: ['fake-x-'],
    },
    receipt: { offset: 'Where FakeMQ keeps it.' },
    readerOptions: { group: 'FakeMQ subscription.' },
  },
};

describe('broker facts', () => {
  it("refuses every registered kind's reserved topics, whatever the grants", async () => {
    const policy = createTopicAclPolicy({
      tenants: { all: { topics: ['**'] } },
      reservedTopic: BROKER_FACTS.reservedTopic,
    });
    for (const { kind, declarations } of REGISTERED) {
      const reserved = declarations.reservedTopics;
      if (reserved === undefined) continue;
      const topics = [
        ...(reserved.names ?? []),
        ...(reserved.prefixes ?? []).flatMap((prefix) => [`${prefix}x`, `${prefix.toLowerCase()}x`]),
      ];
      assert.ok(topics.length > 0, kind);
      for (const topic of topics) {
        assert.equal(isReservedTopic(topic), true, `${kind}: ${topic}`);
        const outcome = await policy.evaluate(ctx(topic));
        assert.equal(!outcome.ok && outcome.rejection.reason, 'reserved-topic', `${kind}: ${topic}`);
      }
    }
    assert.equal(isReservedTopic('orders.created'), false);
    assert.equal((await policy.evaluate(ctx('orders.created'))).ok, true);
  });

  it("refuses every registered kind's reserved headers, in any case, and the gateway's own", () => {
    for (const { kind, declarations } of REGISTERED) {
      const reserved = declarations.reservedHeaders;
      if (reserved === undefined) continue;
      const names = [...reserved.names, ...(reserved.prefixes ?? []).map((prefix) => `${prefix}x`)];
      for (const name of names.flatMap((n) => [n, n.toLowerCase(), n.toUpperCase()])) {
        const result = checkHeaders({ [name]: 'v' }, limits);
        assert.ok('error' in result && result.error.code === 'GW_ERR_INVALID_HEADER', `${kind}: ${name}`);
      }
    }
    for (const name of ['pubgate-id', 'pubgate-anything', 'content-type', 'Content-Length']) {
      const result = checkHeaders({ [name]: 'v' }, limits);
      assert.ok('error' in result && /reserved by the gateway/.test(result.error.message), name);
    }
    assert.deepEqual(checkHeaders({ 'ce-type': 'v' }, limits), { headers: { 'ce-type': 'v' } });
  });

  it("refuses a new kind's declared topics and headers without a change to shared code", async () => {
    const facts = brokerFacts([...REGISTERED, FAKE]);
    const policy = createTopicAclPolicy({
      tenants: { all: { topics: ['**'] } },
      reservedTopic: facts.reservedTopic,
    });
    for (const topic of ['fake_sys.x', 'FAKE_SYS.x', 'FAKE_ADMIN', 'q42']) {
      const outcome = await policy.evaluate(ctx(topic));
      assert.equal(!outcome.ok && outcome.rejection.reason, 'reserved-topic', topic);
      assert.match(!outcome.ok ? outcome.rejection.detail : '', /FakeMQ keeps its system topics/);
      // Only the kinds given count: the registered ones alone do not reserve it.
      assert.equal(BROKER_FACTS.reservedTopic(topic), undefined, topic);
    }
    // Names are exact, patterns test the whole topic.
    assert.equal((await policy.evaluate(ctx('fake_admin'))).ok, true);
    assert.equal((await policy.evaluate(ctx('q42.x'))).ok, true);

    const check = createHeaderCheck(facts.reservedHeader);
    for (const name of ['fake-route', 'FAKE-ROUTE', 'fake-x-priority']) {
      const result = check({ [name]: 'v' }, limits);
      assert.ok('error' in result, name);
      assert.equal(result.error.code, 'GW_ERR_INVALID_HEADER');
      assert.match(result.error.message, /reserved by a broker: FakeMQ's routing headers/);
      assert.ok('headers' in checkHeaders({ [name]: 'v' }, limits), name);
    }
    assert.deepEqual(check({ 'fake-y': 'v' }, limits), { headers: { 'fake-y': 'v' } });

    // The registered kinds' names stay refused next to the new kind's.
    for (const { declarations } of REGISTERED) {
      const reserved = declarations.reservedTopics;
      for (const name of reserved?.names ?? []) assert.notEqual(facts.reservedTopic(name), undefined);
    }

    assert.deepEqual(facts.receiptFields.get('offset')?.at(-1), {
      kind: 'fakemq',
      description: 'Where FakeMQ keeps it.',
    });
    assert.deepEqual(facts.readerOptions('fakemq'), { group: 'FakeMQ subscription.' });
    assert.equal(facts.readerOptions('no-such-kind'), undefined);
    assert.deepEqual(facts.kinds.at(-1), 'fakemq');
  });

  it('lists the receipt fields each registered kind declares', () => {
    for (const { kind, declarations } of REGISTERED) {
      for (const [field, description] of Object.entries(declarations.receipt)) {
        const fillers = BROKER_FACTS.receiptFields.get(field as 'offset') ?? [];
        assert.ok(
          fillers.some((entry) => entry.kind === kind && entry.description === description),
          `${kind}.${field}`,
        );
      }
    }
  });
});
