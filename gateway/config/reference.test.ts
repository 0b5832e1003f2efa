import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { currentConfigReference, renderConfigReference } from './reference.js';

describe('configuration reference', () => {
  it("the README's reference is generated from the current schema", () => {
    assert.equal(
      currentConfigReference(),
      renderConfigReference(),
      'run: npx tsx gateway/config/reference.ts --write',
    );
  });

  it('lists every top-level section and every adapter kind', () => {
    const text = renderConfigReference();
    for (const section of ['server', 'log', 'limits', 'brokers', 'routes', 'tenants']) {
      assert.match(text, new RegExp(`### \`${section}\``));
    }
    assert.match(text, /`server.publishTimeoutMs` \| integer \| `10000`/);
    assert.match(text, /#### `kind: embedded`/);
  });
});
