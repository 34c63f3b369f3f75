import { readFileSync } from 'node:fs';
import * as path from 'node:path';

export interface TemplateResource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
}

/** One synthesized CloudFormation stack of a cloud assembly (`cdk synth`'s output directory). */
export interface SynthesizedStack {
  stackName: string;
  /** The stack's region, or `us-east-1` where it is environment-agnostic. */
  region: string;
  assemblyDir: string;
  resources: Record<string, TemplateResource>;
  outputs: Record<string, { Value: unknown; Description?: string }>;
  /** Each file asset's directory, by the S3 object key the template names (`<hash>.zip`). */
  assetDirectories: Map<string, string>;
}

interface Manifest {
  artifacts?: Record<
    string,
    {
      type: string;
      environment?: string;
      dependencies?: string[];
      properties?: { templateFile?: string; stackName?: string; file?: string };
    }
  >;
}

interface AssetManifest {
  files?: Record<string, { source: { path?: string }; destinations: Record<string, { objectKey: string }> }>;
}

const DEFAULT_REGION = 'us-east-1';

/** Reads the named stack, or the assembly's only stack, from a cloud assembly directory. */
export function readSynthesizedStack(assemblyDir: string, stackName?: string): SynthesizedStack {
  const manifest = JSON.parse(readFileSync(path.join(assemblyDir, 'manifest.json'), 'utf8')) as Manifest;
  const stacks = Object.entries(manifest.artifacts ?? {}).filter(([, artifact]) => artifact.type === 'aws:cloudformation:stack');
  const names = stacks.map(([id, artifact]) => artifact.properties?.stackName ?? id);
  const index = stackName === undefined ? (stacks.length === 1 ? 0 : -1) : names.indexOf(stackName);
  const found = stacks[index];
  if (!found) {
    throw new Error(
      stackName === undefined
        ? `the app has ${stacks.length} stacks (${names.join(', ')}); name the one to run with --stack`
        : `the app has no stack named ${stackName} (it has: ${names.join(', ')})`,
    );
  }
  const [id, artifact] = found;
  const template = JSON.parse(readFileSync(path.join(assemblyDir, artifact.properties?.templateFile ?? `${id}.template.json`), 'utf8')) as {
    Resources?: Record<string, TemplateResource>;
    Outputs?: SynthesizedStack['outputs'];
  };
  const region = artifact.environment?.split('/')[3];
  return {
    stackName: artifact.properties?.stackName ?? id,
    region: region && region !== 'unknown-region' ? region : DEFAULT_REGION,
    assemblyDir,
    resources: template.Resources ?? {},
    outputs: template.Outputs ?? {},
    assetDirectories: assetDirectories(assemblyDir, manifest, artifact.dependencies ?? []),
  };
}

/** Reads the stack's asset manifests: where each bundle the template deploys from S3 was staged. */
function assetDirectories(assemblyDir: string, manifest: Manifest, dependencies: string[]): Map<string, string> {
  const directories = new Map<string, string>();
  for (const dependency of dependencies) {
    const artifact = manifest.artifacts?.[dependency];
    if (artifact?.type !== 'cdk:asset-manifest' || !artifact.properties?.file) continue;
    const assets = JSON.parse(readFileSync(path.join(assemblyDir, artifact.properties.file), 'utf8')) as AssetManifest;
    for (const asset of Object.values(assets.files ?? {})) {
      if (!asset.source.path) continue;
      for (const destination of Object.values(asset.destinations)) {
        directories.set(destination.objectKey, path.resolve(assemblyDir, asset.source.path));
      }
    }
  }
  return directories;
}

/** The stack's resources of one CloudFormation type, by logical id. */
export function resourcesOfType(stack: SynthesizedStack, type: string): [string, TemplateResource][] {
  return Object.entries(stack.resources).filter(([, resource]) => resource.Type === type);
}
