import { runContractSuite } from './contract-suite.js';
import { createNatsTarget } from './targets/nats.js';

// Run under the shared broker lock: the restart case stops nats-server.
//   flock /tmp/pubgate-brokers.lock node test/run.mjs test/contract/nats.contract.test.ts
runContractSuite(createNatsTarget());
