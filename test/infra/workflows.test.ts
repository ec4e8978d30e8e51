import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
// `yaml` comes with @fastify/swagger (a production dependency) and vite; it is what both parse with.
import { parse } from 'yaml';
import Papa from 'papaparse';
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
  needs?: string | string[];
  uses?: string;
  with?: Record<string, unknown>;
  secrets?: string | Record<string, string>;
  outputs?: Record<string, string>;
  permissions?: Record<string, string> | string;
  services?: Record<string, { image?: string; env?: Record<string, string> }>;
  env?: Record<string, string>;
  steps: Step[];
}
interface Workflow {
  name: string;
  on: Record<string, { branches?: string[]; paths?: string[]; inputs?: Record<string, { type?: string; default?: unknown }> } | null>;
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
// A job that calls a reusable workflow has no steps of its own.
const steps = (w: Workflow): Step[] => Object.values(w.jobs).flatMap((j) => j.steps ?? []);
const script = (w: Workflow): string =>
  steps(w)
    .map((s) => s.run ?? '')
    .join('\n');
const uses = (w: Workflow): string[] => steps(w).flatMap((s) => (s.uses === undefined ? [] : [s.uses]));
const usesAws = (w: Workflow): boolean => uses(w).some((u) => u.startsWith('aws-actions/configure-aws-credentials@'));

describe('GitHub Actions workflows', () => {
  it('are the original five plus the ECS apply, the pull-request plan and the smoke test', () => {
    expect(files.sort()).toEqual([
      'ci.yml',
      'create_ecr_repo.yml',
      'push_image.yml',
      'smoke_test.yml',
      'terraform-destroy.yml',
      'terraform_app_runner.yml',
      'terraform_ecs.yml',
      'terraform_plan.yml',
    ]);
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
      if (file === 'terraform_plan.yml') {
        // Pull requests: the read-only plan role, never the deploy role, never access keys.
        expect(step.with?.['role-to-assume']).toBe('${{ secrets.AWS_PLAN_ROLE_ARN }}');
        expect(step.with?.['aws-access-key-id']).toBeUndefined();
        expect(text).not.toMatch(/AWS_ROLE_ARN|AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY/);
        continue;
      }
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

    it('lints, checks formatting and audits production dependencies on Node 24 with the npm cache', () => {
      const run = script(w);
      expect(run).toMatch(/^make lint$/m);
      expect(run).toMatch(/^npx prettier --check \.$/m);
      expect(run).toMatch(/^npm audit --omit=dev --audit-level=high$/m);
      const setups = steps(w).filter((s) => s.uses?.startsWith('actions/setup-node@'));
      expect(setups.length).toBeGreaterThan(0);
      expect(setups).toHaveLength(3);
      for (const setup of setups) expect(setup.with).toMatchObject({ 'node-version': 24, cache: 'npm' });
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

  /** The env a step's script sees: the workflow's, the job's, the step's. */
  const applyJob = (w: Workflow): [string, Job] => Object.entries(w.jobs).find(([, j]) => j.uses === undefined)!;
  const smokeJob = (w: Workflow): Job => Object.values(w.jobs).find((j) => j.uses !== undefined)!;

  describe('terraform_ecs.yml', () => {
    const w = workflow('terraform_ecs.yml');

    it('is manual only and plans then applies with compute = ecs_express', () => {
      expect(Object.keys(w.on)).toEqual(['workflow_dispatch']);
      expect(Object.keys(w.jobs)).toEqual(['terraform-ecs', 'smoke-test']);
      expect(w.env?.TF_VAR_compute).toBe('ecs_express');
      expect(script(w)).toMatch(/terraform plan -out=tfplan/);
      expect(script(w)).toMatch(/terraform apply -auto-approve tfplan/);
      expect(w.on.workflow_dispatch?.inputs?.image_tag?.default).toBe('latest');
    });

    it('refuses to run on a deployment whose COMPUTE variable says apprunner', () => {
      expect(w.jobs['terraform-ecs']!.if).toBe("vars.COMPUTE == '' || vars.COMPUTE == 'ecs_express'");
    });

    it('reads enable_postgres from a repository variable, and leaves it to Terraform (PostgreSQL on ECS) when unset', () => {
      expect(w.env?.TF_VAR_enable_postgres).toBeUndefined();
      const step = steps(w).find((s) => s.env?.ENABLE_POSTGRES !== undefined)!;
      expect(step.env?.ENABLE_POSTGRES).toBe('${{ vars.ENABLE_POSTGRES }}');
      expect(step.run).toMatch(
        /if \[ -n "\$ENABLE_POSTGRES" \]; then echo "TF_VAR_enable_postgres=\$ENABLE_POSTGRES" >> "\$GITHUB_ENV"; fi/,
      );
    });

    it("sets the load balancer's idle timeout from the Terraform output, through the service's target group", () => {
      const run = script(w);
      expect(run).toMatch(/terraform output -raw lb_idle_timeout_seconds/);
      expect(run).toMatch(/aws ecs describe-services[\s\S]*targetGroupArn/);
      expect(run).toMatch(/aws elbv2 describe-target-groups[\s\S]*LoadBalancerArns/);
      expect(run).toMatch(/aws elbv2 modify-load-balancer-attributes[\s\S]*Key=idle_timeout\.timeout_seconds,Value=\$seconds/);
    });
  });

  describe('terraform_app_runner.yml', () => {
    const w = workflow('terraform_app_runner.yml');

    it('is manual only and applies the App Runner service with compute = apprunner', () => {
      expect(Object.keys(w.on)).toEqual(['workflow_dispatch']);
      expect(Object.keys(w.jobs)).toEqual(['terraform-app-runner', 'smoke-test']);
      expect(w.env?.TF_VAR_compute).toBe('apprunner');
      expect(w.jobs['terraform-app-runner']!.if).toBe("vars.COMPUTE == 'apprunner'");
      expect(script(w)).toMatch(/terraform plan -out=tfplan/);
      expect(script(w)).toMatch(/terraform apply -auto-approve tfplan/);
    });

    it('reads enable_postgres from a repository variable, not a per-run input', () => {
      expect(w.env?.TF_VAR_enable_postgres).toContain('vars.ENABLE_POSTGRES');
    });
  });

  describe.each(['terraform_ecs.yml', 'terraform_app_runner.yml'])('%s, after the apply', (file) => {
    const w = workflow(file);

    it('runs smoke_test.yml against the service URL and API key secret the apply printed, unless told not to', () => {
      const [name, apply] = applyJob(w);
      const smoke = smokeJob(w);
      expect(smoke.uses).toBe('./.github/workflows/smoke_test.yml');
      expect(smoke.needs).toBe(name);
      expect(smoke.if).toBe('inputs.smoke_test');
      expect(w.on.workflow_dispatch?.inputs?.smoke_test).toMatchObject({ type: 'boolean', default: true });
      expect(smoke.with).toEqual({
        service_url: `\${{ needs.${name}.outputs.service_url }}`,
        api_key_secret_arn: `\${{ needs.${name}.outputs.api_key_secret_arn }}`,
      });
      expect(smoke.secrets).toBe('inherit');
      expect(apply.outputs?.service_url).toBe('${{ steps.outputs.outputs.service_url }}');
      const outputs = apply.steps.find((s) => (s as Step & { id?: string }).id === 'outputs')!;
      expect(outputs.run).toMatch(/service_url=\$\(terraform output -raw service_url\)/);
      expect(outputs.run).toMatch(/api_key_secret_arn=\$\(terraform output -raw api_key_secret_arn\)/);
    });
  });

  describe('smoke_test.yml', () => {
    const w = workflow('smoke_test.yml');
    const run = script(w);

    it('is a reusable workflow (and runnable by hand) taking the service URL and the API key secret', () => {
      expect(Object.keys(w.on).sort()).toEqual(['workflow_call', 'workflow_dispatch']);
      for (const trigger of ['workflow_call', 'workflow_dispatch'])
        expect(Object.keys(w.on[trigger]?.inputs ?? {}).sort()).toEqual(['api_key_secret_arn', 'service_url']);
    });

    it('reads the API key from Secrets Manager and masks it', () => {
      expect(run).toMatch(/aws secretsmanager get-secret-value --secret-id "\$SECRET_ARN"/);
      expect(run).toMatch(/echo "::add-mask::\$key"/);
      expect(run).not.toMatch(/echo "\$API_KEY"|echo "\$key"\s*$/m);
    });

    it('checks /health, uploads the three historical files with the key, and wants Support (221) first in 2021', () => {
      expect(run).toMatch(/curl [^\n]*"\$SERVICE_URL\/health"[^\n]*\| jq -e '\.status == "ok"'/);
      expect(run).toMatch(/for table in departments jobs hired_employees; do/);
      expect(run).toMatch(
        /-H "Authorization: Bearer \$API_KEY"[\s\S]*-F "file=@data\/historical\/\$table\.csv" "\$SERVICE_URL\/upload\/\$table\?on_conflict=update"/,
      );
      expect(run).toMatch(/jq -e [^\n]*\.status == "committed" and \.rejected == 0/);
      expect(run).toMatch(/"\$SERVICE_URL\/metrics\/departments-above-mean\?year=2021"/);
      expect(run).toMatch(/jq -e '\.\[0\]\.department == "Support" and \.\[0\]\.hired == 221'/);
      // The files it uploads exist, and the answer it expects is theirs (computed here from the CSV).
      for (const table of ['departments', 'jobs', 'hired_employees']) expect(existsSync(`${ROOT}data/historical/${table}.csv`)).toBe(true);
      expect(supportFirstIn2021()).toEqual({ department: 'Support', hired: 221 });
    });
  });

  describe('terraform_plan.yml', () => {
    const w = workflow('terraform_plan.yml');

    it('plans on pull requests touching terraform/, read-only: no refresh, no lock, no apply', () => {
      expect(Object.keys(w.on)).toEqual(['pull_request']);
      expect(w.on.pull_request?.paths).toContain('terraform/**');
      const run = script(w);
      expect(run).toMatch(/terraform plan -refresh=false -lock=false/);
      expect(run).not.toMatch(/terraform (apply|destroy)/);
      expect(w.jobs['terraform-plan']!.if).toBe('github.event.pull_request.head.repo.full_name == github.repository');
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
    for (const file of ['create_ecr_repo.yml', 'terraform_app_runner.yml', 'terraform_ecs.yml', 'terraform-destroy.yml']) {
      expect(workflow(file).concurrency).toEqual({ group: 'terraform-state', 'cancel-in-progress': false });
    }
  });
});

/**
 * The 2021 hires per department of data/historical, counted here from the CSV files (not by the
 * service): the department above the mean that hired most, as the smoke test expects it first.
 */
function supportFirstIn2021(): { department: string; hired: number } {
  const rows = (file: string): string[][] =>
    readFileSync(`${ROOT}data/historical/${file}`, 'utf8')
      .trim()
      .split(/\r?\n/)
      .map((line) => Papa.parse<string[]>(line).data[0]!);
  const names = new Map(rows('departments.csv').map(([id, name]) => [id!, name!]));
  const hires = new Map<string, number>([...names.keys()].map((id) => [id, 0]));
  for (const [, , datetime, department] of rows('hired_employees.csv')) {
    if (department && datetime?.startsWith('2021-') && hires.has(department)) hires.set(department, hires.get(department)! + 1);
  }
  const mean = [...hires.values()].reduce((a, b) => a + b, 0) / hires.size;
  const [id, hired] = [...hires.entries()].filter(([, n]) => n > mean).sort((a, b) => b[1] - a[1])[0]!;
  return { department: names.get(id)!, hired };
}
