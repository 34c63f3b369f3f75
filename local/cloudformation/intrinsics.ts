/** A CloudFormation value before resolution: a literal, or an intrinsic function call. */
export type TemplateValue = unknown;

/** What `Ref` and `Fn::GetAtt` of a local resource resolve to. */
export interface ResourceValues {
  ref: string;
  attributes: Record<string, string>;
}

export interface ResolveContext {
  region: string;
  accountId: string;
  stackName: string;
  /** Each provisioned resource by logical id. */
  resources: ReadonlyMap<string, ResourceValues>;
}

export class UnsupportedTemplateError extends Error {
  override readonly name = 'UnsupportedTemplateError';
}

/**
 * Resolves `Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Sub`, `Fn::Select` and `Fn::Split` against the
 * local resources, the way CloudFormation would against deployed ones. Anything else is named in
 * an error rather than passed through as an object the handler would not expect.
 */
export function resolve(value: TemplateValue, context: ResolveContext): unknown {
  if (Array.isArray(value)) return value.map((item) => resolve(item, context));
  if (typeof value !== 'object' || value === null) return value;
  const entries = Object.entries(value);
  const [name, argument] = entries[0] ?? [];
  if (entries.length === 1 && name !== undefined && (name === 'Ref' || name.startsWith('Fn::'))) {
    return resolveFunction(name, argument, context);
  }
  return Object.fromEntries(entries.map(([key, item]) => [key, resolve(item, context)]));
}

export function resolveString(value: TemplateValue, context: ResolveContext, where: string): string {
  const resolved = resolve(value, context);
  if (typeof resolved === 'string') return resolved;
  if (typeof resolved === 'number' || typeof resolved === 'boolean') return String(resolved);
  throw new UnsupportedTemplateError(`${where}: expected a string, got ${JSON.stringify(resolved)}`);
}

function resolveFunction(name: string, argument: unknown, context: ResolveContext): unknown {
  switch (name) {
    case 'Ref':
      return ref(String(argument), context);
    case 'Fn::GetAtt': {
      const [logicalId, attribute] = Array.isArray(argument) ? argument : String(argument).split(/\.(.+)/);
      return getAtt(String(logicalId), String(attribute), context);
    }
    case 'Fn::Join': {
      const [separator, items] = argument as [string, unknown];
      const list = resolve(items, context);
      if (!Array.isArray(list)) throw new UnsupportedTemplateError(`Fn::Join of ${JSON.stringify(list)}`);
      return list.join(separator);
    }
    case 'Fn::Sub':
      return sub(argument, context);
    case 'Fn::Select': {
      const [index, items] = argument as [unknown, unknown];
      const list = resolve(items, context);
      if (!Array.isArray(list)) throw new UnsupportedTemplateError(`Fn::Select from ${JSON.stringify(list)}`);
      return list[Number(resolve(index, context))];
    }
    case 'Fn::Split': {
      const [separator, source] = argument as [string, unknown];
      return resolveString(source, context, 'Fn::Split').split(separator);
    }
    default:
      throw new UnsupportedTemplateError(`${name} is not supported by the local runtime`);
  }
}

const PSEUDO_PARAMETERS: Record<string, (context: ResolveContext) => string> = {
  'AWS::Region': (context) => context.region,
  'AWS::AccountId': (context) => context.accountId,
  'AWS::Partition': () => 'aws',
  'AWS::URLSuffix': () => 'amazonaws.com',
  'AWS::StackName': (context) => context.stackName,
  'AWS::StackId': (context) =>
    `arn:aws:cloudformation:${context.region}:${context.accountId}:stack/${context.stackName}/local`,
};

function ref(logicalId: string, context: ResolveContext): string {
  const pseudo = PSEUDO_PARAMETERS[logicalId];
  if (pseudo) return pseudo(context);
  const resource = context.resources.get(logicalId);
  if (!resource) throw new UnsupportedTemplateError(`Ref to ${logicalId}, which the local runtime does not create`);
  return resource.ref;
}

function getAtt(logicalId: string, attribute: string, context: ResolveContext): string {
  const value = context.resources.get(logicalId)?.attributes[attribute];
  if (value === undefined) {
    throw new UnsupportedTemplateError(`Fn::GetAtt ${logicalId}.${attribute} is not available locally`);
  }
  return value;
}

function sub(argument: unknown, context: ResolveContext): string {
  const [template, variables] = Array.isArray(argument) ? argument : [argument, {}];
  const bound = resolve(variables, context) as Record<string, unknown>;
  return String(template).replace(/\$\{(!?)([^}]*)\}/g, (_, literal: string, name: string) => {
    // `${!Name}` is CloudFormation's escape for a literal `${Name}`.
    if (literal) return `\${${name}}`;
    if (name in bound) return String(bound[name]);
    const [logicalId, attribute] = name.split(/\.(.+)/);
    return attribute === undefined
      ? ref(name, context)
      : getAtt(logicalId as string, attribute, context);
  });
}
