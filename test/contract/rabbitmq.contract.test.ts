import { runContractSuite } from './contract-suite.js';
import { createRabbitMqTarget } from './targets/rabbitmq.js';

runContractSuite(createRabbitMqTarget());
