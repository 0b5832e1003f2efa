import { Producer } from 'rocketmq-client-nodejs';
import { ADDRESSES, createRocketTopic } from '../../deploy/local/brokers.js';
import type { BenchTarget } from './types.js';

/**
 * rocketmq-client-nodejs's Producer on its own: one `send()` per message, resolved on SEND_OK, the
 * same answer the adapter waits for. Topics are created NORMAL up front on both sides.
 */
export const rocketmqBench: BenchTarget = {
  name: 'rocketmq',
  config: 'deploy/config/rocketmq.yaml',
  unreachableEnv: { ROCKETMQ_ENDPOINTS: '127.0.0.1:1' },
  brokers: ['rocketmq'],
  // deploy/config/rocketmq.yaml maps names with topicNameMapping: replace.
  destination: (topic) => topic.replace(/[^A-Za-z0-9_-]/gu, '_'),
  async prepare(topic) {
    await createRocketTopic(topic, { messageType: 'NORMAL' });
  },
  createDirect() {
    let producer: Producer;
    let topic = '';
    return {
      async open(destination) {
        topic = destination;
        await rocketmqBench.prepare!(destination);
        // A silent logger: the client's default one writes files under the home directory.
        producer = new Producer({
          endpoints: ADDRESSES.rocketmq,
          namespace: '',
          topics: [destination],
          logger: { debug() {}, info() {}, warn() {}, error() {} },
        });
        await producer.startup();
      },
      async send(payload, id) {
        await producer.send({ topic, body: payload, keys: [id], properties: new Map([['pubgate-id', id]]) });
      },
      async close() {
        await producer.shutdown();
      },
    };
  },
};
