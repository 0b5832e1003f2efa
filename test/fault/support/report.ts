/**
 * One line per scenario: broker, scenario, sent, 2xx, delivered, lost, duplicates, unexpected,
 * hung. Printed, and appended to test/fault/results/report.md (git-ignored; test/run.mjs removes
 * it before a run, so it holds the last run).
 */
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const RESULTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../results');
export const REPORT_FILE = path.join(RESULTS, 'report.md');

export interface ScenarioLine {
  readonly broker: string;
  readonly scenario: string;
  readonly sent: number;
  readonly accepted: number;
  readonly delivered: number;
  readonly lost: number;
  readonly duplicates: number;
  readonly unexpected: number;
  readonly hung: number;
  readonly note?: string;
}

const HEADER =
  '| broker | scenario | sent | 2xx | delivered | lost | duplicates | unexpected | hung | note |\n' +
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n';

export function reportScenario(line: ScenarioLine): void {
  mkdirSync(RESULTS, { recursive: true });
  if (!existsSync(REPORT_FILE)) {
    writeFileSync(REPORT_FILE, `# Fault suite report (${new Date().toISOString()})\n\n${HEADER}`);
  }
  const cells = [
    line.broker,
    line.scenario,
    line.sent,
    line.accepted,
    line.delivered,
    line.lost,
    line.duplicates,
    line.unexpected,
    line.hung,
    line.note ?? '',
  ];
  appendFileSync(REPORT_FILE, `| ${cells.join(' | ')} |\n`);
  process.stdout.write(
    `FAULT REPORT ${line.broker} ${line.scenario}: sent=${line.sent} 2xx=${line.accepted} delivered=${line.delivered} ` +
      `lost=${line.lost} duplicates=${line.duplicates} unexpected=${line.unexpected} hung=${line.hung}` +
      `${line.note ? ` (${line.note})` : ''}\n`,
  );
}
