/**
 * Loss detection, reader side: compares what a real consumer read back from a destination with
 * what was expected, and with the gateway's sequence numbers (pubgate-seq per producer, tenant,
 * topic and key; see adapters/reliability/sequence.ts).
 *
 * - duplicates: the same id delivered more than once. Allowed (the golden rule lets a retry after an
 *   ambiguous failure deliver twice, with the same id); listed so they can be looked at.
 * - gaps: sequence numbers missing in a series. A gap is a lost message OR a request that was
 *   refused after its number was taken (4xx, 503: nothing kept), so gaps are reported, not judged.
 * - lost: expected ids never received (only with an expected list). Must be empty.
 * - unexpected: ids received that were not expected, and messages without a pubgate id (nothing a
 *   gateway published). Must be empty.
 */
import type { ReadMessage } from '../../adapters/core/index.js';

export interface SequenceGap {
  readonly producer: string;
  readonly tenant: string;
  readonly topic: string;
  /** '' for keyless messages. */
  readonly key: string;
  /** Highest number seen in the series. */
  readonly highest: number;
  /** Missing numbers below `highest`, as inclusive ranges [from, to]. */
  readonly missing: readonly (readonly [number, number])[];
  readonly missingCount: number;
}

export interface DeliveryReport {
  /** Deliveries read, redeliveries included. */
  readonly received: number;
  /** Distinct message ids read. */
  readonly distinct: number;
  readonly duplicates: readonly { readonly id: string; readonly count: number }[];
  readonly gaps: readonly SequenceGap[];
  /** Present when an expected list was given. */
  readonly expected?: number;
  readonly lost: readonly string[];
  readonly unexpected: readonly string[];
  /** Deliveries without a pubgate id (also counted in `unexpected` as '(no pubgate-id)'). */
  readonly withoutId: number;
  /** Deliveries without a sequence number (published by a gateway that does not stamp one). */
  readonly withoutSeq: number;
  /** lost and unexpected are both empty. */
  readonly ok: boolean;
}

export const NO_ID = '(no pubgate-id)';

export interface AnalyzeOptions {
  /**
   * Ids that may arrive without being expected: e.g. requests answered 503 or never answered (the
   * broker may have the message). Without it, every received id not expected is unexpected.
   */
  readonly mayArrive?: Iterable<string>;
}

export function analyzeDelivery(
  messages: readonly ReadMessage[],
  expected?: Iterable<string>,
  options: AnalyzeOptions = {},
): DeliveryReport {
  const counts = new Map<string, number>();
  const series = new Map<
    string,
    { producer: string; tenant: string; topic: string; key: string; seqs: Set<number> }
  >();
  let withoutId = 0;
  let withoutSeq = 0;
  for (const message of messages) {
    if (message.id === '') {
      withoutId += 1;
      continue;
    }
    counts.set(message.id, (counts.get(message.id) ?? 0) + 1);
    if (message.seq === undefined || message.producer === undefined) {
      withoutSeq += 1;
      continue;
    }
    const key = message.key ?? '';
    const name = JSON.stringify([message.producer, message.tenant, message.topic, key]);
    let entry = series.get(name);
    if (!entry) {
      entry = {
        producer: message.producer,
        tenant: message.tenant,
        topic: message.topic,
        key,
        seqs: new Set(),
      };
      series.set(name, entry);
    }
    entry.seqs.add(message.seq);
  }

  const gaps: SequenceGap[] = [];
  for (const entry of series.values()) {
    const sorted = [...entry.seqs].sort((a, b) => a - b);
    const missing: [number, number][] = [];
    let missingCount = 0;
    let previous = 0;
    for (const seq of sorted) {
      if (seq > previous + 1) {
        missing.push([previous + 1, seq - 1]);
        missingCount += seq - 1 - previous;
      }
      previous = seq;
    }
    if (missingCount > 0) {
      const { producer, tenant, topic, key } = entry;
      gaps.push({ producer, tenant, topic, key, highest: previous, missing, missingCount });
    }
  }

  const duplicates = [...counts].filter(([, count]) => count > 1).map(([id, count]) => ({ id, count }));
  let lost: string[] = [];
  let unexpected: string[] = [];
  let expectedCount: number | undefined;
  if (expected !== undefined) {
    const wanted = new Set(expected);
    expectedCount = wanted.size;
    lost = [...wanted].filter((id) => !counts.has(id));
    const allowed = new Set(options.mayArrive ?? []);
    unexpected = [...counts.keys()].filter((id) => !wanted.has(id) && !allowed.has(id));
  }
  if (withoutId > 0) unexpected.push(NO_ID);

  return {
    received: messages.length,
    distinct: counts.size,
    duplicates,
    gaps,
    ...(expectedCount === undefined ? {} : { expected: expectedCount }),
    lost,
    unexpected,
    withoutId,
    withoutSeq,
    ok: lost.length === 0 && unexpected.length === 0,
  };
}

/** A short human-readable report; lists are cut to `maxListed` entries each. */
export function formatDeliveryReport(report: DeliveryReport, maxListed = 20): string {
  const list = (items: readonly string[]) =>
    items.length <= maxListed
      ? items.join(', ')
      : `${items.slice(0, maxListed).join(', ')}, ... (${items.length - maxListed} more)`;
  const lines = [
    `received ${report.received} deliveries, ${report.distinct} distinct ids` +
      (report.expected === undefined ? '' : `, ${report.expected} expected`),
    `duplicates: ${report.duplicates.length}${report.duplicates.length ? ` (${list(report.duplicates.map((d) => `${d.id} x${d.count}`))})` : ''}`,
    `gaps: ${report.gaps.length} series with missing sequence numbers`,
    ...report.gaps
      .slice(0, maxListed)
      .map(
        (gap) =>
          `  producer ${gap.producer} tenant ${gap.tenant} topic ${gap.topic} key "${gap.key}": ` +
          `${gap.missingCount} missing below ${gap.highest} (${list(gap.missing.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)))})`,
      ),
    `lost: ${report.lost.length}${report.lost.length ? ` (${list(report.lost)})` : ''}`,
    `unexpected: ${report.unexpected.length}${report.unexpected.length ? ` (${list(report.unexpected)})` : ''}`,
  ];
  if (report.withoutSeq > 0) lines.push(`messages without a sequence number: ${report.withoutSeq}`);
  lines.push(report.ok ? 'OK: nothing lost, nothing unexpected' : 'FAILED: lost or unexpected messages');
  return lines.join('\n');
}
