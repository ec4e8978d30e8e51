import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
// `yaml` comes with @fastify/swagger (a production dependency) and vite; it is what both parse with.
import { parse } from 'yaml';
import { ROOT } from './dockerfile.js';

const DIR = `${ROOT}.github/workflows/`;
const VALIDATOR = `${ROOT}node_modules/.bin/action-validator`;

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
}
interface Job {
  name?: string;
  if?: string;
  permissions?: Record<string, string> | string;
  services?: Record<string, { image?: string; env?: Record<string, string> }>;
  env?: Record<string, string>;
  steps: Step[];
}
interface Workflow {
  name: string;
  on: Record<string, { branches?: string[]; inputs?: Record<string, unknown> } | null>;
  permissions?: Record<string, string> | string;
  concurrency?: { group: string; 'cancel-in-progress'?: boolean } | string;
  env?: Record<string, string>;
  jobs: Record<string, Job>;
}

const files = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f));
const workflows = new Map<string, Workflow>(files.map((f) => [f, parse(readFileSync(DIR + f, 'utf8')) as Workflow]));
const workflow = (file: string): Workflow => {
  const w = workflows.get(file);
  if (w === undefined) throw new Error(`.github/workflows/${file} is missing`);
  return w;
};
const steps = (w: Workflow): Step[] => Object.values(w.jobs).flatMap((j) => j.steps);
const script = (w: Workflow): string =>
  steps(w)
    .map((s) => s.run ?? '')
    .join('\n');
const uses = (w: Workflow): string[] => steps(w).flatMap((s) => (s.uses === undefined ? [] : [s.uses]));
const usesAws = (w: Workflow): boolean => uses(w).some((u) => u.startsWith('aws-actions/configure-aws-credentials@'));

