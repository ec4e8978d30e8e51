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
  moved?: Block[];
}

const MAIN = `${ROOT}terraform/`;
const BOOTSTRAP = `${ROOT}terraform/bootstrap/`;
const ECR_POLICY_ARN = 'arn:aws:iam::aws:policy/service-role/AWSAppRunnerServicePolicyForECRAccess';
const ECS_INFRA_POLICY_ARN = 'arn:aws:iam::aws:policy/service-role/AmazonECSInfrastructureRoleforExpressGatewayServices';

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
const localsOf = (config: Config): Record<string, unknown> => Object.assign({}, ...(config.locals ?? [])) as Record<string, unknown>;
/** `${local.x}` replaced by the expression of local x (one level). */
const resolveLocal = (config: Config, value: unknown): string =>
  String(value).replace(/^\$\{local\.(\w+)\}$/, (_m, name: string) => String(localsOf(config)[name]));
const policyDocument = (config: Config, name: string): Block[] => {
  const doc = config.data?.aws_iam_policy_document?.[name];
  if (doc === undefined) throw new Error(`no data.aws_iam_policy_document.${name}`);
  return one(doc, name).statement as Block[];
};
/** The policy document a role's trust or a role policy's `policy` names (`${data.aws_iam_policy_document.X.json}`). */
const documentName = (reference: unknown): string => {
  const match = /^\$\{data\.aws_iam_policy_document\.(\w+)(?:\[0\])?\.json\}$/.exec(String(reference));
  if (match === null) throw new Error(`not a policy document reference: ${String(reference)}`);
  return match[1]!;
};
const inlinePolicies = (config: Config, roleLabel: string): Block[] =>
  resources(config, 'aws_iam_role_policy')
    .filter(([, p]) => String(p.role).includes(`aws_iam_role.${roleLabel}[0].`) || String(p.role).includes(`aws_iam_role.${roleLabel}.`))
    .flatMap(([, p]) => policyDocument(config, documentName(p.policy)));

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
      if (config === main) {
        // aws_ecs_express_gateway_service first shipped in hashicorp/aws 6.23.0.
        const [major, minor] = /~>\s*(\d+)\.(\d+)/.exec(aws!.version)!.slice(1).map(Number) as [number, number];
        expect(major).toBe(6);
        expect(minor).toBeGreaterThanOrEqual(23);
      }
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
        'compute',
        'scaling_metric',
        'scaling_target_value',
        'lb_idle_timeout_seconds',
        'import_prefix',
      ]),
    );
    // Unset: PostgreSQL with ECS, SQLite with App Runner (as before compute existed).
    expect(variable(main, 'enable_postgres').default).toBeNull();
    expect(localsOf(main).postgres).toBe('${var.enable_postgres == null ? local.ecs : var.enable_postgres}');
    expect(String(variable(main, 'enable_postgres').description)).toMatch(/LOST AT EVERY DEPLOYMENT/);
    expect(variable(main, 'import_prefix').default).toBe('imports/');
  });

  it('chooses the compute with variable "compute": ecs_express by default, or apprunner', () => {
    const compute = variable(main, 'compute');
    expect(compute.default).toBe('ecs_express');
    const validation = nested(compute, 'validation');
    expect(validation.condition).toBe('${contains(["ecs_express", "apprunner"], var.compute)}');
    const locals = localsOf(main);
    expect(locals.ecs).toBe('${var.compute == "ecs_express"}');
    expect(locals.apprunner).toBe('${var.compute == "apprunner"}');
    expect(locals.ecs_count).toBe('${local.ecs ? 1 : 0}');
    expect(locals.apprunner_count).toBe('${local.apprunner ? 1 : 0}');
    // Each compute's resources exist only when chosen.
    for (const type of ['aws_ecs_express_gateway_service', 'aws_cloudwatch_log_group', 'aws_security_group'])
      expect(resources(main, type).find(([label]) => label === 'globant_api' || label === 'service')![1].count, type).toBe(
        '${local.ecs_count}',
      );
    for (const type of ['aws_apprunner_service', 'aws_apprunner_auto_scaling_configuration_version'])
      expect(one(main.resource?.[type]?.globant_api, type).count, type).toBe('${local.apprunner_count}');
    for (const label of ['apprunner_ecr_access', 'apprunner_instance'])
      expect(one(main.resource?.aws_iam_role?.[label], label).count, label).toBe('${local.apprunner_count}');
  });

  it('moves the App Runner resources of earlier deployments to their [0] address, so their plan replaces nothing', () => {
    const moves = (main.moved ?? []).map((m) => [m.from, m.to]);
    for (const address of [
      'aws_apprunner_service.globant_api',
      'aws_apprunner_auto_scaling_configuration_version.globant_api',
      'aws_iam_role.apprunner_ecr_access',
      'aws_iam_role_policy_attachment.apprunner_ecr_access',
      'aws_iam_role.apprunner_instance',
      'aws_iam_role_policy.apprunner_read_secrets',
    ])
      expect(moves).toContainEqual([`\${${address}}`, `\${${address}[0]}`]);
  });

  it('outputs the service URL (ECS Express endpoint or App Runner URL), the ECR repository URL and the import bucket', () => {
    expect(Object.keys(main.output!)).toEqual(
      expect.arrayContaining(['service_url', 'ecr_repository_url', 'import_bucket', 'lb_idle_timeout_seconds', 'api_key_secret_arn']),
    );
    const url = resolveLocal(main, one(main.output?.service_url, 'output.service_url').value);
    expect(url).toMatch(/^\$\{local\.ecs \?/);
    expect(url).toMatch(/local\.ecs_endpoint/);
    expect(url).toMatch(/aws_apprunner_service\.globant_api\[0\]\.service_url/);
    expect(String(localsOf(main).ecs_endpoint)).toMatch(/aws_ecs_express_gateway_service\.globant_api\[0\]\.ingress_paths/);
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
    const statement = nested(main.data!.aws_iam_policy_document![documentName(role.assume_role_policy)]![0]!, 'statement');
    expect(statement.actions).toEqual(['sts:AssumeRole']);
    expect(nested(statement, 'principals')).toEqual({ type: 'Service', identifiers: ['build.apprunner.amazonaws.com'] });
    const attachments = resources(main, 'aws_iam_role_policy_attachment').filter(([, a]) =>
      String(a.role).includes(`aws_iam_role.${label}[0].`),
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
    // The only attached managed policies: App Runner's ECR pull policy and ECS Express Mode's infrastructure policy.
    expect(
      resources(main, 'aws_iam_role_policy_attachment')
        .map(([, a]) => a.policy_arn)
        .sort(),
    ).toEqual([ECS_INFRA_POLICY_ARN, ECR_POLICY_ARN].sort());
    // Inline policies: every action names a service and an operation (no `*`, no `service:*`).
    for (const [path, value] of scalars(main.data?.aws_iam_policy_document)) {
      if (/\.actions\[\d+\]$/.test(path)) expect(String(value), path).toMatch(/^[a-z0-9-]+:[A-Za-z]+$/);
    }
  });

  it('runs the App Runner service globant-api from ECR on port 8000, /health checked, auto-deployed, auto-scaled', () => {
    const [, service] = resourceNamed(main, 'aws_apprunner_service', 'service_name', 'globant-api');
    const source = nested(service, 'source_configuration');
    expect(source.auto_deployments_enabled).toBe(true);
    expect(nested(source, 'authentication_configuration').access_role_arn).toBe('${aws_iam_role.apprunner_ecr_access[0].arn}');
    const image = nested(source, 'image_repository');
    expect(image.image_repository_type).toBe('ECR');
    expect(resolveLocal(main, image.image_identifier)).toMatch(/aws_ecr_repository\.\w+\.repository_url.*var\.image_tag/);
    expect(String(nested(image, 'image_configuration').port)).toBe('8000');
    expect(nested(service, 'health_check_configuration')).toMatchObject({ protocol: 'HTTP', path: '/health' });
    const instance = nested(service, 'instance_configuration');
    expect(instance.cpu).toBe('${var.instance_cpu}');
    expect(instance.memory).toBe('${var.instance_memory}');
    expect(service.auto_scaling_configuration_arn).toMatch(/aws_apprunner_auto_scaling_configuration_version\.\w+\[0\]\.arn/);
  });

  it('limits the service to one instance or task on SQLite, and scales out only with PostgreSQL, on both computes', () => {
    const [, scaling] = resources(main, 'aws_apprunner_auto_scaling_configuration_version')[0]!;
    expect(resolveLocal(main, scaling.max_size)).toBe('${local.postgres ? var.max_size : 1}');
    expect(resolveLocal(main, scaling.min_size)).toBe('${local.postgres ? var.min_size : 1}');
    const [, ecs] = resourceNamed(main, 'aws_ecs_express_gateway_service', 'service_name', 'globant-api');
    const target = one(ecs.scaling_target as Block[], 'scaling_target');
    expect(resolveLocal(main, target.max_task_count)).toBe('${local.postgres ? var.max_size : 1}');
    expect(resolveLocal(main, target.min_task_count)).toBe('${local.postgres ? var.min_size : 1}');
    expect(target).toMatchObject({
      auto_scaling_metric: '${var.scaling_metric}',
      auto_scaling_target_value: '${var.scaling_target_value}',
    });
    expect(nested(variable(main, 'scaling_metric'), 'validation').condition).toMatch(
      /AVERAGE_CPU.*AVERAGE_MEMORY.*REQUEST_COUNT_PER_TARGET/,
    );
  });

  it('passes API_KEY (and the PostgreSQL DATABASE_URL) from Secrets Manager, never as plain environment, on both computes', () => {
    const secrets = String(localsOf(main).secrets);
    expect(secrets).toMatch(/API_KEY\s*=\s*aws_secretsmanager_secret\.api_key\.arn/);
    expect(secrets).toMatch(
      /DATABASE_URL\s*=\s*one\(aws_secretsmanager_secret\.database_url\[\*\]\.arn\)\s*\}\s*:\s*name => arn if local\.postgres/,
    );
    const environment = String(localsOf(main).environment);
    expect(environment).not.toMatch(/API_KEY/);
    expect(environment).toMatch(/DATABASE_URL\s*=\s*"sqlite:.*if !local\.postgres/s);
    expect(environment).toMatch(/PORT\s*=\s*"8000"/);

    // App Runner: runtime secrets and variables are those locals; the instance role may read exactly those secrets.
    const [, service] = resourceNamed(main, 'aws_apprunner_service', 'service_name', 'globant-api');
    const image = nested(service, 'source_configuration', 'image_repository', 'image_configuration');
    expect(image.runtime_environment_secrets).toBe('${local.secrets}');
    expect(image.runtime_environment_variables).toBe('${local.environment}');
    const [, instanceRole] = resourceNamed(main, 'aws_iam_role', 'name', 'globant-project-apprunner-instance');
    expect(instanceRole.assume_role_policy).toMatch(/apprunner_tasks_trust/);
    expect(nested(service, 'instance_configuration').instance_role_arn).toMatch(/aws_iam_role\.apprunner_instance\[0\]\.arn/);
    const read = nested(main.data!.aws_iam_policy_document!.apprunner_read_secrets![0]!, 'statement');
    expect(read).toMatchObject({ actions: ['secretsmanager:GetSecretValue'], resources: '${local.secret_arns}' });

    // ECS: the container's `secret` blocks come from the same map, its environment from the other.
    const [, ecs] = resourceNamed(main, 'aws_ecs_express_gateway_service', 'service_name', 'globant-api');
    const container = one(ecs.primary_container as Block[], 'primary_container');
    const dynamic = container.dynamic as Record<string, Block[]>;
    const secret = one(dynamic.secret, 'dynamic "secret"');
    expect(secret.for_each).toBe('${local.secrets}');
    expect(one(secret.content as Block[], 'content')).toEqual({ name: '${secret.key}', value_from: '${secret.value}' });
    expect(one(dynamic.environment, 'dynamic "environment"').for_each).toBe('${local.environment}');
    expect(container.environment).toBeUndefined();
  });

  it('has RDS for PostgreSQL (on by default with ECS), private, encrypted, reached from the service only', () => {
    const [, db] = resources(main, 'aws_db_instance')[0]!;
    expect(db.count).toBe('${local.db_count}');
    expect(localsOf(main).db_count).toBe('${local.postgres ? 1 : 0}');
    expect(db).toMatchObject({ engine: 'postgres', publicly_accessible: false, storage_encrypted: true });
    expect(db.password === undefined ? db.manage_master_user_password : db.password).toMatch(
      /^(true|\$\{random_password\.\w+\[0\]\.result\})$/,
    );
    // App Runner reaches it through its VPC connector, ECS tasks from their own security group.
    const [, connector] = resourceNamed(main, 'aws_apprunner_vpc_connector', 'vpc_connector_name', 'globant-api');
    expect(connector.count).toBe('${local.connector_count}');
    expect(localsOf(main).connector_count).toBe('${local.apprunner && local.postgres ? 1 : 0}');
    const [, service] = resourceNamed(main, 'aws_apprunner_service', 'service_name', 'globant-api');
    const egress = nested(service, 'network_configuration', 'egress_configuration');
    expect(egress.egress_type).toBe('${local.postgres ? "VPC" : "DEFAULT"}');
    expect(egress.vpc_connector_arn).toMatch(/aws_apprunner_vpc_connector\.\w+/);
    const ingress = resources(main, 'aws_vpc_security_group_ingress_rule').filter(([, r]) =>
      String(r.security_group_id).includes('aws_security_group.db['),
    );
    expect(ingress.map(([, r]) => [r.referenced_security_group_id, r.from_port, r.to_port]).sort()).toEqual(
      [
        ['${aws_security_group.apprunner_connector[0].id}', 5432, 5432],
        ['${aws_security_group.service[0].id}', 5432, 5432],
      ].sort(),
    );
    for (const [, rule] of ingress) expect(rule.cidr_ipv4).toBeUndefined();
    const secret = one(main.resource?.aws_secretsmanager_secret_version?.database_url, 'aws_secretsmanager_secret_version.database_url');
    expect(secret.secret_string).toMatch(/random_password\.db\[0\]\.result.*aws_db_instance\.postgres\[0\]\.address/);
  });

  describe('ECS Express Mode (compute = "ecs_express")', () => {
    const service = (): Block => resourceNamed(main, 'aws_ecs_express_gateway_service', 'service_name', 'globant-api')[1];
    const role = (name: string): [string, Block] => resourceNamed(main, 'aws_iam_role', 'name', name);
    const trustOf = (roleBlock: Block): Block => one(policyDocument(main, documentName(roleBlock.assume_role_policy)), 'trust statement');

    it('runs the image from ECR on port 8000, /health checked, CPU and memory from variables, waiting for steady state', () => {
      const s = service();
      expect(s.health_check_path).toBe('/health');
      expect(s.cpu).toBe('${var.instance_cpu}');
      expect(s.memory).toBe('${var.instance_memory}');
      expect(s.wait_for_steady_state).toBe(true);
      const container = one(s.primary_container as Block[], 'primary_container');
      expect(container.container_port).toBe(8000);
      expect(container.image).toBe('${local.image}');
      expect(localsOf(main).image).toBe('${aws_ecr_repository.globant_api.repository_url}:${var.image_tag}');
      // Logs go to a log group of our own, so the execution role's log permissions can name it.
      expect(one(container.aws_logs_configuration as Block[], 'aws_logs_configuration').log_group).toBe(
        '${aws_cloudwatch_log_group.globant_api[0].name}',
      );
      // Public subnets of the project's VPC, and the tasks' own security group.
      const network = one(s.network_configuration as Block[], 'network_configuration');
      expect(network).toEqual({ subnets: '${aws_subnet.public[*].id}', security_groups: ['${aws_security_group.service[0].id}'] });
      expect(s.depends_on).toContain('${time_sleep.iam_propagation}');
    });

    it('has an execution role trusted by ecs-tasks that may pull this image, write this log group and read these secrets, nothing else', () => {
      const [label, execution] = role('globant-project-ecs-execution');
      expect(service().execution_role_arn).toBe(`\${aws_iam_role.${label}[0].arn}`);
      const trust = trustOf(execution);
      expect(trust.actions).toEqual(['sts:AssumeRole']);
      expect(nested(trust, 'principals')).toEqual({ type: 'Service', identifiers: ['ecs-tasks.amazonaws.com'] });
      // Only tasks of this account may assume it (confused-deputy protection).
      expect(nested(trust, 'condition')).toEqual({
        test: 'StringEquals',
        variable: 'aws:SourceAccount',
        values: ['${var.aws_account_id}'],
      });
      const statements = inlinePolicies(main, label);
      const bySid = Object.fromEntries(statements.map((st) => [st.sid, st]));
      expect(Object.keys(bySid).sort()).toEqual(['EcrLogin', 'PullOwnImage', 'ReadOwnSecrets', 'WriteOwnLogs']);
      expect(bySid.EcrLogin).toMatchObject({ actions: ['ecr:GetAuthorizationToken'], resources: ['*'] });
      expect(bySid.PullOwnImage!.resources).toEqual(['${aws_ecr_repository.globant_api.arn}']);
      expect(bySid.WriteOwnLogs!.resources).toEqual(['${aws_cloudwatch_log_group.globant_api[0].arn}:*']);
      expect(bySid.ReadOwnSecrets).toMatchObject({ actions: ['secretsmanager:GetSecretValue'], resources: '${local.secret_arns}' });
      // Only EcrLogin (an action without resource-level permissions) names every resource.
      for (const st of statements) if (st.sid !== 'EcrLogin') expect(JSON.stringify(st.resources), String(st.sid)).not.toContain('"*"');
      expect(
        resources(main, 'aws_iam_role_policy_attachment').filter(([, a]) => String(a.role).includes(`aws_iam_role.${label}[`)),
      ).toEqual([]);
    });

    it('has an infrastructure role trusted by ecs.amazonaws.com with only the Express Mode infrastructure policy', () => {
      const [label, infrastructure] = role('globant-project-ecs-infrastructure');
      expect(service().infrastructure_role_arn).toBe(`\${aws_iam_role.${label}[0].arn}`);
      const trust = trustOf(infrastructure);
      expect(nested(trust, 'principals')).toEqual({ type: 'Service', identifiers: ['ecs.amazonaws.com'] });
      const attached = resources(main, 'aws_iam_role_policy_attachment').filter(([, a]) =>
        String(a.role).includes(`aws_iam_role.${label}[0].`),
      );
      expect(attached.map(([, a]) => a.policy_arn)).toEqual([ECS_INFRA_POLICY_ARN]);
      expect(inlinePolicies(main, label)).toEqual([]);
    });

    it('has a task role whose only permissions are the import prefix', () => {
      const [label, task] = role('globant-project-ecs-task');
      expect(service().task_role_arn).toBe(`\${aws_iam_role.${label}[0].arn}`);
      expect(nested(trustOf(task), 'principals')).toEqual({ type: 'Service', identifiers: ['ecs-tasks.amazonaws.com'] });
      const policies = resources(main, 'aws_iam_role_policy').filter(([, p]) => String(p.role).includes(`aws_iam_role.${label}[0].`));
      expect(policies.map(([, p]) => documentName(p.policy))).toEqual(['imports_access']);
      expect(
        resources(main, 'aws_iam_role_policy_attachment').filter(([, a]) => String(a.role).includes(`aws_iam_role.${label}[`)),
      ).toEqual([]);
    });

    it("lets the tasks' security group take port 8000 from inside the VPC only, and send HTTPS and PostgreSQL only", () => {
      const sg = one(main.resource?.aws_security_group?.service, 'aws_security_group.service');
      // Rules are separate resources, so a rule Express Mode adds for its load balancer is left alone.
      expect(sg.ingress).toBeUndefined();
      expect(sg.egress).toBeUndefined();
      const of = (type: string): Block[] =>
        resources(main, type)
          .map(([, r]) => r)
          .filter((r) => r.security_group_id === '${aws_security_group.service[0].id}');
      expect(of('aws_vpc_security_group_ingress_rule').map((r) => [r.cidr_ipv4, r.from_port, r.to_port])).toEqual([
        ['${var.vpc_cidr}', 8000, 8000],
      ]);
      expect(
        of('aws_vpc_security_group_egress_rule')
          .map((r) => [r.cidr_ipv4 ?? r.referenced_security_group_id, r.from_port])
          .sort(),
      ).toEqual(
        [
          ['0.0.0.0/0', 443],
          ['${aws_security_group.db[0].id}', 5432],
        ].sort(),
      );
    });

    it('documents the load balancer idle timeout the workflow sets (the Express resource has no argument for it)', () => {
      const timeout = variable(main, 'lb_idle_timeout_seconds');
      expect(timeout.default).toBeGreaterThanOrEqual(300);
      expect(String(timeout.description)).toMatch(/workflow/);
      expect(service().idle_timeout).toBeUndefined();
    });
  });

  describe('the import bucket', () => {
    const bucketRef = '${aws_s3_bucket.imports.id}';
    const forBucket = (type: string): Block => {
      const found = resources(main, type).filter(([, r]) => r.bucket === bucketRef);
      expect(found, type).toHaveLength(1);
      return found[0]![1];
    };

    it('is private: every public access blocked, objects owned by the bucket owner, TLS only', () => {
      expect(forBucket('aws_s3_bucket_public_access_block')).toMatchObject({
        block_public_acls: true,
        block_public_policy: true,
        ignore_public_acls: true,
        restrict_public_buckets: true,
      });
      expect(nested(forBucket('aws_s3_bucket_ownership_controls'), 'rule').object_ownership).toBe('BucketOwnerEnforced');
      const deny = one(policyDocument(main, documentName(forBucket('aws_s3_bucket_policy').policy)), 'statement');
      expect(deny.effect).toBe('Deny');
      expect(nested(deny, 'condition')).toEqual({ test: 'Bool', variable: 'aws:SecureTransport', values: ['false'] });
    });

    it('encrypts every object at rest (SSE)', () => {
      const rule = nested(
        forBucket('aws_s3_bucket_server_side_encryption_configuration'),
        'rule',
        'apply_server_side_encryption_by_default',
      );
      expect(rule.sse_algorithm).toMatch(/^(AES256|aws:kms)$/);
    });

    it('expires the uploads under the prefix, and aborts unfinished multipart uploads', () => {
      const rule = nested(forBucket('aws_s3_bucket_lifecycle_configuration'), 'rule');
      expect(rule.status).toBe('Enabled');
      expect(nested(rule, 'filter').prefix).toBe('${var.import_prefix}');
      expect(nested(rule, 'expiration').days).toBe('${var.import_expiration_days}');
      expect(nested(rule, 'abort_incomplete_multipart_upload').days_after_initiation).toBeGreaterThanOrEqual(1);
    });

    it('lets the service touch objects under the prefix only: Get, Put (presigned PUTs), multipart; ListBucket conditioned on the prefix', () => {
      const statements = policyDocument(main, 'imports_access');
      const objects = statements.find((st) => st.sid === 'ImportObjects')!;
      expect((objects.actions as string[]).sort()).toEqual(
        ['s3:AbortMultipartUpload', 's3:GetObject', 's3:ListMultipartUploadParts', 's3:PutObject'].sort(),
      );
      expect(objects.resources).toEqual(['${aws_s3_bucket.imports.arn}/${var.import_prefix}*']);
      expect(objects.condition).toBeUndefined();
      const list = statements.find((st) => st.sid === 'ListImportPrefix')!;
      expect(list.actions).toEqual(['s3:ListBucket']);
      expect(nested(list, 'condition')).toEqual({ test: 'StringLike', variable: 's3:prefix', values: ['${var.import_prefix}*'] });
      expect(statements).toHaveLength(2);
      for (const st of statements) expect(JSON.stringify(st.actions)).not.toMatch(/Delete|\*/);
      // Both computes' run-time roles carry it.
      const users = resources(main, 'aws_iam_role_policy')
        .filter(([, p]) => p.policy === '${data.aws_iam_policy_document.imports_access.json}')
        .map(([, p]) => p.role)
        .sort();
      expect(users).toEqual(['${aws_iam_role.apprunner_instance[0].id}', '${aws_iam_role.ecs_task[0].id}']);
    });

    it("lets browsers PUT presigned uploads and read the parts' ETags (CORS), nothing else", () => {
      const [, cors] = resources(main, 'aws_s3_bucket_cors_configuration').find(([name]) => name === 'imports')!;
      expect(cors.bucket).toBe('${aws_s3_bucket.imports.id}');
      const rule = nested(cors, 'cors_rule');
      expect(rule.allowed_methods).toEqual(['PUT']);
      expect(rule.allowed_origins).toBe('${var.import_upload_origins}');
      expect(rule.expose_headers).toEqual(['ETag']);
    });

    it('gives the service IMPORT_BUCKET and IMPORT_PREFIX (default imports/)', () => {
      const environment = String(localsOf(main).environment);
      expect(environment).toMatch(/IMPORT_BUCKET\s*=\s*aws_s3_bucket\.imports\.bucket/);
      expect(environment).toMatch(/IMPORT_PREFIX\s*=\s*var\.import_prefix/);
    });
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
