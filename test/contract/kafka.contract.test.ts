import { runContractSuite } from './contract-suite.js';
import { createKafkaTarget } from './targets/kafka.js';

runContractSuite(createKafkaTarget());