describe('GitHub Actions workflows', () => {
  it('are the five the deployment needs', () => {
    expect(files.sort()).toEqual(['ci.yml', 'create_ecr_repo.yml', 'push_image.yml', 'terraform-destroy.yml', 'terraform_app_runner.yml']);
  });

  it.each(files)('%s validates with @action-validator/cli', async (file) => {
    const result = await promisify(execFile)(VALIDATOR, [DIR + file]).then(
      () => ({ code: 0, output: '' }),
      (error: { code?: number; stdout?: string; stderr?: string }) => ({ code: error.code ?? 1, output: `${error.stdout}${error.stderr}` }),
    );
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  });

  it.each(files)('%s sets least permissions and a concurrency group', (file) => {
    const w = workflow(file);
    expect(w.permissions).toBeTypeOf('object');
    const granted = {
      ...(w.permissions as Record<string, string>),
      ...Object.assign({}, ...Object.values(w.jobs).map((j) => j.permissions ?? {})),
    };
    expect(granted.contents).toBe('read');
    const writes = Object.entries(granted).filter(([, level]) => level === 'write');
    // The only write: an OIDC token, and only where AWS credentials are needed.
    expect(writes).toEqual(usesAws(w) ? [['id-token', 'write']] : []);
    expect(w.concurrency).toBeTypeOf('object');
    expect((w.concurrency as { group: string }).group).toBeTruthy();
  });

  it.each(files)('%s pins every action to a major version or a commit SHA', (file) => {
    for (const action of uses(workflow(file))) expect(action).toMatch(/^[\w.-]+\/[\w./-]+@(v\d+|[0-9a-f]{40})$/);
  });

  it.each(files)('%s takes AWS credentials from OIDC (role-to-assume), with the documented key secrets as fallback only', (file) => {
    const w = workflow(file);
    const text = readFileSync(DIR + file, 'utf8');
    expect(text).not.toMatch(/AKIA[0-9A-Z]{16}/);
    for (const step of steps(w).filter((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@'))) {
      expect(step.uses).toBe('aws-actions/configure-aws-credentials@v4');
      expect(step.with?.['role-to-assume']).toBe('${{ secrets.AWS_ROLE_ARN }}');
      expect(step.with?.['aws-access-key-id']).toBe('${{ secrets.AWS_ACCESS_KEY_ID }}');
      expect(step.with?.['aws-secret-access-key']).toBe('${{ secrets.AWS_SECRET_ACCESS_KEY }}');
      expect(String(step.with?.['aws-region'])).toContain('AWS_REGION');
    }
  });

  it.each(files)('%s never commits or pushes to git (no Terraform state in the repository)', (file) => {
    const run = script(workflow(file));
    expect(run).not.toMatch(/\bgit\s+(add|commit|push)\b/);
    expect(run).not.toMatch(/\.tfstate\b/);
  });

  describe('ci.yml', () => {
    const w = workflow('ci.yml');

    it('runs on pull requests and pushes', () => {
      expect(Object.keys(w.on)).toEqual(expect.arrayContaining(['pull_request', 'push']));
    });

    it('lints, checks formatting and audits production dependencies on Node 20 with the npm cache', () => {
      const run = script(w);
      expect(run).toMatch(/^make lint$/m);
      expect(run).toMatch(/^npx prettier --check \.$/m);
      expect(run).toMatch(/^npm audit --omit=dev --audit-level=high$/m);
      const setups = steps(w).filter((s) => s.uses?.startsWith('actions/setup-node@'));
      expect(setups.length).toBeGreaterThan(0);
      for (const setup of setups) expect(setup.with).toMatchObject({ 'node-version': 20, cache: 'npm' });
    });

    it('runs make test with a postgres:15 service container and CI=true', () => {
      const test = w.jobs.test!;
      expect(test.services?.postgres?.image).toBe('postgres:15');
      expect(test.env).toMatchObject({ CI: 'true' });
      expect(test.env?.TEST_DATABASE_URL).toMatch(/^postgres:\/\/postgres:postgres@localhost:5432\/\w+$/);
      expect(test.steps.map((s) => s.run)).toContain('make test');
    });

    it('validates the Terraform and builds the image, which cannot be done offline', () => {
      const run = script(w);
      expect(run).toMatch(/terraform fmt -check/);
      expect(run).toMatch(/terraform validate/);
      expect(run).toMatch(/docker build/);
    });
  });

  describe('create_ecr_repo.yml', () => {
    const w = workflow('create_ecr_repo.yml');

    it('is manual only and applies the ECR repository alone', () => {
      expect(Object.keys(w.on)).toEqual(['workflow_dispatch']);
      expect(Object.keys(w.jobs)).toEqual(['create-ecr-repo']);
      expect(script(w)).toMatch(/terraform apply[^\n]*\s+-target=aws_ecr_repository\.globant_api/);
    });
  });

  describe('push_image.yml', () => {
    const w = workflow('push_image.yml');

    it('runs on pushes to the deployment branch and by hand', () => {
      expect(w.on.push?.branches).toEqual(['deployment']);
      expect(Object.keys(w.on)).toContain('workflow_dispatch');
      expect(Object.keys(w.jobs)).toEqual(['push-image']);
    });

    it('logs in to ECR and pushes globant-api tagged with the commit SHA and latest', () => {
      expect(uses(w)).toContain('aws-actions/amazon-ecr-login@v2');
      const build = steps(w).find((s) => s.uses?.startsWith('docker/build-push-action@'));
      expect(build?.with?.push).toBe(true);
      const tags = String(build?.with?.tags).trim().split('\n');
      expect(tags).toEqual([expect.stringMatching(/:\$\{\{ github\.sha \}\}$/), expect.stringMatching(/:latest$/)]);
      expect(w.env?.ECR_REPOSITORY).toBe('globant-api');
    });
  });

  describe('terraform_app_runner.yml', () => {
    const w = workflow('terraform_app_runner.yml');

    it('is manual only and applies the App Runner service', () => {
      expect(Object.keys(w.on)).toEqual(['workflow_dispatch']);
      expect(Object.keys(w.jobs)).toEqual(['terraform-app-runner']);
      expect(script(w)).toMatch(/terraform plan -out=tfplan/);
      expect(script(w)).toMatch(/terraform apply -auto-approve tfplan/);
    });

    it('reads enable_postgres from a repository variable, not a per-run input', () => {
      expect(w.env?.TF_VAR_enable_postgres).toContain('vars.ENABLE_POSTGRES');
    });
  });

  describe('terraform-destroy.yml', () => {
    const w = workflow('terraform-destroy.yml');

    it('is manual only, asks for a typed confirmation, and destroys', () => {
      expect(Object.keys(w.on)).toEqual(['workflow_dispatch']);
      expect(w.on.workflow_dispatch?.inputs).toHaveProperty('confirm');
      expect(Object.keys(w.jobs)).toEqual(['terraform-destroy']);
      expect(w.jobs['terraform-destroy']!.if).toBe("inputs.confirm == 'destroy'");
      expect(script(w)).toMatch(/terraform destroy -auto-approve/);
    });
  });

  it('serialises every Terraform workflow on one concurrency group, never cancelled mid-apply', () => {
    for (const file of ['create_ecr_repo.yml', 'terraform_app_runner.yml', 'terraform-destroy.yml']) {
      expect(workflow(file).concurrency).toEqual({ group: 'terraform-state', 'cancel-in-progress': false });
    }
  });
});
