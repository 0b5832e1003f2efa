import type { BenchTarget } from './direct/types.js';
import { embeddedBench } from './direct/embedded.js';
import { rabbitmqBench } from './direct/rabbitmq.js';

/** One entry per broker; each names its example config and its direct client. */
export const BENCH_TARGETS: readonly BenchTarget[] = [embeddedBench, rabbitmqBench];
