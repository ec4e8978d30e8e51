import { readFileSync } from 'node:fs';
import { validate, ValidationSeverity } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';
import { copies, env, execForm, instructions, ofKind, readDockerfile, ROOT, stages, workdir, type Stage } from './dockerfile.js';
import { SERVER_NODE_FLAGS } from '../../src/node-flags.js';

const text = readDockerfile();
const all = stages(text);
const runtime = all.at(-1)!;
const byName = (name: string): Stage => {
  const stage = all.find((s) => s.name === name);
  if (stage === undefined) throw new Error(`no stage named ${name}`);
  return stage;
};
const runs = (stage: Stage): string[] => ofKind(stage, 'RUN').map((i) => i.args);
/** Index of the first instruction of a stage that matches, or -1. */
const firstIndex = (stage: Stage, test: (keyword: string, args: string) => boolean): number =>
  stage.instructions.findIndex((i) => test(i.keyword, i.args));

describe('Dockerfile', () => {
  it('lints clean with dockerfile-utils, every optional rule raised to an error', () => {
    const strict = {
      deprecatedMaintainer: ValidationSeverity.ERROR,
      directiveCasing: ValidationSeverity.ERROR,
      emptyContinuationLine: ValidationSeverity.ERROR,
      instructionCasing: ValidationSeverity.ERROR,
      instructionCmdMultiple: ValidationSeverity.ERROR,
      instructionEntrypointMultiple: ValidationSeverity.ERROR,
      instructionHealthcheckMultiple: ValidationSeverity.ERROR,
      instructionJSONInSingleQuotes: ValidationSeverity.ERROR,
      instructionWorkdirRelative: ValidationSeverity.ERROR,
    };
    const problems = validate(text, strict).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
    expect(problems).toEqual([]);
  });

  it('has a build stage, a production-dependencies stage and a slim runtime stage', () => {
    expect(all.map((s) => s.name)).toEqual(expect.arrayContaining(['build', 'deps', 'runtime']));
    expect(runtime.name).toBe('runtime');
    expect(runtime.from).toMatch(/^node:24-slim@sha256:[0-9a-f]{64}$/);
    expect(runs(byName('build')).join('\n')).toMatch(/\bnpm ci\b/);
    expect(runs(byName('build')).join('\n')).toMatch(/\bnpm run build\b/);
    expect(runs(byName('deps')).join('\n')).toMatch(/\bnpm ci --omit=dev\b/);
  });

  it('builds the native module on the same base image as the runtime, without a compiler in the runtime', () => {
    const base = (stage: Stage): string => {
      const parent = all.find((s) => s.name === stage.from);
      return parent === undefined ? stage.from : base(parent);
    };
    expect(base(byName('deps'))).toBe(runtime.from);
    const toolchain = all.flatMap((s) => runs(s)).join('\n');
    expect(toolchain).toMatch(/python3/);
    expect(toolchain).toMatch(/g\+\+/);
    expect(runs(runtime).join('\n')).not.toMatch(/apt-get|apk add|npm (ci|install)|g\+\+/);
  });

  it('copies package*.json and installs before copying the rest, so dependency layers stay cached', () => {
    for (const name of ['build', 'deps']) {
      const stage = byName(name);
      const lock = firstIndex(stage, (k, a) => k === 'COPY' && /package\*\.json|package-lock\.json/.test(a));
      const install = firstIndex(stage, (k, a) => k === 'RUN' && /\bnpm ci\b/.test(a));
      const rest = firstIndex(stage, (k, a) => k === 'COPY' && /^\.\s/.test(a.trim()));
      expect(lock, `${name}: COPY package*.json`).toBeGreaterThanOrEqual(0);
      expect(install, `${name}: npm ci after package*.json`).toBeGreaterThan(lock);
      if (rest >= 0) expect(rest, `${name}: COPY . . after npm ci`).toBeGreaterThan(install);
    }
  });

  it('runs the runtime stage as a non-root user', () => {
    const users = ofKind(runtime, 'USER').map((i) => i.args.trim());
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
    // Nothing after USER may need root.
    const afterUser = runtime.instructions.slice(runtime.instructions.findLastIndex((i) => i.keyword === 'USER'));
    expect(afterUser.filter((i) => i.keyword === 'RUN')).toEqual([]);
  });

  it('listens on 0.0.0.0:8000 with EXPOSE 8000', () => {
    expect(env(runtime)).toMatchObject({ HOST: '0.0.0.0', PORT: '8000' });
    expect(ofKind(runtime, 'EXPOSE').map((i) => i.args.trim())).toContain('8000');
    expect(workdir(all, runtime)).toBe('/app');
  });

  it('starts every stage from node:24-slim pinned by one digest, or from another stage', () => {
    const external = all.filter((s) => !all.some((other) => other.name === s.from));
    expect(external.map((s) => s.name)).toEqual(['toolchain', 'runtime']);
    for (const stage of external) expect(stage.from, stage.name).toMatch(/^node:24-slim@sha256:[0-9a-f]{64}$/);
    expect(new Set(external.map((s) => s.from)).size).toBe(1);
    // No comment still names the Node 20 image.
    expect(text).not.toMatch(/node:20/);
  });

  it('checks /health with node itself (no curl in node:24-slim)', () => {
    const checks = ofKind(runtime, 'HEALTHCHECK');
    expect(checks).toHaveLength(1);
    const command = execForm(checks[0]!.args);
    expect(command?.[0]).toBe('node');
    expect(command?.join(' ')).toContain('/health');
    expect(checks[0]!.args).not.toMatch(/\bcurl\b|\bwget\b/);
  });

  it('starts with CMD ["node", "dist/…"] in exec form (not npm start: npm does not forward SIGTERM)', () => {
    const cmds = ofKind(runtime, 'CMD');
    expect(cmds).toHaveLength(1);
    const command = execForm(cmds[0]!.args);
    expect(command).toBeDefined();
    expect(command![0]).toBe('node');
    expect(command!.slice(1, -1)).toEqual(SERVER_NODE_FLAGS);
    expect(command!.at(-1)).toMatch(/^dist\/.+\.js$/);
    expect(ofKind(runtime, 'ENTRYPOINT')).toEqual([]);
  });

  it('copies only build output, production node_modules and package*.json into the runtime', () => {
    const sources = copies(runtime).flatMap((c) => c.sources.map((s) => `${c.from ?? 'context'}:${s}`));
    expect(sources).toEqual(expect.arrayContaining(['build:/app/dist', 'deps:/app/node_modules']));
    expect(sources.some((s) => s.startsWith('build:') && s.endsWith('node_modules'))).toBe(false);
    expect(copies(runtime).some((c) => c.from === undefined && c.sources.includes('.'))).toBe(false);
  });

  it('adds no remote files and declares no secret in ENV or ARG', () => {
    const everything = instructions(text);
    expect(everything.filter((i) => i.keyword === 'ADD')).toEqual([]);
    const declared = everything.filter((i) => i.keyword === 'ENV' || i.keyword === 'ARG').map((i) => i.args);
    expect(declared.join('\n')).not.toMatch(/API_KEY|PASSWORD|SECRET|TOKEN/i);
  });
});

describe('.dockerignore', () => {
  const patterns = readFileSync(`${ROOT}.dockerignore`, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const ignored = (path: string): boolean => {
    let result = false;
    for (const raw of patterns) {
      const negate = raw.startsWith('!');
      const pattern = (negate ? raw.slice(1) : raw).replace(/\/$/, '');
      const regex = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}(/.*)?$`);
      if (regex.test(path)) result = !negate;
    }
    return result;
  };

  it('keeps node_modules, var/, .git, test data, local env files and Terraform state out of the build context', () => {
    for (const path of ['node_modules', 'var', 'var/hr.db', '.git', 'data/historical/jobs.csv', 'test', 'dist', '.env', 'coverage']) {
      expect(ignored(path), path).toBe(true);
    }
    for (const path of ['terraform/terraform.tfstate', 'terraform/.terraform']) expect(ignored(path), path).toBe(true);
  });

  it('keeps what the build stage needs', () => {
    for (const path of [
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'tsconfig.build.json',
      'scripts/copy-assets.mjs',
      'src/server.ts',
    ]) {
      expect(ignored(path), path).toBe(false);
    }
  });
});
