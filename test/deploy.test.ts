// The deploy/ files, checked statically (no Docker daemon or cluster on the build machines): every
// Kubernetes object validates against the Kubernetes schemas (kubernetes-models) and names no field the API
// does not have, and the files agree with each other and with the code: probes, drain timing, selectors,
// ConfigMap/Secret keys, environment variable names (against what src/config.ts reads), the Dockerfile's
// user and health check, compose's services.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet, type IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { HorizontalPodAutoscaler, type IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Ingress, type IIngress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { PodDisruptionBudget, type IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap, type IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { Namespace, type INamespace } from 'kubernetes-models/v1/Namespace';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import { Secret, type ISecret } from 'kubernetes-models/v1/Secret';
import { Service, type IService } from 'kubernetes-models/v1/Service';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DEPLOY = join(ROOT, 'deploy');
const K8S = join(DEPLOY, 'k8s');
const read = (path: string) => readFileSync(path, 'utf8');

// ---- the model classes, by apiVersion/kind ---------------------------------------------------------------

interface Validatable {
  validate(): void;
}
/** Every kind the manifests may use. `never` parameter: any model class fits; the data is checked by validate(). */
const MODELS: Record<string, new (data?: never) => Validatable> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'networking.k8s.io/v1/Ingress': Ingress,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Throws the model's validation error (ajv against the Kubernetes OpenAPI schema) if `raw` is invalid. */
function validateObject(raw: unknown): void {
  if (!isRecord(raw)) throw new Error('not a mapping');
  const key = `${String(raw.apiVersion)}/${String(raw.kind)}`;
  const Model = MODELS[key];
  if (Model === undefined) throw new Error(`no model for ${key}: add it to MODELS`);
  new Model(raw as never).validate();
}

// ---- unknown fields ----------------------------------------------------------------------------------------
// kubernetes-models' schemas do not forbid unknown properties, so a typo in an optional field
// (`readinesProbe`) validates, while `kubectl apply` (strict field validation) refuses it or the API server
// drops it. The models' own TypeScript declarations list every field: walk each object against them.

interface KindTypes {
  checker: ts.TypeChecker;
  types: Map<string, ts.Type>;
  diagnostics: readonly ts.Diagnostic[];
}

function loadKindTypes(): KindTypes {
  const keys = Object.keys(MODELS);
  const file = join(ROOT, 'test', '__deploy_kinds__.ts');
  const text =
    keys
      .map((key, i) => {
        const kind = key.slice(key.lastIndexOf('/') + 1);
        const module = `kubernetes-models/${key}`;
        return `import type { I${kind} as T${i} } from '${module}';`;
      })
      .join('\n') + `\nexport interface Kinds {\n${keys.map((key, i) => `  '${key}': T${i};`).join('\n')}\n}\n`;
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts'],
    types: [],
    strict: true,
    noEmit: true,
    skipLibCheck: true,
  };
  const host = ts.createCompilerHost(options, true);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  host.getSourceFile = (name, language, onError, fresh) =>
    name === file ? ts.createSourceFile(name, text, language, true) : getSourceFile(name, language, onError, fresh);
  host.fileExists = (name) => name === file || fileExists(name);
  host.readFile = (name) => (name === file ? text : readFile(name));
  const program = ts.createProgram([file], options, host);
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file);
  if (source === undefined) throw new Error('virtual source missing');
  const decl = source.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === 'Kinds');
  if (decl === undefined) throw new Error('Kinds interface missing');
  const symbol = checker.getSymbolAtLocation(decl.name);
  if (symbol === undefined) throw new Error('Kinds symbol missing');
  const kinds = checker.getDeclaredTypeOfSymbol(symbol);
  const types = new Map<string, ts.Type>();
  for (const key of keys) {
    const prop = checker.getPropertyOfType(kinds, key);
    if (prop !== undefined) types.set(key, checker.getTypeOfSymbol(prop));
  }
  return { checker, types, diagnostics: program.getSemanticDiagnostics(source) };
}

/** Paths of the properties in `value` that its declared type does not have. */
function unknownFields(k: KindTypes, value: unknown, type: ts.Type, path: string, out: string[] = []): string[] {
  if (typeof value !== 'object' || value === null) return out;
  const nonNull = k.checker.getNonNullableType(type);
  const parts = (nonNull.isUnion() ? nonNull.types : [nonNull]).filter(
    (t) => (t.flags & (ts.TypeFlags.Object | ts.TypeFlags.Intersection)) !== 0,
  );
  if (Array.isArray(value)) {
    const array = parts.find((t) => k.checker.isArrayType(t));
    const element = array === undefined ? undefined : k.checker.getTypeArguments(array as ts.TypeReference)[0];
    if (element !== undefined) value.forEach((item, i) => unknownFields(k, item, element, `${path}[${i}]`, out));
    return out;
  }
  // Free-form (any / unknown) or a primitive where an object is: the schema validation reports the latter.
  const objectType = parts.find((t) => !k.checker.isArrayType(t));
  if (objectType === undefined) return out;
  const index = k.checker.getIndexInfoOfType(objectType, ts.IndexKind.String);
  for (const [key, child] of Object.entries(value)) {
    const prop = k.checker.getPropertyOfType(objectType, key);
    if (prop !== undefined) unknownFields(k, child, k.checker.getTypeOfSymbol(prop), `${path}.${key}`, out);
    else if (index !== undefined) unknownFields(k, child, index.type, `${path}.${key}`, out);
    else out.push(`${path}.${key}`);
  }
  return out;
}

