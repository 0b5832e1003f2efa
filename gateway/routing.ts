/**
 * Topic → route → broker target. Routes are tried in config order; the first whose pattern matches
 * the topic wins. The destination template maps the logical topic onto the broker's name for it.
 */
import { compileTopicPattern } from '../policies/acl/index.js';
import type { RouteConfig } from './config/schema.js';

export interface ResolvedRoute {
  readonly route: RouteConfig;
  /** Position in the `routes:` list, for logs. */
  readonly index: number;
  readonly target: string;
  readonly destination: string;
}

export interface Router {
  resolve(topic: string): ResolvedRoute | undefined;
}

export function createRouter(routes: readonly RouteConfig[]): Router {
  const compiled = routes.map((route, index) => ({
    route,
    index,
    matcher: compileTopicPattern(route.topic),
  }));
  return {
    resolve(topic) {
      for (const { route, index, matcher } of compiled) {
        const captures = matcher.match(topic);
        if (captures === undefined) continue;
        const destination =
          route.destination === undefined ? topic : renderDestination(route.destination, topic, captures);
        return { route, index, target: route.target, destination };
      }
      return undefined;
    },
  };
}

function renderDestination(template: string, topic: string, captures: readonly string[]): string {
  return template.replace(/\{(topic|\d+)\}/g, (_whole, name: string) =>
    name === 'topic' ? topic : (captures[Number(name) - 1] ?? ''),
  );
}
