import { renderMarkdown } from './report-markdown';
import type { BenchResults, DesignSection } from './results';
import { barChart, CHART_STYLE, escapeXml } from './svg-charts';

const COLORS = { wsNotify: '#2e86de', naive: '#e67e22', rawWs: '#27ae60' };
const STACK_COLORS = ['#2e86de', '#8e44ad', '#16a085', '#e67e22', '#c0392b', '#7f8c8d', '#f1c40f', '#34495e'];

/** latest.html: the charts, then the tables of latest.md. One file; no script, no network. */
export function renderHtml(results: BenchResults): string {
  const charts: string[] = [];
  const designs: [string, DesignSection | undefined, string][] = [
    ['ws-notify', results.e2e, COLORS.wsNotify],
    ['naive', results.naive, COLORS.naive],
    ['raw ws', results.rawWs, COLORS.rawWs],
  ];
  const present = designs.filter(([, section]) => section !== undefined);
  const configKeys = [...new Set(present.flatMap(([, section]) => (section?.configs ?? []).map((config) => `${config.users}u × ${config.connectionsPerUser}`)))];
  const valueOf = (section: DesignSection | undefined, key: string, pick: (config: DesignSection['configs'][number]) => number | null) => {
    const config = section?.configs.find((candidate) => `${candidate.users}u × ${candidate.connectionsPerUser}` === key);
    return config ? pick(config) : null;
  };
  if (configKeys.length > 0) {
    charts.push(
      barChart({
        title: 'Deliveries per second at saturation (log scale)',
        categories: configKeys,
        series: present.map(([name, section, color]) => ({ name, color, values: configKeys.map((key) => valueOf(section, key, (config) => config.saturation.throughputPerSec)) })),
        unit: 'deliveries/s',
        log: true,
      }),
    );
    for (const percentile of ['p50Ms', 'p99Ms'] as const) {
      charts.push(
        barChart({
          title: `Latency ${percentile.slice(0, 3)} at ${results.settings.fixedRate.perSecond} msg/s, hand-off → frame (log scale; n/a: beyond the wait)`,
          categories: configKeys,
          series: present.map(([name, section, color]) => ({ name, color, values: configKeys.map((key) => valueOf(section, key, (config) => config.fixedRate.latency[percentile])) })),
          unit: 'ms',
          log: true,
          reference: percentile === 'p50Ms' ? { value: 50, label: 'target 50 ms' } : { value: 250, label: 'target 250 ms' },
        }),
      );
    }
    const cpuDesigns = present.filter(([, section]) => section?.configs.some((config) => Object.keys(config.saturation.cpuMsPerDelivery).length > 0));
    const roles = [...new Set(cpuDesigns.flatMap(([, section]) => section?.configs.flatMap((config) => Object.keys(config.saturation.cpuMsPerDelivery)) ?? []))];
    const categories = cpuDesigns.flatMap(([name, section]) => (section?.configs ?? []).map((config) => `${name} ${config.users}u×${config.connectionsPerUser}`));
    if (categories.length > 0) {
      charts.push(
        barChart({
          title: 'Where the machine’s CPU went, per delivery, at saturation',
          categories,
          series: roles.map((role, index) => ({
            name: role,
            color: STACK_COLORS[index % STACK_COLORS.length] as string,
            values: cpuDesigns.flatMap(([, section]) => (section?.configs ?? []).map((config) => config.saturation.cpuMsPerDelivery[role] ?? 0)),
          })),
          unit: 'CPU ms per delivery',
          stacked: true,
          width: 900,
        }),
      );
    }
  }
  const calls = results.awsCallsPerDelivery;
  if (calls) {
    const apis = [...new Set([...Object.keys(calls.byApi), ...Object.keys(calls.naive?.byApi ?? {})])].sort();
    const eventSource = calls.eventSource.ReceiveMessage + calls.eventSource.DeleteMessageBatch;
    charts.push(
      barChart({
        title: `AWS calls per delivered message, by API (${calls.measuredIn})`,
        categories: ['ws-notify', ...(calls.naive ? ['naive'] : [])],
        series: [
          ...apis.map((api, index) => ({
            name: api,
            color: STACK_COLORS[index % STACK_COLORS.length] as string,
            values: [calls.byApi[api] ?? 0, ...(calls.naive ? [calls.naive.byApi[api] ?? 0] : [])],
          })),
          {
            name: 'event-source Receive+Delete',
            color: '#bdc3c7',
            values: [eventSource, ...(calls.naive ? [calls.naive.withEventSource - calls.naive.total] : [])],
          },
        ],
        unit: 'calls per delivery',
        stacked: true,
        reference: { value: 1.6, label: 'target 1.6 (functions’ calls)' },
        width: 900,
      }),
    );
  }
  const costs = results.costPerMillionUsd;
  if (costs?.wsNotify || costs?.naive) {
    const keys = ['n1k', 'n10k', 'n100k'] as const;
    charts.push(
      barChart({
        title: 'Modeled cost per 1M notifications, 2 connections per user (log scale)',
        categories: keys.map((key) => `${key.slice(1)} users`),
        series: [
          ...(costs.wsNotify ? [{ name: 'ws-notify', color: COLORS.wsNotify, values: keys.map((key) => costs.wsNotify?.[key] ?? null) }] : []),
          ...(costs.naive ? [{ name: 'naive', color: COLORS.naive, values: keys.map((key) => costs.naive?.[key] ?? null) }] : []),
        ],
        unit: 'USD per 1M',
        log: true,
        reference: { value: 2.75, label: 'target $2.75' },
      }),
    );
  }
  if (results.bundles) {
    const names = Object.keys(results.bundles).sort();
    charts.push(
      barChart({
        title: 'Bundle size',
        categories: names,
        series: [
          { name: 'as synthesized', color: COLORS.wsNotify, values: names.map((name) => (results.bundles?.[name]?.bytes ?? 0) / 1024) },
        ],
        unit: 'KB',
        reference: { value: 400, label: 'target 400 KB' },
      }),
      barChart({
        title: 'Cold import (fresh node process, median)',
        categories: names,
        series: [
          { name: 'as synthesized', color: COLORS.wsNotify, values: names.map((name) => results.bundles?.[name]?.importMs ?? 0) },
        ],
        unit: 'ms',
        reference: { value: 45, label: 'target 45 ms' },
      }),
    );
  }
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>ws-notify benchmark — ${escapeXml(results.finishedAt ?? results.startedAt)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 980px; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 4px 8px; }
th { background: #f4f4f4; }
pre.md { white-space: pre-wrap; font-size: 12px; background: #fafafa; padding: 1rem; border: 1px solid #eee; }
figure { margin: 1.5rem 0; }
${CHART_STYLE}
</style>
</head>
<body>
<h1>ws-notify benchmark</h1>
<p>${escapeXml(`${results.mode} run, ${results.finishedAt ?? results.startedAt}, ${results.durationSeconds ?? '?'} s; ${results.machine.cpus} × ${results.machine.cpuModel}, Node ${results.machine.node}.`)}
Method and caveats: docs/performance.md.</p>
${charts.map((chart) => `<figure>${chart}</figure>`).join('\n')}
${markdownTablesToHtml(renderMarkdown(results))}
</body>
</html>
`;
}

/** The markdown report's headings, paragraphs and tables, as HTML (the only markdown it uses). */
function markdownTablesToHtml(markdown: string): string {
  const html: string[] = [];
  const lines = markdown.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index] as string;
    if (line.startsWith('#')) {
      const level = Math.min(6, (/^#+/.exec(line)?.[0].length ?? 1) + 1);
      html.push(`<h${level}>${inline(line.replace(/^#+\s*/, ''))}</h${level}>`);
    } else if (line.startsWith('|')) {
      const rows: string[][] = [];
      while (index < lines.length && (lines[index] as string).startsWith('|')) {
        const cells = (lines[index] as string).split('|').slice(1, -1).map((cell) => cell.trim());
        if (!cells.every((cell) => /^:?-+:?$/.test(cell))) rows.push(cells);
        index += 1;
      }
      index -= 1;
      const [head, ...body] = rows;
      html.push(
        `<table><thead><tr>${(head ?? []).map((cell) => `<th>${inline(cell)}</th>`).join('')}</tr></thead><tbody>` +
          body.map((row) => `<tr>${row.map((cell) => `<td>${inline(cell)}</td>`).join('')}</tr>`).join('') +
          '</tbody></table>',
      );
    } else if (line.startsWith('- ')) {
      html.push(`<p>• ${inline(line.slice(2))}</p>`);
    } else if (line.trim() !== '') {
      html.push(`<p>${inline(line)}</p>`);
    }
  }
  return html.join('\n');
}

function inline(text: string): string {
  return escapeXml(text).replace(/\*\*(.+?)\*\*/g, '<strong>$1</strong>');
}
