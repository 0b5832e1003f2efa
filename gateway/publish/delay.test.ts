import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FIELD_NAMES, parseDuration, parseTimestamp, resolveDelay } from './delay.js';

const DAY = 86_400_000;

describe('delay parsing', () => {
  it('reads durations: ms, s, m, h, d; a bare number is seconds', () => {
    assert.equal(parseDuration('1500ms'), 1500);
    assert.equal(parseDuration('90s'), 90_000);
    assert.equal(parseDuration('2m'), 120_000);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('7d'), 7 * DAY);
    assert.equal(parseDuration('3'), 3_000);
    assert.equal(parseDuration('1.5'), 1_500);
    assert.equal(parseDuration(' 0 '), 0);
    assert.equal(parseDuration(2.5), 2_500);
    assert.equal(parseDuration('0.0001s'), 1, 'rounded up to a whole millisecond');
  });

  it('refuses what is not a duration', () => {
    for (const bad of [
      '',
      's',
      '-1',
      '-5s',
      '1w',
      '1 h',
      '1e3',
      '0x10',
      'NaN',
      'Infinity',
      '1s2',
      '1,5',
      '٣',
    ]) {
      assert.equal(parseDuration(bad), undefined, bad);
    }
    assert.equal(parseDuration(-1), undefined);
    assert.equal(parseDuration(Number.NaN), undefined);
    assert.equal(parseDuration('9999999999999999999d'), undefined);
  });

  it('reads RFC 3339 timestamps with Z or an offset, fractions kept to the millisecond', () => {
    assert.equal(parseTimestamp('2030-01-02T03:04:05Z'), Date.UTC(2030, 0, 2, 3, 4, 5));
    assert.equal(parseTimestamp('2030-01-02t03:04:05z'), Date.UTC(2030, 0, 2, 3, 4, 5));
    assert.equal(parseTimestamp('2030-01-02T05:04:05.250+02:00'), Date.UTC(2030, 0, 2, 3, 4, 5, 250));
    assert.equal(parseTimestamp('2030-01-01T23:30:00-01:30'), Date.UTC(2030, 0, 2, 1, 0, 0));
    assert.equal(parseTimestamp('2030-01-02T03:04:05.123456789Z'), Date.UTC(2030, 0, 2, 3, 4, 5, 123));
    assert.equal(parseTimestamp('2028-02-29T00:00:00Z'), Date.UTC(2028, 1, 29));
  });

  it('refuses timestamps that are not RFC 3339 date-times', () => {
    for (const bad of [
      '2030-01-02',
      '2030-01-02T03:04:05', // no offset
      '2030-01-02 03:04:05Z', // RFC 3339 allows a space by agreement only; not here
      '2030-02-30T00:00:00Z',
      '2029-02-29T00:00:00Z',
      '2030-13-01T00:00:00Z',
      '2030-01-01T24:00:00Z',
      '2030-01-01T00:60:00Z',
      '2030-01-01T00:00:00+24:00',
      'Tue, 01 Jan 2030 00:00:00 GMT',
      '1893456000',
      '',
    ]) {
      assert.equal(parseTimestamp(bad), undefined, bad);
    }
  });

  it('resolves a due time: none, future, past (no delay), both (400), beyond maxDelay (400)', () => {
    const now = Date.UTC(2030, 0, 1);
    assert.deepEqual(resolveDelay({}, now, DAY), {});
    assert.deepEqual(resolveDelay({ after: '3s' }, now, DAY), { deliverAt: now + 3_000 });
    assert.deepEqual(resolveDelay({ after: '0' }, now, DAY), {});
    assert.deepEqual(resolveDelay({ at: '2030-01-01T00:00:10Z' }, now, DAY), { deliverAt: now + 10_000 });
    assert.deepEqual(resolveDelay({ at: '2029-12-31T00:00:00Z' }, now, DAY), {}, 'the past means no delay');
    assert.deepEqual(
      resolveDelay({ after: '1d' }, now, DAY),
      { deliverAt: now + DAY },
      'maxDelay itself is fine',
    );

    const codes = (input: Parameters<typeof resolveDelay>[0]) => {
      const out = resolveDelay(input, now, DAY, FIELD_NAMES);
      return 'error' in out ? [out.error.code, out.error.status, out.error.message] : out;
    };
    const both = codes({ after: '1s', at: '2030-01-01T00:00:10Z' }) as unknown[];
    assert.deepEqual(both.slice(0, 2), ['GW_ERR_INVALID_DELAY', 400]);
    assert.match(String(both[2]), /deliverAfter or deliverAt, not both/);
    assert.equal((codes({ after: '25h' }) as unknown[])[0], 'GW_ERR_INVALID_DELAY');
    assert.equal((codes({ at: '2030-01-03T00:00:00Z' }) as unknown[])[0], 'GW_ERR_INVALID_DELAY');
    assert.equal((codes({ after: 'soon' }) as unknown[])[0], 'GW_ERR_INVALID_DELAY');
    assert.equal((codes({ at: 'tomorrow' }) as unknown[])[0], 'GW_ERR_INVALID_DELAY');
  });
});
