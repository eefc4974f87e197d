// A uPlot time-series chart: axis units, a tooltip at the cursor, optional stacked bars,
// colours from the theme (re-created when the system theme changes), width follows the box.

import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { useDarkMode } from '../hooks';

export interface ChartSeries {
  label: string;
  values: (number | null)[];
  /** A theme colour: `--c-<color>` in styles.css. */
  color: 'blue' | 'red' | 'green' | 'amber' | 'purple' | 'gray' | 'teal';
}

interface Props {
  id: string;
  title: string;
  /** The y axis unit, e.g. `requests / min`, `ms`, `USD`. */
  unit: string;
  /** Bucket start times, seconds. */
  x: number[];
  /** Bucket length, seconds: the x axis shows half a bucket either side, so edge bars show whole. */
  step: number;
  series: ChartSeries[];
  format: (v: number) => string;
  kind?: 'bars' | 'lines';
  /** Bars stacked in series order (the series must partition a total). */
  stacked?: boolean;
  /** y axis maximum (e.g. 100 for percentages). */
  max?: number;
}

const HEIGHT = 200;

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

function withAlpha(color: string, alpha: number): string {
  const m = /^#([0-9a-f]{6})$/i.exec(color);
  if (!m) return color;
  const n = parseInt(m[1], 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

/** Series as drawn: stacked bars are cumulative and drawn biggest first. */
function drawn(props: Props): { data: uPlot.AlignedData; order: number[] } {
  const { x, series, stacked } = props;
  if (!stacked) return { data: [x, ...series.map((s) => s.values)], order: series.map((_, i) => i) };
  const sums: (number | null)[][] = [];
  let acc = x.map(() => 0);
  for (const s of series) {
    acc = acc.map((a, i) => a + (s.values[i] ?? 0));
    sums.push(acc.slice());
  }
  const order = series.map((_, i) => series.length - 1 - i);
  return { data: [x, ...order.map((i) => sums[i])], order };
}

function tooltipPlugin(props: () => Props, order: number[]): uPlot.Plugin {
  let tip: HTMLDivElement;
  return {
    hooks: {
      init: (u) => {
        tip = document.createElement('div');
        tip.className = 'chart-tip';
        tip.hidden = true;
        u.over.appendChild(tip);
        u.over.addEventListener('mouseleave', () => {
          tip.hidden = true;
        });
      },
      setCursor: (u) => {
        const idx = u.cursor.idx;
        const { left, top } = u.cursor;
        if (idx === null || idx === undefined || left === undefined || left < 0 || top === undefined) {
          tip.hidden = true;
          return;
        }
        const p = props();
        const when = new Date(p.x[idx] * 1000).toLocaleString(undefined, {
          month: 'short',
          day: 'numeric',
          hour: '2-digit',
          minute: '2-digit',
        });
        tip.replaceChildren();
        const head = document.createElement('div');
        head.className = 'chart-tip-time';
        head.textContent = when;
        tip.appendChild(head);
        for (const i of [...order].reverse()) {
          const s = p.series[i];
          const row = document.createElement('div');
          const swatch = document.createElement('span');
          swatch.className = `swatch swatch-${s.color}`;
          const v = s.values[idx];
          row.append(swatch, `${s.label}: ${v === null || v === undefined ? '—' : p.format(v)}`);
          tip.appendChild(row);
        }
        tip.hidden = false;
        // CSSOM writes (not style attributes) are allowed under the dashboard's CSP.
        const flip = left > u.over.clientWidth / 2;
        tip.style.transform = `translate(${flip ? left - tip.offsetWidth - 12 : left + 12}px, ${Math.max(0, top - 20)}px)`;
      },
    },
  };
}

function makeOptions(p: () => Props, width: number, order: number[]): uPlot.Options {
  const props = p();
  const text = cssVar('--text-muted');
  const grid = cssVar('--grid');
  const bars = props.kind === 'bars';
  const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
  return {
    width,
    height: HEIGHT,
    legend: { show: true, live: false },
    cursor: { points: { show: !bars }, drag: { x: false, y: false } },
    scales: {
      x: {
        time: true,
        range: (_u, min, max) => [min - p().step / 2, max + p().step / 2],
      },
      y: {
        range: (_u, _min, max) => [0, p().max ?? (max > 0 ? max * 1.1 : 1)],
      },
    },
    axes: [
      axis,
      {
        ...axis,
        label: props.unit,
        labelSize: 18,
        // Wide enough for the longest tick label (e.g. `$0.00004`).
        size: (_u, values) => 26 + 7 * Math.max(3, ...(values ?? []).map((v) => String(v).length)),
        values: (_u, splits) => splits.map((v) => p().format(v)),
      },
    ],
    series: [
      {},
      ...order.map((i) => {
        const s = props.series[i];
        const color = cssVar(`--c-${s.color}`);
        return {
          label: s.label,
          stroke: color,
          width: bars ? 0 : 2,
          fill: bars ? withAlpha(color, 0.85) : withAlpha(color, 0.08),
          paths: bars ? uPlot.paths.bars?.({ size: [0.7, 40], gap: 1 }) : undefined,
          // Lines show their points: a lone bucket between empty ones is still visible.
          points: { show: !bars, size: 5, fill: color },
          spanGaps: false,
        } satisfies uPlot.Series;
      }),
    ],
    plugins: [tooltipPlugin(p, order)],
  };
}

export function Chart(props: Props) {
  const holder = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = useRef('');
  const latest = useRef(props);
  latest.current = props;
  const dark = useDarkMode();

  useEffect(() => {
    const el = holder.current;
    if (!el) return;
    const { data, order } = drawn(props);
    const key = [dark, props.kind, props.stacked, props.unit, ...props.series.map((s) => s.label + s.color)].join('|');
    if (plot.current && shape.current === key) {
      plot.current.setData(data);
      return;
    }
    plot.current?.destroy();
    shape.current = key;
    plot.current = new uPlot(makeOptions(() => latest.current, Math.max(200, el.clientWidth), order), data, el);
  });

  useEffect(() => {
    const el = holder.current;
    if (!el) return;
    const observer = new ResizeObserver(() => {
      const width = Math.max(200, el.clientWidth);
      if (plot.current && plot.current.width !== width) plot.current.setSize({ width, height: HEIGHT });
    });
    observer.observe(el);
    return () => {
      observer.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);

  // The first series' sum, for tests and for anyone reading the DOM.
  const total = (props.series[0]?.values ?? []).reduce<number>((a, v) => a + (v ?? 0), 0);
  const summary = `${props.title} in ${props.unit}: ${props.series
    .map((s) => {
      const vals = s.values.filter((v): v is number => v !== null);
      const peak = vals.length ? Math.max(...vals) : 0;
      return `${s.label} peak ${props.format(peak)}`;
    })
    .join(', ')}`;
  return (
    <figure class="chart" data-chart={props.id} data-total={String(total)}>
      <figcaption id={`chart-${props.id}`}>
        {props.title} <span class="unit">({props.unit})</span>
      </figcaption>
      <div ref={holder} class="chart-canvas" role="img" aria-label={summary} />
    </figure>
  );
}
