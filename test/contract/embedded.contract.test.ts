import { runContractSuite } from './contract-suite.js';
import { createEmbeddedTarget } from './targets/embedded.js';

runContractSuite(createEmbeddedTarget());
