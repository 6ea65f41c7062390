/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The dashboard page's script, bundled for the browser by ./files.ts: it reads the same
// schemas as `relaymesh status` (answers are validated before they are drawn) and formats
// figures the same way. The DOM types above are the browser's; tsc applies them to the whole
// project, which it checks in one pass.
import { z } from 'zod';
import { count, duration } from '../../ops/format';
import type { RegionAction } from '../edge-server';
import { CloudStatusSchema, StatusHistorySchema, type CloudStatus, type Figure, type RegionStatus, type StatusHistory } from '../status';
import { CHART_FRAME, chartOf, type ChartMetric } from './chart';

/** How long after one refresh ends the next starts: answers never pile up on a busy machine. */
const REFRESH_MS = 1000;
/** The charts' time axis: what the cloud keeps. */
const CHART_SPAN_MS = 120_000;
const COLORS = ['#2f6fdd', '#d9480f', '#2b8a3e', '#862e9c', '#e8590c', '#0b7285'];
const BUTTONS: Record<RegionAction, string> = { drain: 'Drain', undrain: 'Undrain', fail: 'Fail', restore: 'Restore' };
const SVG = 'http://www.w3.org/2000/svg';

type State = 'serving' | 'drained' | 'failed' | 'unhealthy';

const byId = (id: string) => document.getElementById(id)!;
/** An element with its attributes and text or children; text goes in as text, never as markup. */
function element<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Record<string, string> = {}, ...children: Array<Node | string>): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}
function svgElement(tag: string, attributes: Record<string, string>, text?: string): SVGElement {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

const figure = (value: Figure, show: (n: number) => string = count): string => (typeof value === 'number' ? show(value) : 'n/a');
const colorOf = (regions: readonly string[], region: string) => COLORS[regions.indexOf(region) % COLORS.length]!;

function stateOf(region: RegionStatus): State {
  if (region.failed === true) return 'failed';
  if (region.drained === true) return 'drained';
  return 'na' in region.health || region.health.healthy ? 'serving' : 'unhealthy';
}

/** Each action is offered when it changes something: drain a region not drained, restore a failed one. */
function offered(action: RegionAction, region: RegionStatus): boolean {
  switch (action) {
    case 'drain':
      return region.drained === false;
    case 'undrain':
      return region.drained === true;
    case 'fail':
      return region.failed === false;
    case 'restore':
      return region.failed === true;
  }
}

function showBanner(id: 'connection' | 'feedback', text: string | undefined, kind: 'ok' | 'error' = 'error'): void {
  const banner = byId(id);
  banner.hidden = text === undefined;
  banner.textContent = text ?? '';
  banner.className = `banner ${kind}`;
}

/** GETs a JSON answer of the edge and checks it against its schema, or throws what is wrong with it. */
async function read<T>(path: string, schema: z.ZodType<T>): Promise<T> {
  const response = await fetch(path, { cache: 'no-store' });
  if (!response.ok) throw new Error(`GET ${path} answered HTTP ${response.status}`);
  const parsed = schema.safeParse(await response.json());
  if (!parsed.success) throw new Error(`GET ${path} is not what this page reads: ${parsed.error.issues[0]!.message}`);
  return parsed.data;
}

async function control(region: string, action: RegionAction): Promise<void> {
  try {
    const response = await fetch(`/control/${encodeURIComponent(region)}/${action}`, { method: 'POST' });
    const body = (await response.json().catch(() => ({}))) as { message?: string };
    if (!response.ok) throw new Error(body.message ?? `HTTP ${response.status}`);
    showBanner('feedback', `${action} ${region}: done`, 'ok');
  } catch (error) {
    showBanner('feedback', `${action} ${region} failed: ${(error as Error).message}`);
  }
  await refresh();
}

/** A region's card: built once, so its buttons stay put while its figures are redrawn each refresh. */
function card(region: string): HTMLElement {
  const existing = document.querySelector<HTMLElement>(`.region[data-region="${CSS.escape(region)}"]`);
  if (existing) return existing;
  const actions = element('div', { class: 'actions' });
  for (const [action, label] of Object.entries(BUTTONS) as Array<[RegionAction, string]>) {
    const button = element('button', { type: 'button', 'data-action': action }, label);
    button.addEventListener('click', () => void control(region, action));
    actions.append(button);
  }
  const created = element('article', { class: 'region', 'data-region': region }, element('h2', {}, region, element('span', { class: 'state' })), element('div', { class: 'figures' }), actions);
  byId('regions').append(created);
  return created;
}

function renderRegion(region: RegionStatus): void {
  const node = card(region.region);
  const state = stateOf(region);
  node.dataset.state = state;
  node.querySelector('.state')!.textContent = state;
  const health = 'na' in region.health ? 'n/a' : `${region.health.healthy ? 'healthy' : 'unhealthy'} (${region.health.detail})`;
  const facts: Array<[string, string, string]> = [
    ['health', health, 'health'],
    ['connections', figure(region.connections), 'connections'],
    ['subscriptions', figure(region.subscriptions), 'subscriptions'],
    ['replication lag', figure(region.replicationLagMs, (ms) => `${count(ms)} ms`), 'replication-lag'],
    ['deliveries/s', figure(region.deliveriesPerSecond), 'deliveries'],
  ];
  const list = element('dl', {}, ...facts.flatMap(([label, value, key]) => [element('dt', {}, label), element('dd', { 'data-figure': key }, value)]));
  const queues = element(
    'table',
    {},
    element('tr', {}, ...['queue', 'visible', 'in flight', 'oldest', 'DLQ'].map((h) => element('th', {}, h))),
    ...region.queues.map((q) =>
      element(
        'tr',
        { 'data-queue': q.eventClass },
        element('td', {}, q.eventClass),
        element('td', {}, figure(q.visible)),
        element('td', {}, figure(q.inFlight)),
        element('td', {}, figure(q.oldestAgeSeconds, duration)),
        element('td', { 'data-figure': 'dead-letters', ...(typeof q.deadLetters === 'number' && q.deadLetters > 0 && { class: 'dead-letters' }) }, figure(q.deadLetters)),
      ),
    ),
  );
  const firing = region.alarms.filter((a) => a.state === 'ALARM');
  const alarms = element(
    'ul',
    { class: 'alarms' },
    ...(firing.length === 0
      ? [element('li', { class: 'quiet' }, `${region.alarms.length} alarms, none in ALARM`)]
      : firing.map((a) => element('li', { class: 'firing', 'data-alarm': a.name, title: a.reason }, `ALARM ${a.name} since ${new Date(a.since).toLocaleTimeString()}: ${a.reason}`))),
  );
  node.querySelector('.figures')!.replaceChildren(list, queues, alarms);
  for (const button of node.querySelectorAll<HTMLButtonElement>('button[data-action]')) button.disabled = !offered(button.dataset.action as RegionAction, region);
}

function renderChart(svgId: string, legendId: string, history: StatusHistory, metric: ChartMetric, regions: readonly string[]): void {
  const { width, height, left, right, top, bottom } = CHART_FRAME;
  const chart = chartOf(history, metric, regions, CHART_SPAN_MS);
  const svg = byId(svgId);
  const baseline = height - bottom;
  svg.replaceChildren(
    svgElement('line', { class: 'axis', x1: String(left), y1: String(top), x2: String(left), y2: String(baseline) }),
    svgElement('line', { class: 'axis', x1: String(left), y1: String(baseline), x2: String(width - right), y2: String(baseline) }),
    svgElement('text', { x: String(left - 4), y: String(top + 8), 'text-anchor': 'end' }, count(chart.yMax)),
    svgElement('text', { x: String(left - 4), y: String(baseline), 'text-anchor': 'end' }, '0'),
    svgElement('text', { x: String(left), y: String(height - 6) }, `−${CHART_SPAN_MS / 60_000} min`),
    svgElement('text', { x: String(width - right), y: String(height - 6), 'text-anchor': 'end' }, 'now'),
    ...chart.lines.map((line) =>
      svgElement('polyline', {
        points: line.points,
        stroke: colorOf(regions, line.region),
        'data-region': line.region,
        'data-latest': String(line.latest),
        'data-peak': String(line.peak),
      }),
    ),
  );
  byId(legendId).replaceChildren(
    ...chart.lines.map((line) => element('span', { style: `--swatch: ${colorOf(regions, line.region)}`, 'data-region': line.region }, `${line.region} ${count(line.latest)}`)),
  );
}

function render(status: CloudStatus, history: StatusHistory): void {
  const regions = status.regions.map((r) => r.region);
  for (const region of status.regions) renderRegion(region);
  renderChart('chart-deliveries', 'legend-deliveries', history, 'deliveriesPerSecond', regions);
  renderChart('chart-queue-depth', 'legend-queue-depth', history, 'queueDepth', regions);
  byId('updated').textContent = `updated ${new Date(status.at).toLocaleTimeString()}`;
}

let refreshesStarted = 0;
let newestRendered = 0;

async function refresh(): Promise<void> {
  // A button's refresh overlaps the timer's: an answer older than the one on screen is dropped.
  const started = ++refreshesStarted;
  try {
    const [status, history] = await Promise.all([read('/status', CloudStatusSchema), read('/status/history', StatusHistorySchema)]);
    if (started < newestRendered) return;
    newestRendered = started;
    render(status, history);
    showBanner('connection', undefined);
  } catch (error) {
    showBanner('connection', `The local cloud does not answer as expected (${(error as Error).message}); is \`npm start\` still running?`);
  }
}

async function refreshForever(): Promise<void> {
  await refresh();
  setTimeout(() => void refreshForever(), REFRESH_MS);
}

void refreshForever();
