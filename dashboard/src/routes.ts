// Dynamic routes (docs/routing.md) as the management API shows them, and the graph layout the
// Routes tab draws a version with: columns by distance from `start`, rows in reading order.

/** An element's output: the element it leads to. */
export interface RouteOutput {
  elementId: string;
}

export interface RouteElement {
  id: string;
  type: string;
  properties?: Record<string, unknown>;
  outputs?: Record<string, RouteOutput>;
}

export interface RouteVersion {
  version_id: string;
  /** `"true"` for the deployed version (Cloudflare's spelling). */
  active: 'true' | 'false';
  created_at: string;
  /** The version's elements as a JSON string (Cloudflare's field). */
  data: string;
  comment?: string | null;
}

export interface RouteDeployment {
  deployment_id: string;
  version_id: string;
  created_at: string;
  comment?: string | null;
}

export interface Route {
  id: string;
  name: string;
  elements: RouteElement[];
  created_at: string;
  modified_at: string;
  deployment: RouteDeployment;
  version: RouteVersion;
}

/** The model elements' distinct provider and model, in the version's order. */
export function models(elements: RouteElement[]): { provider: string; model: string }[] {
  const seen = new Set<string>();
  const out: { provider: string; model: string }[] = [];
  for (const e of elements) {
    if (e.type !== 'model') continue;
    const provider = String(e.properties?.provider ?? '');
    const model = String(e.properties?.model ?? '');
    const key = `${provider}/${model}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push({ provider, model });
    }
  }
  return out;
}

/** What a node says under its id. */
export function summary(e: RouteElement): string {
  const p = e.properties ?? {};
  switch (e.type) {
    case 'model':
      return `${String(p.provider ?? '?')}/${String(p.model ?? '?')}`;
    case 'conditional':
      return JSON.stringify(p.conditions ?? p.condition ?? {});
    case 'rate':
    case 'rate_limit':
      return `${String(p.limit ?? '?')} ${String(p.limitType ?? 'count')} / ${String(p.window ?? p.interval ?? '?')} s`;
    default:
      return e.type;
  }
}

export interface PlacedNode {
  element: RouteElement;
  column: number;
  row: number;
}

export interface PlacedEdge {
  from: string;
  to: string;
  label: string;
}

export interface Layout {
  nodes: PlacedNode[];
  edges: PlacedEdge[];
  columns: number;
  rows: number;
}

/**
 * Columns by the longest path from `start` (a saved version has no cycle; the relaxation is
 * bounded anyway, so a draft with one cannot hang the page), elements no path reaches in a last
 * column; rows in the version's order within a column.
 */
export function layout(elements: RouteElement[]): Layout {
  const ids = new Set(elements.map((e) => e.id));
  const edges: PlacedEdge[] = [];
  for (const e of elements) {
    for (const [label, out] of Object.entries(e.outputs ?? {})) {
      if (out && ids.has(out.elementId)) edges.push({ from: e.id, to: out.elementId, label });
    }
  }
  const depth = new Map<string, number>();
  const start = elements.find((e) => e.type === 'start');
  if (start) depth.set(start.id, 0);
  for (let round = 0; round < elements.length; round++) {
    let changed = false;
    for (const edge of edges) {
      const from = depth.get(edge.from);
      if (from === undefined) continue;
      if ((depth.get(edge.to) ?? -1) < from + 1 && from + 1 < elements.length) {
        depth.set(edge.to, from + 1);
        changed = true;
      }
    }
    if (!changed) break;
  }
  const last = Math.max(0, ...depth.values()) + 1;
  const perColumn = new Map<number, number>();
  const nodes = elements.map((element) => {
    const column = depth.get(element.id) ?? last;
    const row = perColumn.get(column) ?? 0;
    perColumn.set(column, row + 1);
    return { element, column, row };
  });
  return {
    nodes,
    edges,
    columns: Math.max(0, ...nodes.map((n) => n.column)) + 1,
    rows: Math.max(0, ...perColumn.values()),
  };
}
