import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { embeddedConfigSchema } from './config.js';

describe('embedded config', () => {
  it('fills every default', () => {
    assert.deepEqual(embeddedConfigSchema.parse({ kind: 'embedded' }), {
      kind: 'embedded',
      dir: './data',
      maxMessageBytes: 1024 * 1024,
      groupCommitMaxMessages: 1000,
      retention: {},
    });
  });

  it('rejects unknown keys, including a `synchronous` knob (durability is not configurable)', () => {
    assert.equal(embeddedConfigSchema.safeParse({ kind: 'embedded', synchronous: 'normal' }).success, false);
    assert.equal(
      embeddedConfigSchema.safeParse({ kind: 'embedded', retention: { maxCount: 1 } }).success,
      false,
    );
  });

  it('rejects bad values loudly', () => {
    for (const bad of [
      { dir: '' },
      { maxMessageBytes: 0 },
      { maxMessageBytes: 65 * 1024 * 1024 },
      { groupCommitMaxMessages: 0 },
      { groupCommitMaxMessages: 1.5 },
      { retention: { maxAgeMs: -1 } },
      { retention: { maxMessagesPerTopic: 0 } },
    ]) {
      assert.equal(
        embeddedConfigSchema.safeParse({ kind: 'embedded', ...bad }).success,
        false,
        JSON.stringify(bad),
      );
    }
  });

  it('documents every option with its default', () => {
    const shape = embeddedConfigSchema.shape;
    for (const name of ['dir', 'maxMessageBytes', 'groupCommitMaxMessages', 'retention'] as const) {
      assert.match(shape[name].description ?? '', /Default: /, name);
    }
    const retention = shape.retention.unwrap().shape;
    for (const name of ['maxMessagesPerTopic', 'maxAgeMs'] as const) {
      assert.match(retention[name].description ?? '', /Default: /, name);
    }
  });
});