// ---- loading -----------------------------------------------------------------------------------------------

interface Manifest {
  file: string;
  raw: Record<string, unknown>;
  key: string;
  name: string;
  namespace: string | undefined;
}

/** Problems found while loading the YAML files: reported by a test rather than failing the collection. */
const yamlProblems: string[] = [];

/**
 * YAML as Kubernetes and compose read it: go-yaml takes YAML 1.1 (`yes`/`on` are booleans, `<<` merges),
 * this parser 1.2 by default: every document must read the same both ways.
 */
function parseYamlDocs(path: string): unknown[] {
  const text = read(path);
  const file = relative(ROOT, path);
  const docs = parseAllDocuments(text, { merge: true });
  const legacy = parseAllDocuments(text, { version: '1.1', merge: true });
  if (!Array.isArray(docs) || !Array.isArray(legacy)) return [];
  return docs.map((doc, i) => {
    for (const error of doc.errors) yamlProblems.push(`${file} document ${i}: ${error.message}`);
    const value: unknown = doc.toJS();
    if (!isDeepStrictEqual(legacy[i]?.toJS(), value))
      yamlProblems.push(`${file} document ${i} reads differently as YAML 1.1: quote yes/no/on/off-like values`);
    return value;
  });
}

const K8S_FILES = readdirSync(K8S)
  .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
  .sort();

function loadManifests(): Manifest[] {
  return K8S_FILES.flatMap((file) =>
    parseYamlDocs(join(K8S, file))
      .filter((doc) => doc !== null)
      .map((raw) => {
        if (!isRecord(raw) || !isRecord(raw.metadata)) throw new Error(`${file}: not a Kubernetes object`);
        const { name, namespace } = raw.metadata;
        return {
          file,
          raw,
          key: `${String(raw.apiVersion)}/${String(raw.kind)}`,
          name: String(name),
          namespace: typeof namespace === 'string' ? namespace : undefined,
        };
      }),
  );
}

const manifests = loadManifests();

/** The model type of each kind the checks below read, by apiVersion/kind (the objects validate against it above). */
interface KindModels {
  'v1/Namespace': INamespace;
  'v1/ConfigMap': IConfigMap;
  'v1/Secret': ISecret;
  'v1/Service': IService;
  'apps/v1/Deployment': IDeployment;
  'apps/v1/StatefulSet': IStatefulSet;
  'networking.k8s.io/v1/Ingress': IIngress;
  'autoscaling/v2/HorizontalPodAutoscaler': IHorizontalPodAutoscaler;
  'policy/v1/PodDisruptionBudget': IPodDisruptionBudget;
}

function find<K extends keyof KindModels>(key: K, name: string): KindModels[K] {
  const found = manifests.filter((m) => m.key === key && m.name === name);
  expect(
    found.map((m) => m.file),
    `${key} ${name}`,
  ).toHaveLength(1);
  const raw: unknown = (found[0] as Manifest).raw; // checked against the model by the validation test
  return raw as KindModels[K];
}

const namespace = find('v1/Namespace', 'chatpulse');
const deployment = find('apps/v1/Deployment', 'chatpulse');
const configMap = find('v1/ConfigMap', 'chatpulse-config');
const secret = find('v1/Secret', 'chatpulse-secrets');
const service = find('v1/Service', 'chatpulse');
const ingress = find('networking.k8s.io/v1/Ingress', 'chatpulse');
const hpa = find('autoscaling/v2/HorizontalPodAutoscaler', 'chatpulse');
const pdb = find('policy/v1/PodDisruptionBudget', 'chatpulse');
const redis = find('apps/v1/StatefulSet', 'redis');
const mongodb = find('apps/v1/StatefulSet', 'mongodb');

function podSpec(workload: IDeployment | IStatefulSet): IPodSpec {
  const spec = workload.spec?.template.spec;
  if (spec === undefined) throw new Error(`${workload.metadata?.name ?? '?'}: no pod spec`);
  return spec;
}
const gatewayPod = podSpec(deployment);
const gateway = gatewayPod.containers[0] as IContainer;
const podLabels = deployment.spec?.template.metadata?.labels ?? {};

