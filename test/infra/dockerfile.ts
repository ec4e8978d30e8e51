/**
 * A small reader of the project's Dockerfile for the infra tests: stages, their instructions
 * (continuation lines joined, comments dropped), and the few instructions the tests interpret
 * (ENV, COPY, CMD, WORKDIR). Not a general Dockerfile parser: the lint is dockerfile-utils' job.
 */
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Instruction {
  keyword: string;
  args: string;
  /** 1-based line where the instruction starts. */
  line: number;
}

export interface Stage {
  name: string;
  /** The image or stage it starts from. */
  from: string;
  instructions: Instruction[];
}

export interface CopyInstruction {
  from: string | undefined;
  sources: string[];
  destination: string;
}

export function readDockerfile(): string {
  return readFileSync(`${ROOT}Dockerfile`, 'utf8');
}

/** Instructions in order, with `\` continuations joined and comment lines dropped. */
export function instructions(text: string): Instruction[] {
  const result: Instruction[] = [];
  let pending: { text: string; line: number } | undefined;
  text.split(/\r?\n/).forEach((raw, index) => {
    const trimmed = raw.trim();
    if (trimmed.startsWith('#')) return;
    if (pending === undefined && trimmed === '') return;
    const continues = trimmed.endsWith('\\');
    const piece = continues ? trimmed.slice(0, -1).trim() : trimmed;
    pending = pending === undefined ? { text: piece, line: index + 1 } : { text: `${pending.text} ${piece}`.trim(), line: pending.line };
    if (!continues) {
      const match = /^(\S+)\s*(.*)$/s.exec(pending.text);
      if (match) result.push({ keyword: match[1]!.toUpperCase(), args: match[2]!, line: pending.line });
      pending = undefined;
    }
  });
  return result;
}

/** The stages in order; a stage without `AS name` is named by its index. */
export function stages(text: string): Stage[] {
  const result: Stage[] = [];
  for (const instruction of instructions(text)) {
    if (instruction.keyword === 'FROM') {
      const tokens = instruction.args.split(/\s+/).filter((t) => !t.startsWith('--'));
      const as = tokens.findIndex((t) => t.toUpperCase() === 'AS');
      result.push({ name: as >= 0 ? tokens[as + 1]! : String(result.length), from: tokens[0]!, instructions: [] });
    } else if (result.length > 0) {
      result.at(-1)!.instructions.push(instruction);
    }
  }
  return result;
}

export const ofKind = (stage: Stage, keyword: string): Instruction[] => stage.instructions.filter((i) => i.keyword === keyword);

/** The working directory a stage ends with, inherited from the stage it is built FROM. */
export function workdir(all: Stage[], stage: Stage): string {
  let dir = '/';
  const parent = all.find((s) => s.name === stage.from);
  if (parent !== undefined && parent !== stage) dir = workdir(all, parent);
  for (const i of ofKind(stage, 'WORKDIR')) dir = posix.resolve(dir, i.args.trim());
  return dir;
}

/** `ENV A=1 B=2` (and the legacy `ENV A 1`) as a record, in order. */
export function env(stage: Stage): Record<string, string> {
  const result: Record<string, string> = {};
  for (const i of ofKind(stage, 'ENV')) {
    if (!i.args.includes('=')) {
      const [key, ...value] = i.args.split(/\s+/);
      result[key!] = value.join(' ');
      continue;
    }
    for (const m of i.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|'([^']*)'|\S*)/g)) result[m[1]!] = m[3] ?? m[4] ?? m[2]!;
  }
  return result;
}

export function copies(stage: Stage): CopyInstruction[] {
  return ofKind(stage, 'COPY').map((i) => {
    const tokens = i.args.trim().startsWith('[') ? (JSON.parse(i.args) as string[]) : i.args.trim().split(/\s+/);
    const flags = tokens.filter((t) => t.startsWith('--'));
    const paths = tokens.filter((t) => !t.startsWith('--'));
    const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
    return { from, sources: paths.slice(0, -1), destination: paths.at(-1)! };
  });
}

/** The exec-form arguments of CMD (or of HEALTHCHECK's CMD); undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  const json = /^(?:.*?\bCMD\s+)?(\[.*\])\s*$/s.exec(args.trim());
  if (!json) return undefined;
  try {
    const parsed: unknown = JSON.parse(json[1]!);
    return Array.isArray(parsed) && parsed.every((a) => typeof a === 'string') ? parsed : undefined;
  } catch {
    return undefined;
  }
}
