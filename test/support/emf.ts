/** A CloudWatch embedded metric format document, as Powertools Metrics writes it (one line of stdout). */
export interface EmfDocument {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[];
  };
  [member: string]: unknown;
}

/**
 * Keeps the EMF documents written to stdout while it is installed (Powertools writes them through a
 * Console of its own on process.stdout), and lets every other line through.
 */
export class EmfCapture {
  readonly documents: EmfDocument[] = [];
  private readonly spy: jest.SpyInstance;

  constructor() {
    const write = process.stdout.write.bind(process.stdout);
    this.spy = jest.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array, ...rest: never[]) => {
      const text = chunk.toString();
      const documents = text.split('\n').filter((line) => line.includes('"_aws"'));
      if (documents.length === 0) return write(chunk, ...rest);
      this.documents.push(...documents.map((line) => JSON.parse(line) as EmfDocument));
      return true;
    }) as typeof process.stdout.write);
  }

  /** The documents captured so far, which are then forgotten. */
  take(): EmfDocument[] {
    return this.documents.splice(0);
  }

  restore(): void {
    this.spy.mockRestore();
  }
}

/**
 * Every datum of `name` in the documents, in order (a document holds one value or an array of
 * them), from documents whose dimension values include `dimensions`.
 */
export function valuesOf(documents: EmfDocument[], name: string, dimensions: Record<string, string> = {}): number[] {
  return documents
    .filter((document) => document._aws.CloudWatchMetrics.some((directive) => directive.Metrics.some((metric) => metric.Name === name)))
    .filter((document) => Object.entries(dimensions).every(([key, value]) => document[key] === value))
    .flatMap((document) => [document[name] as number | number[]].flat());
}

export function sumOf(documents: EmfDocument[], name: string, dimensions?: Record<string, string>): number {
  return valuesOf(documents, name, dimensions).reduce((sum, value) => sum + value, 0);
}
