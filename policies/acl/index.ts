export { createTopicAclPolicy, type TopicAclConfig } from './topic-acl.policy.js';
export { TOPIC_PATTERN_SYNTAX, compileTopicPattern, type TopicMatcher } from './topic-pattern.js';
