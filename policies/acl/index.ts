export { createTopicAclPolicy, isReservedTopic, type TopicAclConfig } from './topic-acl.policy.js';
export { compileTopicPattern, type TopicMatcher } from './topic-pattern.js';
