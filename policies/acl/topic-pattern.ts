/**
 * Topic patterns shared by routes and grants: dot-separated segments, where `*` matches exactly
 * one segment and `**` matches one or more segments. Everything else matches literally.
 */
export interface TopicMatcher {
  readonly pattern: string;
  /** Returns the segments matched by wildcards (for destination templates), or undefined. */
  match(topic: string): string[] | undefined;
}

/** A valid pattern: dot-separated segments of [A-Za-z0-9_-], `*` or `**`. */
export const TOPIC_PATTERN_SYNTAX = /^(\*\*|\*|[A-Za-z0-9_-]+)(\.(\*\*|\*|[A-Za-z0-9_-]+))*$/;

export function compileTopicPattern(pattern: string): TopicMatcher {
  const source = pattern
    .split('.')
    .map((segment) => {
      if (segment === '**') return '(.+)';
      if (segment === '*') return '([^.]+)';
      return segment.replace(/[-]/g, '\\-');
    })
    .join('\\.');
  const regex = new RegExp(`^${source}$`);
  return {
    pattern,
    match(topic) {
      const found = regex.exec(topic);
      return found ? found.slice(1) : undefined;
    },
  };
}
