/**
 * A reader of the Prometheus text exposition format (enough of it for tests: samples, labels with
 * escapes, comments skipped). prom-client writes the format but has no parser.
 */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/g;

export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, raw] of (m[2] ?? "").matchAll(LABEL)) {
      labels[key as string] = (raw as string).replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    }
    const value = m[3] === "+Inf" ? Number.POSITIVE_INFINITY : m[3] === "-Inf" ? Number.NEGATIVE_INFINITY : Number(m[3]);
    samples.push({ name: m[1] as string, labels, value });
  }
  return samples;
}

/** The metrics of one scrape, queried by name and a subset of labels. */
export class Scrape {
  constructor(readonly samples: readonly Sample[]) {}

  static async of(baseUrl: string): Promise<Scrape> {
    const response = await fetch(`${baseUrl}/metrics`);
    if (!response.ok) throw new Error(`GET ${baseUrl}/metrics: ${response.status}`);
    return new Scrape(parseMetrics(await response.text()));
  }

  /** The sum of the samples named `name` whose labels include `labels` (0 when there are none). */
  value(name: string, labels: Readonly<Record<string, string>> = {}): number {
    return this.samples
      .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
      .reduce((sum, s) => sum + s.value, 0);
  }

  /** How many series there are whose name starts with `prefix`. */
  series(prefix: string): number {
    return this.samples.filter((s) => s.name.startsWith(prefix)).length;
  }

  /** The series named `prefix…`, each as `name{label="value",…}`, sorted. */
  seriesKeys(prefix: string): string[] {
    return this.samples
      .filter((s) => s.name.startsWith(prefix))
      .map(
        (s) =>
          `${s.name}{${Object.entries(s.labels)
            .map(([k, v]) => `${k}="${v}"`)
            .join(",")}}`,
      )
      .sort();
  }
}
