/**
 * Delayed delivery: reading when a message is due from a request.
 *
 * - `Deliver-After` / batch `deliverAfter`: a duration — a number with an optional unit, `ms`, `s`,
 *   `m`, `h` or `d` (`1500ms`, `90s`, `2m`, `1h`); a bare number is seconds. Never negative.
 * - `Deliver-At` / batch `deliverAt`: an RFC 3339 timestamp with its offset
 *   (`2030-01-02T03:04:05Z`, `2030-01-02T05:04:05.250+02:00`).
 *
 * Both at once, anything else, or a due time beyond the route's `maxDelay` is refused (400
 * GW_ERR_INVALID_DELAY). A due time that is not in the future means no delay.
 */
import { GatewayError } from '../errors/registry.js';

const DURATION = /^(\d{1,15}(?:\.\d{1,9})?)(ms|s|m|h|d)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration in milliseconds (rounded up to a whole one), or undefined when it is not one. */
export function parseDuration(text: string | number): number | undefined {
  if (typeof text === 'number') {
    return Number.isFinite(text) && text >= 0 ? Math.ceil(text * 1_000) : undefined;
  }
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  const ms = Number(match[1]) * UNIT_MS[match[2] ?? 's']!;
  return Number.isSafeInteger(Math.ceil(ms)) ? Math.ceil(ms) : undefined;
}

const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** An RFC 3339 date-time (with `Z` or an offset) as epoch milliseconds, or undefined. */
export function parseTimestamp(text: string): number | undefined {
  const m = TIMESTAMP.exec(text.trim());
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth) return undefined;
  // 60: a leap second (RFC 3339 allows it); it counts as the next minute's first.
  if (hour > 23 || minute > 59 || second > 60) return undefined;
  let offsetMinutes = 0;
  if (m[9] !== undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return undefined;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const fraction = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1_000);
  const utc = Date.UTC(year, month - 1, day, hour, minute, second, fraction) - offsetMinutes * 60_000;
  return Number.isFinite(utc) ? utc : undefined;
}

export interface DelayInput {
  /** `Deliver-After` / `deliverAfter`, as given. */
  readonly after?: string | number | undefined;
  /** `Deliver-At` / `deliverAt`, as given. */
  readonly at?: string | undefined;
}

/** The names the caller used, for error messages (`Deliver-After` or `deliverAfter`…). */
export interface DelayNames {
  readonly after: string;
  readonly at: string;
}

export const HEADER_NAMES: DelayNames = { after: 'Deliver-After', at: 'Deliver-At' };
export const FIELD_NAMES: DelayNames = { after: 'deliverAfter', at: 'deliverAt' };

/**
 * When the message is due (epoch ms), or undefined for no delay (nothing asked, or a due time not
 * in the future); a GatewayError (400 GW_ERR_INVALID_DELAY) when the request is invalid.
 */
export function resolveDelay(
  input: DelayInput,
  now: number,
  maxDelayMs: number,
  names: DelayNames = HEADER_NAMES,
): { deliverAt?: number } | { error: GatewayError } {
  const invalid = (detail: string) => ({ error: new GatewayError('GW_ERR_INVALID_DELAY', detail) });
  if (input.after !== undefined && input.at !== undefined) {
    return invalid(`give ${names.after} or ${names.at}, not both`);
  }
  let deliverAt: number;
  if (input.after !== undefined) {
    const ms = parseDuration(input.after);
    if (ms === undefined) {
      return invalid(
        `${names.after} must be a duration such as 1500ms, 90s, 2m, 1h or a number of seconds (got ${JSON.stringify(input.after)})`,
      );
    }
    if (ms > maxDelayMs) return invalid(`${names.after} is beyond this route's maxDelay (${maxDelayMs} ms)`);
    deliverAt = now + ms;
  } else if (input.at !== undefined) {
    const at = parseTimestamp(input.at);
    if (at === undefined) {
      return invalid(
        `${names.at} must be an RFC 3339 timestamp with an offset, such as 2030-01-02T03:04:05Z (got ${JSON.stringify(input.at)})`,
      );
    }
    if (at - now > maxDelayMs)
      return invalid(`${names.at} is beyond this route's maxDelay (${maxDelayMs} ms)`);
    deliverAt = at;
  } else {
    return {};
  }
  return deliverAt > now ? { deliverAt } : {};
}
