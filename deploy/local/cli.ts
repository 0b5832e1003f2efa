/**
 * CLI for local brokers: `tsx deploy/local/cli.ts <command> [names...]`.
 *
 *   up [names...]      start what is missing and wait until healthy (default: all six, NATS included)
 *   down [names...]    stop Kafka and RocketMQ (default), or the named brokers (machine services too)
 *   status [names...]  one line per broker; exit 1 if any is down
 *   logs <name> [n]    print the last n (default 40) lines of a broker's logs
 *   topic <name> [NORMAL|FIFO|DELAY|TRANSACTION]   create a RocketMQ topic of that type
 *
 * Exit codes: 0 ok, 1 a broker is down or failed, 2 usage error.
 */
import {
  BROKER_NAMES,
  BrokerError,
  BrokersError,
  MANAGED_BROKERS,
  brokerLogFiles,
  brokerLogTail,
  brokerStatus,
  createRocketTopic,
  ensureBrokers,
  isBrokerName,
  stopBrokers,
  type BrokerName,
  type BrokerStatus,
  type RocketMessageType,
} from './brokers.js';

const USAGE = `usage: tsx deploy/local/cli.ts up|down|status [${BROKER_NAMES.join('|')} ...]
       tsx deploy/local/cli.ts logs <broker> [lines]
       tsx deploy/local/cli.ts topic <rocketmq-topic> [NORMAL|FIFO|DELAY|TRANSACTION]`;

function parseNames(args: readonly string[]): BrokerName[] {
  const names: BrokerName[] = [];
  for (const arg of args) {
    for (const part of arg.split(',').filter(Boolean)) {
      if (!isBrokerName(part)) {
        console.error(`unknown broker "${part}"; known: ${BROKER_NAMES.join(', ')}`);
        process.exit(2);
      }
      names.push(part);
    }
  }
  return names;
}

function statusLine(s: BrokerStatus): string {
  const state = s.up ? 'up' : s.frozen ? 'frozen' : 'down';
  const pid = s.pids.length > 0 ? `pid ${s.pids.join(',')}` : 'pid -';
  const reason = !s.up && s.reason ? `  (${s.reason.split('\n')[0]})` : '';
  return `${s.name.padEnd(9)} ${s.address.padEnd(44)} ${state.padEnd(6)} ${pid}${reason}`;
}

function elapsed(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

async function main(): Promise<number> {
  const [command, ...rest] = process.argv.slice(2);
  const progress = (message: string): void => {
    console.error(`[brokers] ${message}`);
  };
  switch (command) {
    case 'up': {
      const names = parseNames(rest);
      const started = Date.now();
      try {
        const statuses = await ensureBrokers(names.length > 0 ? names : BROKER_NAMES, {
          onProgress: progress,
        });
        for (const s of statuses) console.log(statusLine(s));
        console.error(`[brokers] all up in ${elapsed(started)}`);
        return 0;
      } catch (error) {
        const failures =
          error instanceof BrokersError ? error.failures : error instanceof BrokerError ? [error] : [];
        if (failures.length === 0) throw error;
        for (const failure of failures) console.error(`\n[brokers] FAILED: ${failure.message}`);
        const failed = new Set(failures.map((f) => f.broker));
        const others = (names.length > 0 ? names : [...BROKER_NAMES]).filter((n) => !failed.has(n));
        if (others.length > 0) {
          console.error('');
          for (const s of await Promise.all(others.map((n) => brokerStatus(n)))) console.error(statusLine(s));
        }
        console.error(
          `\n[brokers] not all brokers are up (${[...failed].join(', ')} failed) after ${elapsed(started)}`,
        );
        return 1;
      }
    }
    case 'down': {
      const names = parseNames(rest);
      const started = Date.now();
      try {
        await stopBrokers(names.length > 0 ? names : MANAGED_BROKERS);
      } catch (error) {
        console.error(`[brokers] ${error instanceof Error ? error.message : String(error)}`);
        return 1;
      }
      console.error(
        `[brokers] stopped ${(names.length > 0 ? names : MANAGED_BROKERS).join(', ')} in ${elapsed(started)}`,
      );
      return 0;
    }
    case 'status': {
      const names = parseNames(rest);
      const statuses = await Promise.all(
        (names.length > 0 ? names : BROKER_NAMES).map((n) => brokerStatus(n)),
      );
      for (const s of statuses) console.log(statusLine(s));
      return statuses.every((s) => s.up) ? 0 : 1;
    }
    case 'logs': {
      const [name, lines] = rest;
      if (!name || !isBrokerName(name)) {
        console.error(USAGE);
        return 2;
      }
      console.log(`log files: ${brokerLogFiles(name).join(', ')}\n`);
      console.log(await brokerLogTail(name, Number(lines ?? 40) || 40));
      return 0;
    }
    case 'topic': {
      const [topic, type = 'NORMAL'] = rest;
      const messageType = type.toUpperCase();
      if (!topic || !['NORMAL', 'FIFO', 'DELAY', 'TRANSACTION'].includes(messageType)) {
        console.error(USAGE);
        return 2;
      }
      const started = Date.now();
      await createRocketTopic(topic, { messageType: messageType as RocketMessageType });
      console.log(`topic ${topic} (${messageType}) ready in ${elapsed(started)}`);
      return 0;
    }
    default:
      console.error(USAGE);
      return 2;
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`[brokers] ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
