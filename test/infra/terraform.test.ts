import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { parse } from '@cdktf/hcl2json';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './dockerfile.js';

/** hcl2json's shape: blocks are arrays (one entry per block), labels are object keys. */
type Block = Record<string, unknown>;
interface Config {
  terraform?: Block[];
  variable?: Record<string, Block[]>;
  output?: Record<string, Block[]>;
  locals?: Block[];
  resource?: Record<string, Record<string, Block[]>>;
  data?: Record<string, Record<string, Block[]>>;
}

const MAIN = `${ROOT}terraform/`;
const BOOTSTRAP = `${ROOT}terraform/bootstrap/`;
const ECR_POLICY_ARN = 'arn:aws:iam::aws:policy/service-role/AWSAppRunnerServicePolicyForECRAccess';

const tfFiles = (dir: string): string[] =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.tf'))
    .map((f) => dir + f);

/** Parses every .tf file of a folder and merges them, as Terraform does with a module. */
async function load(dir: string): Promise<Config> {
  const merged: Record<string, unknown> = {};
  for (const file of tfFiles(dir)) {
    const parsed = await parse(file, readFileSync(file, 'utf8'));
    for (const [key, value] of Object.entries(parsed)) {
      // terraform {} and locals {} may repeat across files; labelled blocks may not.
      if (Array.isArray(value)) merged[key] = [...((merged[key] as unknown[] | undefined) ?? []), ...(value as unknown[])];
      else merged[key] = mergeLabelled((merged[key] ?? {}) as Record<string, unknown>, value as Record<string, unknown>, key);
    }
  }
  return merged as Config;
}

function mergeLabelled(a: Record<string, unknown>, b: Record<string, unknown>, path: string): Record<string, unknown> {
  const result = { ...a };
  for (const [label, value] of Object.entries(b)) {
    if (result[label] === undefined) result[label] = value;
    else if (Array.isArray(value)) throw new Error(`${path}.${label} is declared twice`);
    else result[label] = mergeLabelled(result[label] as Record<string, unknown>, value as Record<string, unknown>, `${path}.${label}`);
  }
  return result;
}

const one = (blocks: Block[] | undefined, what: string): Block => {
  if (blocks === undefined || blocks.length !== 1) throw new Error(`expected exactly one ${what}`);
  return blocks[0]!;
};
const nested = (block: Block, ...path: string[]): Block => path.reduce((b, key) => one(b[key] as Block[] | undefined, key), block);

const variable = (config: Config, name: string): Block => one(config.variable?.[name], `variable.${name}`);

/** Every resource of a type, whatever its label. */
const resources = (config: Config, type: string): [string, Block][] =>
  Object.entries(config.resource?.[type] ?? {}).map(([label, blocks]) => [label, one(blocks, `${type}.${label}`)]);
const resourceNamed = (config: Config, type: string, attribute: string, name: string): [string, Block] => {
  const found = resources(config, type).filter(([, b]) => b[attribute] === name);
  if (found.length !== 1) throw new Error(`expected one ${type} with ${attribute} = "${name}", found ${found.length}`);
  return found[0]!;
};

/** Walks every attribute of a parsed configuration: [path, value] for each scalar. */
function* scalars(value: unknown, path = ''): Generator<[string, string | number | boolean]> {
  if (Array.isArray(value)) for (const [i, v] of value.entries()) yield* scalars(v, `${path}[${i}]`);
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) yield* scalars(v, `${path}.${k}`);
  else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') yield [path, value];
}

let main: Config;
let bootstrap: Config;
beforeAll(async () => {
  main = await load(MAIN);
  bootstrap = await load(BOOTSTRAP);
});

