/** Bar charts as inline SVG, so that the report needs no script and no network to be read. */

export interface BarSeries {
  name: string;
  /** One per category; null where there is no measurement. */
  values: (number | null)[];
  color: string;
}

export interface BarChartOptions {
  title: string;
  categories: string[];
  series: BarSeries[];
  unit: string;
  /** A logarithmic axis, for values that span orders of magnitude. */
  log?: boolean;
  /** Series stacked into one bar per category instead of side by side. */
  stacked?: boolean;
  /** A target, drawn as a dashed line. */
  reference?: { value: number; label: string };
  width?: number;
  height?: number;
}

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

function formatValue(value: number): string {
  if (value === 0) return '0';
  if (Math.abs(value) >= 1000) return `${Math.round(value).toLocaleString('en-US')}`;
  if (Math.abs(value) >= 10) return value.toFixed(0);
  if (Math.abs(value) >= 1) return value.toFixed(1);
  return value.toPrecision(2);
}

export function barChart(options: BarChartOptions): string {
  const width = options.width ?? 760;
  const height = options.height ?? 320;
  const margin = { top: 48, right: 16, bottom: 70, left: 64 };
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const { categories, series } = options;
  const totals = categories.map((_, index) =>
    options.stacked
      ? series.reduce((sum, one) => sum + (one.values[index] ?? 0), 0)
      : Math.max(0, ...series.map((one) => one.values[index] ?? 0)),
  );
  const maximum = Math.max(options.reference?.value ?? 0, ...totals, 1e-9);
  const positives = series.flatMap((one) => one.values).filter((value): value is number => value !== null && value > 0);
  const minimum = options.log ? 10 ** Math.floor(Math.log10(Math.min(...positives, options.reference?.value ?? Infinity, maximum))) : 0;
  const top = options.log ? 10 ** Math.ceil(Math.log10(maximum * 1.05)) : niceCeiling(maximum * 1.1);
  const y = (value: number) => {
    if (options.log) {
      const clamped = Math.max(value, minimum);
      return margin.top + plotHeight - ((Math.log10(clamped) - Math.log10(minimum)) / (Math.log10(top) - Math.log10(minimum) || 1)) * plotHeight;
    }
    return margin.top + plotHeight - (value / top) * plotHeight;
  };
  const parts: string[] = [];
  parts.push(`<text x="${margin.left}" y="18" class="title">${escapeXml(options.title)}</text>`);
  // Axis and grid.
  const ticks = options.log
    ? Array.from({ length: Math.round(Math.log10(top) - Math.log10(minimum)) + 1 }, (_, index) => minimum * 10 ** index)
    : Array.from({ length: 6 }, (_, index) => (top / 5) * index);
  for (const tick of ticks) {
    parts.push(
      `<line x1="${margin.left}" x2="${margin.left + plotWidth}" y1="${y(tick)}" y2="${y(tick)}" class="grid"/>`,
      `<text x="${margin.left - 6}" y="${y(tick) + 4}" class="tick" text-anchor="end">${formatValue(tick)}</text>`,
    );
  }
  parts.push(`<text x="14" y="${margin.top + plotHeight / 2}" class="tick" transform="rotate(-90 14 ${margin.top + plotHeight / 2})" text-anchor="middle">${escapeXml(options.unit)}</text>`);
  // Bars.
  const groupWidth = plotWidth / Math.max(1, categories.length);
  const barsPerGroup = options.stacked ? 1 : series.length;
  const barWidth = Math.max(3, Math.min(40, (groupWidth * 0.8) / barsPerGroup));
  categories.forEach((category, categoryIndex) => {
    const groupStart = margin.left + categoryIndex * groupWidth + (groupWidth - barWidth * barsPerGroup) / 2;
    let stackBase = 0;
    series.forEach((one, seriesIndex) => {
      const value = one.values[categoryIndex] ?? null;
      const x = groupStart + (options.stacked ? 0 : seriesIndex * barWidth);
      if (value === null) {
        if (!options.stacked) parts.push(`<text x="${x + barWidth / 2}" y="${margin.top + plotHeight - 4}" class="na" text-anchor="middle">n/a</text>`);
        return;
      }
      const from = options.stacked ? stackBase : options.log ? minimum : 0;
      const to = options.stacked ? stackBase + value : value;
      stackBase = to;
      const yTop = y(to);
      const yBottom = y(from);
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${yTop.toFixed(1)}" width="${(barWidth - 1).toFixed(1)}" height="${Math.max(0, yBottom - yTop).toFixed(1)}" fill="${one.color}">` +
          `<title>${escapeXml(`${one.name}, ${category}: ${formatValue(value)} ${options.unit}`)}</title></rect>`,
      );
      if (!options.stacked && barWidth >= 14) {
        parts.push(`<text x="${x + barWidth / 2}" y="${yTop - 3}" class="value" text-anchor="middle">${formatValue(value)}</text>`);
      }
    });
    if (options.stacked) parts.push(`<text x="${groupStart + barWidth / 2}" y="${y(stackBase) - 3}" class="value" text-anchor="middle">${formatValue(stackBase)}</text>`);
    const labelX = margin.left + categoryIndex * groupWidth + groupWidth / 2;
    parts.push(`<text x="${labelX}" y="${margin.top + plotHeight + 14}" class="tick" text-anchor="end" transform="rotate(-30 ${labelX} ${margin.top + plotHeight + 14})">${escapeXml(category)}</text>`);
  });
  if (options.reference) {
    const yRef = y(options.reference.value);
    parts.push(
      `<line x1="${margin.left}" x2="${margin.left + plotWidth}" y1="${yRef}" y2="${yRef}" class="reference"/>`,
      `<text x="${margin.left + plotWidth}" y="${yRef - 4}" class="reference-label" text-anchor="end">${escapeXml(options.reference.label)}</text>`,
    );
  }
  // Legend.
  let legendX = margin.left;
  for (const one of series) {
    parts.push(`<rect x="${legendX}" y="28" width="10" height="10" fill="${one.color}"/><text x="${legendX + 14}" y="37" class="tick">${escapeXml(one.name)}</text>`);
    legendX += 24 + one.name.length * 6.5;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeXml(options.title)}">${parts.join('')}</svg>`;
}

function niceCeiling(value: number): number {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 2.5, 5, 10].find((candidate) => candidate * magnitude >= value) ?? 10;
  return step * magnitude;
}

export const CHART_STYLE = `
svg { font-family: system-ui, sans-serif; background: #fff; }
svg .title { font-size: 14px; font-weight: 600; }
svg .tick { font-size: 11px; fill: #444; }
svg .value { font-size: 9px; fill: #222; }
svg .na { font-size: 9px; fill: #999; }
svg .grid { stroke: #e5e5e5; }
svg .reference { stroke: #c0392b; stroke-dasharray: 5 4; stroke-width: 1.5; }
svg .reference-label { font-size: 11px; fill: #c0392b; }
`;
