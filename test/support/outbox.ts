/** Outbox test helpers shared by the SQLite and PostgreSQL outbox suites. */
import type { ClaimedRow, Settlement } from '../../adapters/reliability/outbox/outbox.js';

/** Settlements confirming every claimed row, as a relay sends them once the broker confirmed. */
export function confirmAll(rows: readonly ClaimedRow[], broker = 'x'): Settlement[] {
  return rows.map((row) => ({
    seq: row.seq,
    kind: 'confirmed',
    attempts: 1,
    receipt: { messageId: row.envelope.id, broker, target: row.target },
  }));
}
