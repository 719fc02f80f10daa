import { cpus, loadavg, totalmem, release, platform } from 'node:os';

/** What the numbers were measured on: the report is meaningless without it. */
export interface MachineInfo {
  cpuModel: string;
  cores: number;
  ramGiB: number;
  os: string;
  node: string;
  date: string;
  /** 1-minute load average when the run started: above ~0.5 something else was using the CPU. */
  loadAtStart: number;
}

export function machineInfo(now = new Date()): MachineInfo {
  const list = cpus();
  return {
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    ramGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    os: `${platform()} ${release()}`,
    node: process.version,
    date: now.toISOString(),
    loadAtStart: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
}

export function machineMarkdown(m: MachineInfo): string {
  return [
    '| machine | |',
    '|---|---|',
    `| CPU | ${m.cpuModel} |`,
    `| cores | ${m.cores} |`,
    `| RAM | ${m.ramGiB} GiB |`,
    `| OS | ${m.os} |`,
    `| Node | ${m.node} |`,
    `| date | ${m.date} |`,
    `| load average at start (1 min) | ${m.loadAtStart} |`,
  ].join('\n');
}
