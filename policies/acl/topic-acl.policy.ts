import { PASS, reject, type Policy } from '../core/index.js';
import { compileTopicPattern, type TopicMatcher } from './topic-pattern.js';

export interface TopicAclConfig {
  /**
   * tenant name → topic patterns it may publish to and read, and an optional namespace: a prefix
   * segment put in front of every topic the tenant names (grants are written without it).
   */
  readonly tenants: Readonly<
    Record<string, { readonly topics: readonly string[]; readonly namespace?: string | undefined }>
  >;
  /**
   * Broker-internal names no tenant may use, whatever its grants: returns why the topic is
   * reserved, or undefined when it is not. The gateway passes the union of what every registered
   * adapter kind declares (gateway/broker-facts.ts).
   */
  readonly reservedTopic: (topic: string) => string | undefined;
}

/** Headers that try to choose the tenant. The tenant always comes from the credential. */
const TENANT_HEADERS = [
  'x-tenant',
  'x-tenant-id',
  'tenant',
  'tenant-id',
  'x-pubgate-tenant',
  'pubgate-tenant',
];

/**
 * Refuses reserved topics, tenant-choosing headers, and topics outside the tenant's grants: the
 * configured patterns plus any the credential itself grants (JWT scopes or claims; the issuer is
 * trusted to grant them). With a namespace, the tenant names topics relative to it, grants match
 * that relative name, and context.topic becomes `<namespace>.<topic>` for routing and the broker.
 */
export function createTopicAclPolicy(config: TopicAclConfig): Policy {
  const grants = new Map<string, TopicMatcher[]>(
    Object.entries(config.tenants).map(([tenant, { topics }]) => [tenant, topics.map(compileTopicPattern)]),
  );
  const namespaces = new Map<string, string>(
    Object.entries(config.tenants).flatMap(([tenant, { namespace }]) =>
      namespace === undefined ? [] : [[tenant, namespace]],
    ),
  );
  return {
    name: 'acl',
    evaluate(context) {
      const tenantHeader = context.headerNames.find((name) => TENANT_HEADERS.includes(name));
      if (tenantHeader !== undefined) {
        return reject(
          'tenant-header',
          `the ${tenantHeader} header is not accepted: the tenant comes from the credential`,
        );
      }
      const reserved = config.reservedTopic(context.topic);
      if (reserved !== undefined) {
        return reject('reserved-topic', `"${context.topic}" is a broker-internal name: ${reserved}`);
      }
      const tenant = context.principal?.tenant;
      const allowed = tenant === undefined ? undefined : grants.get(tenant);
      const granted =
        allowed?.some((grant) => grant.match(context.topic) !== undefined) ||
        context.principal?.topics?.some((pattern) => compileTopicPattern(pattern).match(context.topic));
      if (tenant === undefined || !granted) {
        return reject('forbidden-topic', `tenant ${tenant ?? '(none)'} may not use topic "${context.topic}"`);
      }
      const namespace = namespaces.get(tenant);
      if (namespace !== undefined) context.topic = `${namespace}.${context.topic}`;
      return PASS;
    },
  };
}
