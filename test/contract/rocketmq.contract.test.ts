import { runContractSuite } from './contract-suite.js';
import { createRocketMqTarget } from './targets/rocketmq.js';

// Twice: the default configuration on NORMAL topics, and fifo mode on FIFO topics (per-key ordering).
runContractSuite(createRocketMqTarget());
runContractSuite(createRocketMqTarget({ fifo: true }));
