import type { BenchTarget } from './direct/types.js';
import { embeddedBench } from './direct/embedded.js';
import { kafkaBench } from './direct/kafka.js';
import { rabbitmqBench } from './direct/rabbitmq.js';
import { rocketmqBench } from './direct/rocketmq.js';

/** One entry per broker; each names its example config and its direct client. */
export const BENCH_TARGETS: readonly BenchTarget[] = [
  embeddedBench,
  kafkaBench,
  rabbitmqBench,
  rocketmqBench,
];
