/** Media type handling: which types a route accepts, and which must be checked to be JSON. */

export interface MediaType {
  /** Lower-case `type/subtype`, without parameters. */
  readonly essence: string;
  /** The header as given (parameters kept), stored with the message. */
  readonly full: string;
}

export function parseMediaType(header: string | undefined): MediaType | undefined {
  if (header === undefined) return undefined;
  const essence = header.split(';', 1)[0]!.trim().toLowerCase();
  if (!/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(essence)) return undefined;
  return { essence, full: header.trim() };
}

export function isJsonMediaType(essence: string): boolean {
  return essence === 'application/json' || essence.endsWith('+json');
}

/** `*` in an accepted pattern matches any run of characters: `text/*`, `application/*+json`, `*\/*`. */
export function acceptsMediaType(accepted: readonly string[], essence: string): boolean {
  return accepted.some((pattern) => matcherOf(pattern)(essence));
}

/** Compiled once per configured pattern (a config holds few), not once per request. */
const matchers = new Map<string, (essence: string) => boolean>();

function matcherOf(pattern: string): (essence: string) => boolean {
  let matcher = matchers.get(pattern);
  if (!matcher) {
    const p = pattern.toLowerCase();
    if (p.includes('*')) {
      const regex = new RegExp(`^${p.split('*').map(escapeRegex).join('.*')}$`);
      matcher = (essence) => regex.test(essence);
    } else matcher = (essence) => essence === p;
    matchers.set(pattern, matcher);
  }
  return matcher;
}

function escapeRegex(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\/]/g, '\\$&');
}