describe('Terraform (terraform/)', () => {
  it('parses, every file', async () => {
    for (const file of [...tfFiles(MAIN), ...tfFiles(BOOTSTRAP)])
      await expect(parse(file, readFileSync(file, 'utf8')), file).resolves.toBeTypeOf('object');
  });

  it('pins Terraform and the providers to a major version', () => {
    for (const config of [main, bootstrap]) {
      const settings = config.terraform!.find((t) => t.required_version !== undefined)!;
      expect(settings.required_version).toMatch(/(~>|<)\s*\d/);
      const providers = config.terraform!.flatMap(
        (t) => (t.required_providers as Record<string, { source: string; version: string }>[]) ?? [],
      );
      const aws = providers.find((p) => p.aws !== undefined)?.aws;
      expect(aws?.source).toBe('hashicorp/aws');
      for (const provider of providers.flatMap((p) => Object.values(p))) {
        expect(provider.version, provider.source).toMatch(/^(~>\s*\d+\.\d+|\d+\.\d+\.\d+|.*<\s*\d+.*)$/);
      }
    }
  });

  it('keeps state in S3 with DynamoDB locking, encrypted', () => {
    const backends = main.terraform!.flatMap((t) => (t.backend === undefined ? [] : [t.backend as Record<string, Block[]>]));
    expect(backends.map((b) => Object.keys(b))).toEqual([['s3']]);
    const backend = one(backends[0]!.s3, 'backend "s3"');
    expect(backend.key).toMatch(/\.tfstate$/);
    expect(backend.encrypt).toBe(true);
    expect(backend.dynamodb_table).toBeTypeOf('string');
    // The bootstrap creates that table and a private, versioned bucket.
    const [, table] = resources(bootstrap, 'aws_dynamodb_table')[0]!;
    expect(table.hash_key).toBe('LockID');
    expect(variable(bootstrap, 'lock_table_name').default).toBe(backend.dynamodb_table);
    expect(resources(bootstrap, 'aws_s3_bucket_versioning')).toHaveLength(1);
    expect(resources(bootstrap, 'aws_s3_bucket_server_side_encryption_configuration')).toHaveLength(1);
    const [, block] = resources(bootstrap, 'aws_s3_bucket_public_access_block')[0]!;
    expect(block).toMatchObject({
      block_public_acls: true,
      block_public_policy: true,
      ignore_public_acls: true,
      restrict_public_buckets: true,
    });
  });

  it('describes every variable, and has the region, account, image tag, instance size and scaling ones', () => {
    for (const config of [main, bootstrap]) {
      for (const [name, blocks] of Object.entries(config.variable ?? {}))
        expect(String(one(blocks, name).description ?? ''), name).not.toBe('');
    }
    expect(Object.keys(main.variable!)).toEqual(
      expect.arrayContaining([
        'aws_region',
        'aws_account_id',
        'image_tag',
        'instance_cpu',
        'instance_memory',
        'min_size',
        'max_size',
        'enable_postgres',
      ]),
    );
    expect(variable(main, 'enable_postgres').default).toBe(false);
  });

  it('outputs the service URL and the ECR repository URL', () => {
    expect(Object.keys(main.output!)).toEqual(expect.arrayContaining(['service_url', 'ecr_repository_url']));
    expect(one(main.output?.service_url, 'output.service_url').value).toMatch(/aws_apprunner_service\.\w+\.service_url/);
  });

  it('creates the ECR repository globant-api with scan on push and a lifecycle policy keeping the last N images', () => {
    const [label, repo] = resourceNamed(main, 'aws_ecr_repository', 'name', 'globant-api');
    expect(nested(repo, 'image_scanning_configuration').scan_on_push).toBe(true);
    const policies = resources(main, 'aws_ecr_lifecycle_policy').filter(([, p]) =>
      String(p.repository).includes(`aws_ecr_repository.${label}.`),
    );
    expect(policies).toHaveLength(1);
    const policy = String(policies[0]![1].policy);
    expect(policy).toMatch(/imageCountMoreThan/);
    expect(policy).toMatch(/countNumber\s*=\s*var\.ecr_keep_images/);
    expect(policy).toMatch(/expire/);
  });

  it('gives App Runner the ECR pull role globant-project-apprunner-ecr-access with the least-privilege managed policy only', () => {
    const [label, role] = resourceNamed(main, 'aws_iam_role', 'name', 'globant-project-apprunner-ecr-access');
    const trust = /^\$\{data\.aws_iam_policy_document\.(\w+)\.json\}$/.exec(String(role.assume_role_policy));
    expect(trust).not.toBeNull();
    const statement = nested(main.data!.aws_iam_policy_document![trust![1]!]![0]!, 'statement');
    expect(statement.actions).toEqual(['sts:AssumeRole']);
    expect(nested(statement, 'principals')).toEqual({ type: 'Service', identifiers: ['build.apprunner.amazonaws.com'] });
    const attachments = resources(main, 'aws_iam_role_policy_attachment').filter(([, a]) =>
      String(a.role).includes(`aws_iam_role.${label}.`),
    );
    expect(attachments.map(([, a]) => a.policy_arn)).toEqual([ECR_POLICY_ARN]);
  });

  it('grants no full-access or administrator policy, and no "*" action, anywhere', () => {
    for (const file of [...tfFiles(MAIN), ...tfFiles(BOOTSTRAP)]) {
      const text = readFileSync(file, 'utf8');
      expect(text, file).not.toMatch(/FullAccess|AdministratorAccess|PowerUserAccess/);
    }
    for (const config of [main, bootstrap]) {
      for (const [path, value] of scalars(config.data?.aws_iam_policy_document)) {
        if (/\.actions\[\d+\]$/.test(path)) expect(value, path).not.toBe('*');
      }
    }
    // Every attached managed policy is the ECR pull policy.
    expect(resources(main, 'aws_iam_role_policy_attachment').map(([, a]) => a.policy_arn)).toEqual([ECR_POLICY_ARN]);
  });

  it('runs the App Runner service globant-api from ECR on port 8000, /health checked, auto-deployed, auto-scaled', () => {
    const [, service] = resourceNamed(main, 'aws_apprunner_service', 'service_name', 'globant-api');
    const source = nested(service, 'source_configuration');
    expect(source.auto_deployments_enabled).toBe(true);
    expect(nested(source, 'authentication_configuration').access_role_arn).toMatch(/aws_iam_role\.\w+\.arn/);
    const image = nested(source, 'image_repository');
    expect(image.image_repository_type).toBe('ECR');
    expect(image.image_identifier).toMatch(/aws_ecr_repository\.\w+\.repository_url.*var\.image_tag/);
    expect(String(nested(image, 'image_configuration').port)).toBe('8000');
    expect(nested(service, 'health_check_configuration')).toMatchObject({ protocol: 'HTTP', path: '/health' });
    const instance = nested(service, 'instance_configuration');
    expect(instance.cpu).toBe('${var.instance_cpu}');
    expect(instance.memory).toBe('${var.instance_memory}');
    expect(service.auto_scaling_configuration_arn).toMatch(/aws_apprunner_auto_scaling_configuration_version\.\w+\.arn/);
  });

  it('limits the service to one instance on SQLite, and scales out only with PostgreSQL', () => {
    const [, scaling] = resources(main, 'aws_apprunner_auto_scaling_configuration_version')[0]!;
    const locals = Object.assign({}, ...main.locals!) as Record<string, unknown>;
    const resolve = (value: unknown): string => String(value).replace(/^\$\{local\.(\w+)\}$/, (_m, name: string) => String(locals[name]));
    expect(resolve(scaling.max_size)).toBe('${var.enable_postgres ? var.max_size : 1}');
    expect(resolve(scaling.min_size)).toBe('${var.enable_postgres ? var.min_size : 1}');
  });

  it('passes API_KEY (and the PostgreSQL DATABASE_URL) from Secrets Manager, never as plain environment', () => {
    const [, service] = resourceNamed(main, 'aws_apprunner_service', 'service_name', 'globant-api');
    const image = nested(service, 'source_configuration', 'image_repository', 'image_configuration');
    const locals = Object.assign({}, ...main.locals!) as Record<string, unknown>;
    const secrets = String(image.runtime_environment_secrets).replace(/^\$\{local\.(\w+)\}$/, (_m, name: string) => String(locals[name]));
    expect(secrets).toMatch(/API_KEY\s*=\s*aws_secretsmanager_secret\.api_key\.arn/);
    expect(secrets).toMatch(/DATABASE_URL\s*=\s*one\(aws_secretsmanager_secret\.database_url\[\*\]\.arn\)/);
    const variables = String(image.runtime_environment_variables).replace(/^\$\{local\.(\w+)\}$/, (_m, name: string) =>
      String(locals[name]),
    );
    expect(variables).not.toMatch(/API_KEY/);
    expect(variables).toMatch(/DATABASE_URL\s*=\s*"sqlite:/);
    // The instance role may read exactly those secrets.
    const [, instanceRole] = resourceNamed(main, 'aws_iam_role', 'name', 'globant-project-apprunner-instance');
    expect(instanceRole.assume_role_policy).toMatch(/apprunner_tasks_trust/);
    expect(nested(service, 'instance_configuration').instance_role_arn).toMatch(/aws_iam_role\.apprunner_instance\.arn/);
    const read = nested(main.data!.aws_iam_policy_document!.apprunner_read_secrets![0]!, 'statement');
    expect(read.actions).toEqual(['secretsmanager:GetSecretValue']);
  });

  it('has an optional RDS for PostgreSQL (enable_postgres), private, encrypted, reached through a VPC connector', () => {
    const [, db] = resources(main, 'aws_db_instance')[0]!;
    expect(db.count).toBe('${local.db_count}');
    expect((Object.assign({}, ...main.locals!) as Record<string, unknown>).db_count).toBe('${var.enable_postgres ? 1 : 0}');
    expect(db).toMatchObject({ engine: 'postgres', publicly_accessible: false, storage_encrypted: true });
    expect(db.password === undefined ? db.manage_master_user_password : db.password).toMatch(
      /^(true|\$\{random_password\.\w+\[0\]\.result\})$/,
    );
    const [, connector] = resourceNamed(main, 'aws_apprunner_vpc_connector', 'vpc_connector_name', 'globant-api');
    expect(connector.count).toBe('${local.db_count}');
    const [, service] = resourceNamed(main, 'aws_apprunner_service', 'service_name', 'globant-api');
    const egress = nested(service, 'network_configuration', 'egress_configuration');
    expect(egress.egress_type).toBe('${var.enable_postgres ? "VPC" : "DEFAULT"}');
    expect(egress.vpc_connector_arn).toMatch(/aws_apprunner_vpc_connector\.\w+/);
    const secret = one(main.resource?.aws_secretsmanager_secret_version?.database_url, 'aws_secretsmanager_secret_version.database_url');
    expect(secret.secret_string).toMatch(/random_password\.db\[0\]\.result.*aws_db_instance\.postgres\[0\]\.address/);
  });

  it('hard-codes no secret: passwords, keys and tokens are generated or referenced, never literal', () => {
    const sensitive = /(password|secret_string|api_key|access_key|secret_key|token)$/i;
    for (const config of [main, bootstrap]) {
      for (const [path, value] of scalars(config)) {
        const key = path
          .split('.')
          .at(-1)!
          .replace(/\[\d+\]$/, '');
        if (sensitive.test(key)) expect(String(value), path).toMatch(/\$\{(random_password|aws_|var\.|data\.)/);
        expect(String(value), path).not.toMatch(/AKIA[0-9A-Z]{16}|postgres(ql)?:\/\/[^:/@\s]+:[^$@\s]+@/);
      }
      // No default for a variable that names a secret.
      for (const [name, blocks] of Object.entries(config.variable ?? {})) {
        if (/password|secret|api_key|token/i.test(name)) expect(one(blocks, name).default, name).toBeUndefined();
      }
    }
  });

  it('commits no state and git-ignores *.tfstate* and .terraform/', () => {
    const tracked = execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' }).split('\n');
    expect(tracked.filter((f) => /\.tfstate(\.|$)|(^|\/)\.terraform\//.test(f))).toEqual([]);
    const probes = [
      'terraform/terraform.tfstate',
      'terraform/terraform.tfstate.backup',
      'terraform/bootstrap/terraform.tfstate',
      'terraform/.terraform/providers/x',
      'terraform/bootstrap/.terraform/providers/x',
      'terraform/tfplan.tfstate.1700000000.backup',
    ];
    const ignored = execFileSync('git', ['check-ignore', '--no-index', ...probes], { cwd: ROOT, encoding: 'utf8' })
      .trim()
      .split('\n');
    expect(ignored).toEqual(probes);
  });
});
