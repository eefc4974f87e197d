import { layout, type RouteElement, summary } from '../routes';

const W = 168;
const H = 52;
const GAP_X = 72;
const GAP_Y = 28;
const PAD = 12;

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * A route version drawn as boxes and arrows (SVG, no library): one column per step from
 * `start`, each output an arrow labelled with its name. Each node carries its element's id
 * (`data-element-id`) and type; `marked` ids (named by a validation error) are outlined.
 */
export function RouteGraph({ elements, label, marked = [] }: { elements: RouteElement[]; label: string; marked?: string[] }) {
  const g = layout(elements);
  const x = (column: number) => PAD + column * (W + GAP_X);
  const y = (row: number) => PAD + row * (H + GAP_Y);
  const at = new Map(g.nodes.map((n) => [n.element.id, n]));
  const width = PAD * 2 + g.columns * W + (g.columns - 1) * GAP_X;
  const height = PAD * 2 + g.rows * H + Math.max(0, g.rows - 1) * GAP_Y;
  return (
    <div class="route-graph">
      <svg role="img" aria-label={label} viewBox={`0 0 ${width} ${height}`} width={width} height={height}>
        <defs>
          <marker id="route-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" class="route-arrow" />
          </marker>
        </defs>
        {g.edges.map((e) => {
          const a = at.get(e.from);
          const b = at.get(e.to);
          if (!a || !b) return null;
          const x1 = x(a.column) + W;
          const y1 = y(a.row) + H / 2;
          const x2 = x(b.column);
          const y2 = y(b.row) + H / 2;
          // Backwards or same-column arrows (only in a broken draft) bend around.
          const bend = x2 > x1 ? (x2 - x1) / 2 : 60;
          return (
            <g key={`${e.from}-${e.label}`} class="route-edge" data-from={e.from} data-to={e.to}>
              <path d={`M ${x1} ${y1} C ${x1 + bend} ${y1}, ${x2 - bend} ${y2}, ${x2} ${y2}`} marker-end="url(#route-arrow)" />
              <text x={(x1 + x2) / 2} y={(y1 + y2) / 2 - 4} text-anchor="middle">
                {clip(e.label, 14)}
              </text>
            </g>
          );
        })}
        {g.nodes.map((n) => (
          <g
            key={n.element.id}
            class={`route-node route-node-${n.element.type}${marked.includes(n.element.id) ? ' route-node-marked' : ''}`}
            data-element-id={n.element.id}
            data-type={n.element.type}
            transform={`translate(${x(n.column)} ${y(n.row)})`}
          >
            <title>{`${n.element.id} (${n.element.type}): ${summary(n.element)}`}</title>
            <rect width={W} height={H} rx="8" />
            <text x="10" y="20" class="route-node-id">
              {clip(n.element.id, 20)}
            </text>
            <text x="10" y="39" class="route-node-summary">
              {clip(summary(n.element), 24)}
            </text>
          </g>
        ))}
      </svg>
    </div>
  );
}
