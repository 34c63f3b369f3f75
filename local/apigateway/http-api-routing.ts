import type { HttpApiDefinition, HttpRouteDefinition, HttpStageDefinition } from '../cloudformation/app-model';

/** Where API Gateway sends a request: the stage, the route, and what the route's path variables captured. */
export interface SelectedRoute {
  stage: HttpStageDefinition;
  route: HttpRouteDefinition;
  /** The request's path without the stage's segment: what routes match, and what `routeArn` names. */
  routePath: string;
  pathParameters?: Record<string, string>;
}

type Segment = { literal: string } | { variable: string; greedy: boolean };

interface Candidate {
  route: HttpRouteDefinition;
  pathParameters: Record<string, string>;
  greedy: boolean;
  /** Per segment of the route's path: 0 literal, 1 variable, 2 greedy; lower is more specific. */
  specificity: number[];
  anyMethod: boolean;
}

/**
 * Selects the stage and route as API Gateway does ("Routing API requests", HTTP API developer
 * guide): a stage whose name is the path's first segment, else the `$default` stage; then a full
 * match of method and path, then a match with a greedy path variable (`{proxy+}`), then the
 * `$default` route. Among several matches the most specific path wins (a literal segment over a
 * variable, from the left), then a named method over `ANY`. Undefined when nothing matches, which
 * API Gateway answers 404 `{"message":"Not Found"}`.
 */
export function selectRoute(api: HttpApiDefinition, method: string, rawPath: string): SelectedRoute | undefined {
  const staged = selectStage(api.stages, rawPath);
  if (!staged) return undefined;
  const requestSegments = staged.routePath.split('/').slice(1).map(decodeSegment);
  const candidates = api.routes.flatMap((route) => {
    const candidate = match(route, method, requestSegments);
    return candidate ? [candidate] : [];
  });
  const [best] = candidates.sort(bySpecificity);
  const route = best?.route ?? api.routes.find((candidate) => candidate.routeKey === '$default');
  if (!route) return undefined;
  const pathParameters = best && Object.keys(best.pathParameters).length > 0 ? best.pathParameters : undefined;
  return { ...staged, route, ...(pathParameters && { pathParameters }) };
}

function selectStage(stages: HttpStageDefinition[], rawPath: string): { stage: HttpStageDefinition; routePath: string } | undefined {
  const [, first = '', ...rest] = rawPath.split('/');
  const named = stages.find((stage) => stage.name !== '$default' && stage.name === decodeSegment(first));
  if (named) return { stage: named, routePath: `/${rest.join('/')}` };
  const fallback = stages.find((stage) => stage.name === '$default');
  return fallback && { stage: fallback, routePath: rawPath };
}

function match(route: HttpRouteDefinition, method: string, requestSegments: string[]): Candidate | undefined {
  if (route.routeKey === '$default') return undefined;
  const [routeMethod = '', routePath = ''] = route.routeKey.split(' ');
  if (routeMethod !== 'ANY' && routeMethod !== method) return undefined;
  const segments = routePath.split('/').slice(1).map(parseSegment);
  const pathParameters: Record<string, string> = {};
  const specificity: number[] = [];
  for (const [index, segment] of segments.entries()) {
    const value = requestSegments[index];
    if ('literal' in segment) {
      if (value !== segment.literal) return undefined;
      specificity.push(0);
    } else if (segment.greedy) {
      // A greedy variable takes one or more segments, and ends the route's path.
      if (value === undefined || value === '') return undefined;
      pathParameters[segment.variable] = requestSegments.slice(index).join('/');
      specificity.push(2);
      return { route, pathParameters, greedy: true, specificity, anyMethod: routeMethod === 'ANY' };
    } else {
      if (value === undefined || value === '') return undefined;
      pathParameters[segment.variable] = value;
      specificity.push(1);
    }
  }
  if (segments.length !== requestSegments.length) return undefined;
  return { route, pathParameters, greedy: false, specificity, anyMethod: routeMethod === 'ANY' };
}

function bySpecificity(a: Candidate, b: Candidate): number {
  if (a.greedy !== b.greedy) return a.greedy ? 1 : -1;
  for (let index = 0; index < Math.max(a.specificity.length, b.specificity.length); index += 1) {
    // A longer literal prefix before a greedy variable is the more specific.
    const difference = (a.specificity[index] ?? 3) - (b.specificity[index] ?? 3);
    if (difference !== 0) return difference;
  }
  return Number(a.anyMethod) - Number(b.anyMethod);
}

function parseSegment(segment: string): Segment {
  const variable = /^\{([^}]+?)(\+)?\}$/.exec(segment);
  return variable ? { variable: variable[1] as string, greedy: variable[2] === '+' } : { literal: segment };
}

/** API Gateway decodes path parameters; a malformed escape is kept as sent. */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
