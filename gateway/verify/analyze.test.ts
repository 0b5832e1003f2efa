import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ReadMessage } from '../../adapters/core/index.js';
import { NO_ID, analyzeDelivery, formatDeliveryReport } from './analyze.js';

function message(id: string, seq?: number, key?: string, producer = 'p1'): ReadMessage {
  return {
    id,
    tenant: 't',
    topic: 'orders',
    ...(key === undefined ? {} : { key }),
    contentType: 'application/json',
    headers: {},
    payload: new Uint8Array(),
    ...(seq === undefined ? {} : { seq, producer }),
  };
}

describe('analyzeDelivery', () => {
  it('reports nothing wrong for a complete, unique delivery', () => {
    const report = analyzeDelivery([message('a', 1), message('b', 2), message('c', 1, 'k')], ['a', 'b', 'c']);
    assert.equal(report.ok, true);
    assert.deepEqual(
      { received: report.received, distinct: report.distinct, gaps: report.gaps, lost: report.lost },
      { received: 3, distinct: 3, gaps: [], lost: [] },
    );
  });

  it('lists duplicates by id without failing', () => {
    const report = analyzeDelivery([message('a', 1), message('a', 1), message('b', 2)], ['a', 'b']);
    assert.deepEqual(report.duplicates, [{ id: 'a', count: 2 }]);
    assert.equal(report.ok, true);
  });

  it('finds gaps per (producer, tenant, topic, key) as ranges', () => {
    const report = analyzeDelivery([
      message('a', 1),
      message('b', 4),
      message('c', 7),
      message('d', 2, 'k'),
      message('e', 1, undefined, 'p2'),
    ]);
    assert.deepEqual(
      report.gaps.map((g) => [g.producer, g.key, g.missing, g.missingCount, g.highest]),
      [
        [
          'p1',
          '',
          [
            [2, 3],
            [5, 6],
          ],
          4,
          7,
        ],
        ['p1', 'k', [[1, 1]], 1, 2],
      ],
    );
    assert.equal(report.ok, true, 'gaps alone are not a verdict');
  });

  it('fails on lost and on unexpected ids, and on messages without an id', () => {
    const report = analyzeDelivery([message('a', 1), message('x', 2), message('', 3)], ['a', 'b']);
    assert.deepEqual(report.lost, ['b']);
    assert.deepEqual(report.unexpected, ['x', NO_ID]);
    assert.equal(report.withoutId, 1);
    assert.equal(report.ok, false);
    assert.match(formatDeliveryReport(report), /lost: 1 \(b\)[\s\S]*FAILED/);
  });

  it('accepts ids that may arrive (answered 503 or never answered) without expecting them', () => {
    const report = analyzeDelivery([message('a', 1), message('m', 2)], ['a', 'b'], { mayArrive: ['m', 'n'] });
    assert.deepEqual(report.unexpected, []);
    assert.deepEqual(report.lost, ['b']);
  });

  it('without an expected list judges only messages without an id', () => {
    assert.equal(analyzeDelivery([message('a', 1)]).ok, true);
    assert.equal(analyzeDelivery([message('', 1)]).ok, false);
  });
});
