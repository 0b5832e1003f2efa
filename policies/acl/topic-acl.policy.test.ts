import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PublishContext } from '../core/index.js';
import { compileTopicPattern } from './topic-pattern.js';
import { createTopicAclPolicy } from './topic-acl.policy.js';
// The reserved names the gateway passes in: the union of what every registered adapter declares.
import { BROKER_FACTS, isReservedTopic } from '../../gateway/broker-facts.js';

const reservedTopic = BROKER_FACTS.reservedTopic;

describe('topic patterns', () => {
  it('* matches one segment, ** one or more, the rest literally', () => {
    const one = compileTopicPattern('orders.*');
    assert.deepEqual(one.match('orders.created'), ['created']);
    assert.equal(one.match('orders.eu.created'), undefined);
    assert.equal(one.match('orders'), undefined);
    const any = compileTopicPattern('orders.**');
    assert.deepEqual(any.match('orders.eu.created'), ['eu.created']);
    assert.equal(compileTopicPattern('**').match('a.b.c')?.length, 1);
    assert.equal(compileTopicPattern('a-b').match('a-b')?.length, 0);
    assert.equal(compileTopicPattern('a-b').match('aXb'), undefined);
  });
});

describe('topic ACL', () => {
  const policy = createTopicAclPolicy({
    tenants: { small: { topics: ['small.*'] }, big: { topics: ['big.**'] } },
    reservedTopic,
  });
  const ctx = (tenant: string, topic: string, headerNames: string[] = []): PublishContext => ({
    requestId: 'r',
    operation: 'publish',
    topic,
    headerNames,
    principal: { tenant, method: 'api-key' },
  });

  it('allows granted topics and refuses others', async () => {
    assert.equal((await policy.evaluate(ctx('small', 'small.t'))).ok, true);
    assert.equal((await policy.evaluate(ctx('big', 'big.a.b'))).ok, true);
    const denied = await policy.evaluate(ctx('small', 'big.t'));
    assert.equal(denied.ok, false);
    if (!denied.ok) assert.equal(denied.rejection.reason, 'forbidden-topic');
  });

  it('refuses broker-internal names whatever the grants', async () => {
    for (const topic of ['__consumer_offsets', 'amq.gen-1', 'RMQ_SYS_TRACE', '%DLQ%g', '%RETRY%g']) {
      assert.equal(isReservedTopic(topic), true, topic);
    }
    const outcome = await createTopicAclPolicy({
      tenants: { all: { topics: ['**'] } },
      reservedTopic,
    }).evaluate(ctx('all', '__consumer_offsets'));
    assert.equal(!outcome.ok && outcome.rejection.reason, 'reserved-topic');
  });

  it('refuses a header that tries to choose the tenant', async () => {
    const outcome = await policy.evaluate(ctx('small', 'small.t', ['x-tenant']));
    assert.equal(!outcome.ok && outcome.rejection.reason, 'tenant-header');
  });
});