function includesLabels(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  return selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
}

// ---- what the code reads -----------------------------------------------------------------------------------

/**
 * The variables src/config.ts reads. It reads `env` (process.env, passed in by main.ts) through helpers
 * whose first arguments are the env and the name (`int(env, 'PORT', ...)`, `str(env, 'JWT_SECRET')`), and
 * directly (`env.ADMIN_PASSWORD`); main.ts's own `process.env.X` reads count too (LOG_LEVEL, for the
 * logger that reports configuration errors).
 */
function envNamesRead(): Set<string> {
  const names = new Set<string>();
  const config = read(join(ROOT, 'src', 'config.ts'));
  for (const pattern of [
    /\(\s*env\s*,\s*['"]([A-Z][A-Z0-9_]*)['"]/g,
    /\benv\.([A-Z][A-Z0-9_]*)\b/g,
    /\benv\[\s*['"]([A-Z][A-Z0-9_]*)['"]\s*\]/g,
  ]) {
    for (const match of config.matchAll(pattern)) names.add(match[1] as string);
  }
  for (const match of read(join(ROOT, 'src', 'main.ts')).matchAll(/\bprocess\.env\.([A-Z][A-Z0-9_]*)\b/g)) names.add(match[1] as string);
  return names;
}
const ENV_READ = envNamesRead();
const knownEnv = (name: string) => ENV_READ.has(name);

/** A setting as the gateway container sees it: explicit env, else a ConfigMap it imports, else undefined. */
function gatewayEnv(name: string): string | undefined {
  const explicit = gateway.env?.find((e) => e.name === name);
  if (explicit?.value !== undefined) return explicit.value;
  const ref = explicit?.valueFrom?.configMapKeyRef;
  if (ref !== undefined) return ref.name === configMap.metadata?.name ? configMap.data?.[ref.key] : undefined;
  for (const from of gateway.envFrom ?? []) {
    if (from.configMapRef?.name === configMap.metadata?.name && configMap.data?.[name] !== undefined) return configMap.data[name];
  }
  return undefined;
}

/** config.ts's default for an integer setting (`int(env, 'NAME', 10_000, ...)`). */
function configDefault(name: string): number {
  const match = new RegExp(`int\\(env, '${name}', ([\\d_]+)`).exec(read(join(ROOT, 'src', 'config.ts')));
  if (match === null) throw new Error(`no integer default for ${name} in src/config.ts`);
  return Number((match[1] as string).replaceAll('_', ''));
}

/** A Kubernetes quantity in bytes ("1Gi", "512Mi", "2G", "1024"). */
function quantityBytes(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(quantity);
  if (match === null) throw new Error(`not a quantity: ${quantity}`);
  const units: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  return Number(match[1]) * (match[2] === undefined ? 1 : (units[match[2]] as number));
}

function preStopSleepSeconds(container: IContainer): number {
  const preStop = container.lifecycle?.preStop;
  if (preStop?.sleep !== undefined) return preStop.sleep.seconds;
  const command = preStop?.exec?.command ?? [];
  const at = command.findIndex((c) => c === 'sleep' || c.endsWith('/sleep'));
  const seconds = Number(command[at + 1]);
  if (at < 0 || !Number.isFinite(seconds)) throw new Error(`no preStop sleep in ${JSON.stringify(preStop)}`);
  return seconds;
}

// ---- the tests ---------------------------------------------------------------------------------------------

describe('Kubernetes manifests: schemas', () => {
  const kindTypes = loadKindTypes();

  it('every YAML file under deploy/ parses, and reads the same as YAML 1.1', () => {
    parseYamlDocs(join(DEPLOY, 'compose.yaml'));
    parseYamlDocs(join(K8S, 'kustomization.yaml'));
    expect(yamlProblems).toEqual([]);
  });

  it('finds the manifests and resolves the model declarations', () => {
    expect(K8S_FILES).toEqual(
      expect.arrayContaining([
        'configmap.yaml',
        'deployment.yaml',
        'hpa.yaml',
        'ingress.yaml',
        'mongodb.yaml',
        'namespace.yaml',
        'pdb.yaml',
        'redis.yaml',
        'secret.example.yaml',
        'service.yaml',
      ]),
    );
    expect(kindTypes.diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([]);
    expect([...kindTypes.types.keys()].sort()).toEqual(Object.keys(MODELS).sort());
  });

  it.each(manifests.map((m) => [`${m.file}: ${m.key} ${m.name}`, m] as const))('%s validates against its schema', (_label, m) => {
    expect(() => validateObject(m.raw)).not.toThrow();
    const type = kindTypes.types.get(m.key);
    expect(type, m.key).toBeDefined();
    expect(unknownFields(kindTypes, m.raw, type as ts.Type, m.name)).toEqual([]);
  });

  it('rejects an invalid object (the validation is real)', () => {
    const broken = structuredClone(deployment) as unknown as {
      spec: { replicas: unknown; template: { spec: { containers: Array<Record<string, unknown>> } } };
    };
    broken.spec.replicas = 'three';
    delete broken.spec.template.spec.containers[0]?.name;
    expect(() => validateObject(broken)).toThrow(/replicas must be integer/);
    expect(() => validateObject(broken)).toThrow(/containers\/0 must have required property '?name'?/);
    expect(() => validateObject({ apiVersion: 'v1', kind: 'Nonsense', metadata: { name: 'x' } })).toThrow(/no model/);
  });

  it('rejects a misspelt field, which the schemas alone let through', () => {
    const typo = structuredClone(deployment) as unknown as { spec: { template: { spec: { containers: Array<Record<string, unknown>> } } } };
    const container = typo.spec.template.spec.containers[0] as Record<string, unknown>;
    container.readinesProbe = container.readinessProbe;
    delete container.readinessProbe;
    expect(() => validateObject(typo)).not.toThrow();
    expect(unknownFields(kindTypes, typo, kindTypes.types.get('apps/v1/Deployment') as ts.Type, 'chatpulse')).toEqual([
      'chatpulse.spec.template.spec.containers[0].readinesProbe',
    ]);
  });
});

describe('Kubernetes manifests: cross-references', () => {
  const port = gateway.ports?.find((p) => p.name === 'http');

  it('every object lives in the chatpulse namespace, and kustomization applies the rest', () => {
    const ns = namespace.metadata?.name;
    for (const m of manifests.filter((m) => m.key !== 'v1/Namespace')) expect(m.namespace, `${m.file} ${m.name}`).toBe(ns);
    const kustomization: unknown = parse(read(join(K8S, 'kustomization.yaml')));
    if (!isRecord(kustomization) || !Array.isArray(kustomization.resources)) throw new Error('kustomization.yaml: no resources');
    expect(kustomization.apiVersion).toBe('kustomize.config.k8s.io/v1beta1');
    expect(kustomization.kind).toBe('Kustomization');
    expect(kustomization.namespace).toBe(ns);
    // Every manifest but the placeholder Secret, each once, and nothing that does not exist.
    expect((kustomization.resources as unknown[]).map(String).sort()).toEqual(K8S_FILES.filter((f) => f !== 'secret.example.yaml'));
    const images = Array.isArray(kustomization.images) ? kustomization.images.filter(isRecord) : [];
    expect(images.map((i) => i.name)).toContain(gateway.image?.split(':')[0]);
  });

  it('probes: readiness /ready, liveness and startup /health, on the container port', () => {
    expect(port?.containerPort).toBe(8080);
    expect(gatewayEnv('PORT')).toBe(String(port?.containerPort));
    const probes: Array<[string, IProbe | undefined, string]> = [
      ['readiness', gateway.readinessProbe, '/ready'],
      ['liveness', gateway.livenessProbe, '/health'],
      ['startup', gateway.startupProbe, '/health'],
    ];
    for (const [what, probe, path] of probes) {
      expect(probe?.httpGet?.path, what).toBe(path);
      expect([port?.name, port?.containerPort], what).toContain(probe?.httpGet?.port);
    }
    // The model loads before the server listens: the startup probe must allow minutes, not seconds.
    const startup = gateway.startupProbe as IProbe;
    expect((startup.periodSeconds ?? 10) * (startup.failureThreshold ?? 3)).toBeGreaterThanOrEqual(120);
  });

  it("grace period > preStop sleep + ChatPulse drain (DRAIN_TIMEOUT_MS, + the primary's 5 s with WORKERS > 1)", () => {
    const preStop = preStopSleepSeconds(gateway);
    expect(preStop).toBeGreaterThanOrEqual(5);
    const drainMs = Number(gatewayEnv('DRAIN_TIMEOUT_MS') ?? configDefault('DRAIN_TIMEOUT_MS'));
    const workers = Number(gatewayEnv('WORKERS') ?? 1);
    // WebSockets are closed in waves over at most 1 s before in-flight requests get their DRAIN_TIMEOUT_MS.
    const needed = preStop + 1 + Math.ceil(drainMs / 1000) + (workers > 1 ? 5 : 0);
    expect(gatewayPod.terminationGracePeriodSeconds).toBeGreaterThan(needed);
  });

  it("the Service, HPA and PDB point at the Deployment's pods", () => {
    const selector = deployment.spec?.selector.matchLabels;
    expect(includesLabels(selector, podLabels)).toBe(true);
    expect(includesLabels(service.spec?.selector, podLabels)).toBe(true);
    for (const p of service.spec?.ports ?? []) expect([port?.name, port?.containerPort]).toContain(p.targetPort);
    expect(hpa.spec?.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata?.name });
    expect(includesLabels(pdb.spec?.selector?.matchLabels, podLabels)).toBe(true);
    // A PDB that allows no eviction at the HPA's minimum would block every node drain.
    const min = hpa.spec?.minReplicas ?? 1;
    expect(min).toBeGreaterThanOrEqual(2);
    if (pdb.spec?.minAvailable !== undefined) expect(Number(pdb.spec.minAvailable)).toBeLessThan(min);
    else expect(pdb.spec?.maxUnavailable).toBe(1);
    for (const c of gatewayPod.topologySpreadConstraints ?? []) expect(includesLabels(c.labelSelector?.matchLabels, podLabels)).toBe(true);
    expect(gatewayPod.topologySpreadConstraints?.map((c) => c.topologyKey).sort()).toEqual([
      'kubernetes.io/hostname',
      'topology.kubernetes.io/zone',
    ]);
  });

  it('the HPA scales on CPU and on WebSocket connections per pod', () => {
    const metrics = hpa.spec?.metrics ?? [];
    expect(metrics.find((m) => m.type === 'Resource')?.resource).toMatchObject({
      name: 'cpu',
      target: { type: 'Utilization', averageUtilization: 70 },
    });
    expect(metrics.find((m) => m.type === 'Pods')?.pods).toMatchObject({
      metric: { name: 'chatpulse_ws_connections' },
      target: { type: 'AverageValue' },
    });
    // Scale out before a pod reaches its connection cap (where it refuses new sockets with 503).
    const perPod = Number(metrics.find((m) => m.type === 'Pods')?.pods?.target.averageValue);
    expect(perPod).toBeLessThan(Number(gatewayEnv('WS_MAX_CONNECTIONS') ?? configDefault('WS_MAX_CONNECTIONS')));
  });

  it('the Ingress routes the public paths (not /metrics) to the Service port, with WebSocket timeouts', () => {
    const annotations = ingress.metadata?.annotations ?? {};
    expect(ingress.spec?.ingressClassName).toBe('nginx');
    expect(annotations['nginx.ingress.kubernetes.io/proxy-read-timeout']).toBe('3600');
    expect(annotations['nginx.ingress.kubernetes.io/proxy-send-timeout']).toBe('3600');
    const paths = (ingress.spec?.rules ?? []).flatMap((r) => r.http?.paths ?? []);
    expect(paths.map((p) => p.path)).toEqual(expect.arrayContaining(['/', '/assets', '/api', '/ws']));
    expect(paths.map((p) => p.path)).not.toContain('/metrics');
    for (const p of paths) {
      expect(p.backend.service?.name).toBe(service.metadata?.name);
      expect(service.spec?.ports?.map((sp) => sp.name)).toContain(p.backend.service?.port?.name);
    }
  });

  it('every ConfigMap and Secret key referenced exists; Secret URLs name the in-cluster Services', () => {
    const secretKeys = new Set(Object.keys({ ...secret.stringData, ...secret.data }));
    const secretText = read(join(K8S, 'secret.example.yaml'));
    for (const workload of [deployment, redis, mongodb]) {
      for (const c of podSpec(workload).containers) {
        for (const from of c.envFrom ?? []) {
          if (from.configMapRef !== undefined) expect(from.configMapRef.name).toBe(configMap.metadata?.name);
          if (from.secretRef !== undefined) expect(from.secretRef.name).toBe(secret.metadata?.name);
        }
        for (const e of c.env ?? []) {
          const cm = e.valueFrom?.configMapKeyRef;
          if (cm !== undefined) {
            expect(cm.name).toBe(configMap.metadata?.name);
            expect(Object.keys(configMap.data ?? {}), e.name).toContain(cm.key);
          }
          const sk = e.valueFrom?.secretKeyRef;
          if (sk !== undefined) {
            expect(sk.name).toBe(secret.metadata?.name);
            // Required keys are in the example; optional ones at least documented there (as comments).
            if (sk.optional === true) expect(secretText, `${c.name}: ${e.name}`).toMatch(new RegExp(`^\\s*#?\\s*${sk.key}:`, 'm'));
            else expect([...secretKeys], `${c.name}: ${e.name}`).toContain(sk.key);
          }
        }
      }
    }
    const ns = namespace.metadata?.name ?? '';
    const host = (set: IStatefulSet) => `${set.metadata?.name ?? ''}-0.${set.spec?.serviceName ?? ''}.${ns}.svc.cluster.local`;
    expect(new URL(secret.stringData?.REDIS_URL ?? '').host).toBe(`${host(redis)}:6379`);
    expect(new URL(secret.stringData?.MONGODB_URL ?? '').host).toBe(`${host(mongodb)}:27017`);
    expect(secret.stringData?.REDIS_URL).toContain(secret.stringData?.REDIS_PASSWORD);
    expect(secret.stringData?.MONGODB_URL).toContain(
      `${secret.stringData?.MONGO_INITDB_ROOT_USERNAME}:${secret.stringData?.MONGO_INITDB_ROOT_PASSWORD}@`,
    );
  });

  it('every variable in the ConfigMap and the Deployment is one ChatPulse reads (src/config.ts)', () => {
    // The parse found config.ts's reads (a sanity floor, so a changed reading style cannot pass vacuously).
    for (const name of ['PORT', 'JWT_SECRET', 'DRAIN_TIMEOUT_MS', 'ADMIN_PASSWORD', 'REDIS_URL', 'MONGODB_URL', 'WORKERS', 'LOG_LEVEL'])
      expect(ENV_READ).toContain(name);
    expect(ENV_READ.size).toBeGreaterThan(30);
    const used = [...Object.keys(configMap.data ?? {}), ...(gateway.env ?? []).map((e) => e.name)];
    expect(used.filter((name) => !knownEnv(name))).toEqual([]);
    // Clustered settings hold together: a shared secret and Redis for more than one process or pod.
    expect(gateway.env?.map((e) => e.name)).toEqual(expect.arrayContaining(['JWT_SECRET', 'REDIS_URL']));
  });

  it('the gateway runs as non-root on a read-only root filesystem, with writable cache and spool volumes', () => {
    expect(gatewayPod.securityContext?.runAsNonRoot).toBe(true);
    expect(gatewayPod.securityContext?.runAsUser).not.toBe(0);
    expect(gateway.securityContext?.readOnlyRootFilesystem).toBe(true);
    const volumes = new Map((gatewayPod.volumes ?? []).map((v) => [v.name, v]));
    for (const dir of [gatewayEnv('MODEL_CACHE_DIR'), gatewayEnv('SPOOL_DIR'), '/tmp']) {
      const mount = gateway.volumeMounts?.find((m) => m.mountPath === dir);
      expect(mount, `${dir} mounted`).toBeDefined();
      expect(mount?.readOnly, dir).not.toBe(true);
      expect(volumes.get(mount?.name ?? '')?.emptyDir, dir).toBeDefined();
    }
    // The kubelet evicts a pod whose emptyDir passes its sizeLimit: ChatPulse's own spool bound (per worker
    // slot) must be reached first.
    const spool = volumes.get(gateway.volumeMounts?.find((m) => m.mountPath === gatewayEnv('SPOOL_DIR'))?.name ?? '');
    const spoolBytes = Number(gatewayEnv('SPOOL_MAX_BYTES')) * Number(gatewayEnv('WORKERS') ?? 1);
    expect(spoolBytes).toBeGreaterThan(0);
    expect(quantityBytes(String(spool?.emptyDir?.sizeLimit))).toBeGreaterThan(spoolBytes);
    const set: unknown = expect.anything();
    expect(gateway.resources?.requests).toMatchObject({ cpu: set, memory: set });
    expect(gateway.resources?.limits).toMatchObject({ cpu: set, memory: set });
  });

  it('every pod meets Pod Security "restricted" (the namespace enforces it) and mounts only volumes it has', () => {
    expect(namespace.metadata?.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
    for (const workload of [deployment, redis, mongodb]) {
      const pod = podSpec(workload);
      const name = workload.metadata?.name;
      expect(pod.securityContext?.runAsNonRoot, name).toBe(true);
      expect(pod.securityContext?.seccompProfile?.type, name).toBe('RuntimeDefault');
      const volumes = new Set([
        ...(pod.volumes ?? []).map((v) => v.name),
        ...(workload.kind === 'StatefulSet' ? (workload.spec?.volumeClaimTemplates ?? []).map((t) => t.metadata?.name) : []),
      ]);
      for (const c of pod.containers) {
        expect(c.securityContext?.allowPrivilegeEscalation, `${name}/${c.name}`).toBe(false);
        expect(c.securityContext?.capabilities?.drop, `${name}/${c.name}`).toEqual(['ALL']);
        for (const m of c.volumeMounts ?? []) expect(volumes, `${name}/${c.name} ${m.mountPath}`).toContain(m.name);
      }
    }
  });

  it('Redis and MongoDB: StatefulSets with volume claims behind headless Services', () => {
    for (const set of [redis, mongodb]) {
      const name = set.metadata?.name ?? '';
      const headless = find('v1/Service', set.spec?.serviceName ?? '');
      expect(headless.spec?.clusterIP, name).toBe('None');
      expect(includesLabels(headless.spec?.selector, set.spec?.template.metadata?.labels ?? {}), name).toBe(true);
      expect(includesLabels(set.spec?.selector.matchLabels, set.spec?.template.metadata?.labels ?? {}), name).toBe(true);
      expect(set.spec?.volumeClaimTemplates?.length, name).toBeGreaterThan(0);
    }
    const redisArgs = podSpec(redis).containers[0]?.args ?? [];
    expect(redisArgs.join(' ')).toMatch(/--appendonly yes/);
    expect(podSpec(redis).containers[0]?.image).toMatch(/^redis:7/);
    expect(podSpec(mongodb).containers[0]?.image).toMatch(/^mongo:7/);
  });
});

describe('Dockerfile', () => {
  // Continuation lines joined, comments dropped: one instruction per entry.
  const instructions = read(join(DEPLOY, 'Dockerfile'))
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const stages = instructions.reduce<string[][]>((acc, line) => {
    if (/^FROM\s/i.test(line)) acc.push([]);
    acc.at(-1)?.push(line);
    return acc;
  }, []);
  const runtime = stages.at(-1) ?? [];
  const build = stages.at(0) ?? [];
  const instr = (lines: string[], instruction: string) => lines.filter((l) => l.toUpperCase().startsWith(`${instruction} `));

  it('is multi-stage on glibc Node 20 (bookworm-slim, not Alpine)', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(instructions.find((l) => l.startsWith('ARG NODE_IMAGE='))).toBe('ARG NODE_IMAGE=node:20-bookworm-slim');
    for (const stage of stages) expect(stage[0]).toMatch(/^FROM \$\{NODE_IMAGE\}/);
    expect(instructions.join('\n')).not.toMatch(/alpine|musl/i);
  });

  it('builds with npm ci + npm run build and ships production dependencies only', () => {
    expect(instr(build, 'RUN').join('\n')).toMatch(/npm ci\b/);
    expect(instr(build, 'RUN').join('\n')).toMatch(/npm run build/);
    expect(instr(runtime, 'RUN').join('\n')).toMatch(/npm ci [^\n]*--omit=dev/);
    const copies = instr(runtime, 'COPY').join('\n');
    expect(copies).toMatch(/--from=build \/app\/dist\/src/);
    expect(copies).toMatch(/--from=build \/app\/dist\/workers/);
    expect(copies).toMatch(/COPY models /);
    expect(copies).toMatch(/\.npmrc/);
  });

  it('copies (and lets through the ignore file) everything tsconfig.json compiles', () => {
    const tsconfig: unknown = JSON.parse(read(join(ROOT, 'tsconfig.json')));
    const include = isRecord(tsconfig) && Array.isArray(tsconfig.include) ? tsconfig.include.map(String) : [];
    expect(include.length).toBeGreaterThan(0);
    const ignore = read(join(DEPLOY, 'Dockerfile.dockerignore'))
      .split('\n')
      .map((l) => l.trim());
    for (const dir of new Set(include.map((p) => p.split('/')[0] as string))) {
      expect(instr(build, 'COPY'), dir).toContainEqual(expect.stringMatching(new RegExp(`^COPY ${dir} `)));
      expect(ignore, dir).toContain(`!${dir}/`);
    }
    // The training scratch folder is hundreds of megabytes.
    expect(ignore).toContain('models/train/.work/');
  });

  it('copies the files the server reads from the source tree at run time (the dashboard page)', () => {
    const staticTs = read(join(ROOT, 'src', 'gateway', 'static.ts'));
    const files = [...staticTs.matchAll(/join\(dashboardSrc, '([^']+)'\)/g)].map((m) => `src/dashboard/${m[1] as string}`);
    expect(files.length).toBeGreaterThan(0);
    const copied = instr(runtime, 'COPY')
      .filter((l) => !l.includes('--from='))
      .flatMap((l) => l.split(/\s+/).slice(1, -1));
    for (const file of files) {
      expect(copied, file).toContain(file);
      expect(existsSync(join(ROOT, file)), file).toBe(true);
    }
  });

  it("runs as a non-root user with NODE_ENV=production, a fetch health check and npm start's command", () => {
    const user = instr(runtime, 'USER').at(-1)?.slice(5).trim() ?? 'root';
    expect(user.split(':')[0]).not.toMatch(/^(root|0)$/);
    // Numeric, so that Kubernetes' runAsNonRoot can verify it, and the Deployment's runAsUser agrees.
    expect(Number(user.split(':')[0])).toBe(gatewayPod.securityContext?.runAsUser);
    expect(instr(runtime, 'ENV').join(' ')).toMatch(/NODE_ENV=production/);
    expect(instr(runtime, 'EXPOSE')).toEqual([`EXPOSE ${gatewayEnv('PORT') ?? ''}`]);
    const health = instr(runtime, 'HEALTHCHECK').join('\n');
    expect(health).toMatch(/fetch\(/);
    expect(health).toMatch(/\/health/);
    expect(health).not.toMatch(/curl|wget/);
    const cmd = instr(runtime, 'CMD').at(-1)?.slice(4) ?? '[]';
    const start: unknown = JSON.parse(read(join(ROOT, 'package.json')));
    const startScript = isRecord(start) && isRecord(start.scripts) ? String(start.scripts.start) : '';
    expect(JSON.parse(cmd)).toEqual(startScript.split(' '));
  });
});

describe('compose.yaml', () => {
  const compose: unknown = parse(read(join(DEPLOY, 'compose.yaml')), { merge: true });
  if (!isRecord(compose) || !isRecord(compose.services)) throw new Error('compose.yaml: no services');
  const services = compose.services;
  const service = (name: string): Record<string, unknown> => {
    const s = services[name];
    if (!isRecord(s)) throw new Error(`compose.yaml: no service ${name}`);
    return s;
  };
  const gateways = Object.keys(services).filter(
    (name) => isRecord(services[name]) && JSON.stringify(service(name).build ?? '').includes('deploy/Dockerfile'),
  );
  const envOf = (name: string): Record<string, string> => {
    const env = service(name).environment;
    return isRecord(env) ? Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])) : {};
  };

  it('has two gateway replicas sharing Redis and one JWT secret, on distinct host ports', () => {
    expect(gateways).toHaveLength(2);
    const ports = gateways.flatMap((g) =>
      Array.isArray(service(g).ports) ? (service(g).ports as unknown[]).map((p) => String(p).split(':')[0]) : [],
    );
    expect(new Set(ports).size).toBe(2);
    for (const g of gateways) {
      const env = envOf(g);
      expect(env.REDIS_URL, g).toMatch(/^redis:\/\/redis:6379/);
      expect(env.MONGODB_URL, g).toMatch(/^mongodb:\/\/mongodb:27017\//);
      expect(env.JWT_SECRET, g).toMatch(/^\$\{JWT_SECRET:\?/);
      expect(
        Object.keys(env).filter((name) => !knownEnv(name)),
        g,
      ).toEqual([]);
      expect(service(g).depends_on, g).toEqual({ redis: { condition: 'service_healthy' }, mongodb: { condition: 'service_healthy' } });
      // Docker's 10 s default stop timeout is shorter than the drain.
      const grace = Number(String(service(g).stop_grace_period).replace(/s$/, ''));
      const workers = Number(env.WORKERS ?? 1);
      expect(grace).toBeGreaterThan(Number(env.DRAIN_TIMEOUT_MS ?? configDefault('DRAIN_TIMEOUT_MS')) / 1000 + 1 + (workers > 1 ? 5 : 0));
    }
    expect(existsSync(join(DEPLOY, '.env.example'))).toBe(true);
    expect(read(join(DEPLOY, '.env.example'))).toMatch(/^JWT_SECRET=/m);
  });

  it('puts nginx in front of both gateways with deploy/nginx/nginx.conf, its upstreams naming each gateway', () => {
    const nginx = service('nginx');
    expect(String(nginx.image)).toMatch(/^nginx:1\./);
    const volumes = (nginx.volumes as unknown[]).map(String);
    expect(volumes).toContain('./nginx/nginx.conf:/etc/nginx/nginx.conf:ro');
    expect(volumes).toContain('./nginx/upstreams.conf:/etc/nginx/upstreams.conf:ro');
    expect(Object.keys(nginx.depends_on as object).sort()).toEqual([...gateways].sort());
    const conf = read(join(DEPLOY, 'nginx', 'nginx.conf'));
    expect(conf).toMatch(/include upstreams\.conf;/);
    expect(conf).toMatch(/proxy_next_upstream error timeout http_502 http_503;/);
    expect(conf).toMatch(/proxy_next_upstream_tries \d+;/);
    expect(conf).toMatch(/location = \/nginx-health \{[^}]*return 200/);
    expect(conf).toMatch(/proxy_set_header Upgrade \$http_upgrade;/);
    expect(conf).toMatch(/listen 8080;/);
    const upstreams = read(join(DEPLOY, 'nginx', 'upstreams.conf'))
      .split('\n')
      .filter((l) => l.startsWith('server '))
      .map((l) => l.split(/\s+/)[1]);
    // Each gateway on its container port (PORT), not the host port compose publishes.
    expect(upstreams.sort()).toEqual(gateways.map((g) => `${g}:${envOf(g).PORT ?? '8080'}`).sort());
  });

  it('has Redis 7 with AOF and MongoDB 7, and a health check on every service', () => {
    expect(String(service('redis').image)).toMatch(/^redis:7/);
    expect(JSON.stringify(service('redis').command)).toMatch(/"--appendonly","yes"/);
    expect(String(service('mongodb').image)).toMatch(/^mongo:7/);
    for (const name of Object.keys(services)) {
      const check = service(name).healthcheck;
      expect(isRecord(check) && Array.isArray(check.test), name).toBe(true);
    }
  });
});
