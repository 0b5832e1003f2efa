import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configSchema } from '../config/schema.js';
import { degradableTargets } from './system-routes.js';

function config(routes: unknown[]) {
  return configSchema.parse({
    brokers: {
      a: { kind: 'embedded', dir: './a' },
      b: { kind: 'embedded', dir: './b' },
      c: { kind: 'embedded', dir: './c' },
    },
    routes,
    tenants: { t: { keys: ['k'], topics: ['**'] } },
  });
}

describe('readiness: which targets may be down without making the gateway unready', () => {
  it('a target behind spooling or failing-over routes only', () => {
    const degradable = degradableTargets(
      config([
        { topic: 'spool.**', target: 'a', degrade: 'spool' },
        { topic: 'fo.**', failover: ['b', 'c'], degrade: 'failover' },
      ]),
    );
    assert.deepEqual([...degradable].sort(), ['a', 'b', 'c']);
  });

  it('not a target any route would answer 503 for', () => {
    const degradable = degradableTargets(
      config([
        { topic: 'spool.**', target: 'a', degrade: 'spool' },
        { topic: 'strict.**', target: 'a' },
        { topic: 'other.**', target: 'b', degrade: 'spool' },
      ]),
    );
    assert.deepEqual([...degradable], ['b']);
  });

  it("a mirror's secondary, whose copies never decide an answer", () => {
    const degradable = degradableTargets(
      config([{ topic: '**', mirror: { primary: 'a', secondaries: ['b'] } }]),
    );
    assert.deepEqual([...degradable], ['b']);
  });
});
