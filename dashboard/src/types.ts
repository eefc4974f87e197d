// Shapes of the management API's objects (README.md), as far as the dashboard reads them.

export interface Gateway {
  id: string;
  account_id: string;
  created_at: string;
  modified_at: string;
  cache_ttl: number;
  cache_invalidate_on_update: boolean;
  collect_logs: boolean;
  rate_limiting_interval: number;
  rate_limiting_limit: number;
  rate_limiting_technique: 'fixed' | 'sliding';
  rate_limiting_key: string;
  authentication: boolean;
  byok_only: boolean;
  retry_max_attempts: number;
  retry_delay: number;
  retry_backoff: 'constant' | 'linear' | 'exponential';
  request_timeout_ms: number | null;
  log_management: number | null;
  log_management_strategy: 'STOP_INSERTING' | 'DELETE_OLDEST' | null;
  /** Cloudflare's shape (docs/budgets.md); absent or null: none. */
  spend_limits?: { enabled?: boolean; rules?: SpendRuleConfig[] } | null;
  /** Llama-Guard guardrails (docs/guardrails.md); null: none. */
  guardrails?: { prompt?: GuardRules; response?: GuardRules } | null;
  /** DLP policies in either of Cloudflare's shapes (docs/dlp.md); null: none. */
  dlp?: DlpSettings | null;
}

export type GuardAction = 'FLAG' | 'BLOCK';
/** Category (`S1`…`S13`, `P1`) → action. */
export type GuardRules = Record<string, GuardAction>;

export type DlpAction = 'FLAG' | 'BLOCK' | 'REDACT';
export interface DlpPolicy {
  id: string;
  action: DlpAction;
  check: ('REQUEST' | 'RESPONSE')[];
  enabled: boolean;
  profiles: string[];
}
export type DlpSettings =
  | { enabled: boolean; policies: DlpPolicy[] }
  | { enabled: boolean; action: DlpAction; profiles: string[] };

/** One entry of a custom DLP profile. */
export interface DlpEntry {
  id: string;
  name: string;
  enabled: boolean;
  pattern: { regex: string; validation?: string | null };
  context?: string[];
}

/** A custom DLP profile (docs/dlp.md, "Custom profiles"). */
export interface DlpProfile {
  id: string;
  name: string;
  description?: string;
  version: number;
  entries: DlpEntry[];
  created_at?: string;
  updated_at?: string;
}

/** One match of `POST …/dlp/test`: UTF-8 byte offsets into the text sent (docs/dlp.md). */
export interface DlpTestMatch {
  profile: string;
  entry: string;
  entry_name: string;
  start: number;
  end: number;
}

/** A filter (`values`) or a bucket per value (`partition`). */
export interface SpendDimension {
  mode: 'filter' | 'partition';
  values?: string[];
}

/** One `spend_limits` rule as the gateway stores it. */
export interface SpendRuleConfig {
  id?: string;
  enabled?: boolean;
  limit: number;
  window: number;
  technique?: 'fixed' | 'sliding';
  provider?: SpendDimension;
  model?: SpendDimension;
  metadata?: Record<string, SpendDimension>;
}

export interface LogRow {
  id: string;
  created_at: string;
  provider: string;
  model: string | null;
  path: string;
  method: string;
  status_code: number | null;
  success: boolean;
  cached: boolean;
  duration: number | null;
  ttfb: number | null;
  tokens_in: number | null;
  tokens_out: number | null;
  cache_read_tokens: number | null;
  cache_write_tokens: number | null;
  cost: number | null;
  custom_cost: boolean;
  metadata: string | null;
  step: number | null;
  event_id: string | null;
  attempts: number | null;
  request_content_type: string | null;
  response_content_type: string | null;
  request_size: number | null;
  response_size: number | null;
  feedback: number | null;
  score: number | null;
  client_ip: string | null;
  user_agent: string | null;
  error: string | null;
  /** What DLP matched, as JSON text (docs/dlp.md): entry ids, never the matched text. */
  dlp?: string | null;
  /** The OpenTelemetry trace, when the request was traced (docs/observability.md). */
  trace_id?: string | null;
  /** The trace in the operator's tracing UI (`[otel] trace_url`); single-log reads only. */
  trace_url?: string | null;
  request_head_complete?: boolean;
  response_head_complete?: boolean;
}

export interface Measures {
  requests: number;
  errors: number;
  cached_requests: number;
  tokens_in: number;
  tokens_out: number;
  cache_read_tokens?: number;
  cache_write_tokens?: number;
  cost: number;
  duration_p50: number | null;
  duration_p95: number | null;
  duration_p99: number | null;
  ttfb_p50?: number | null;
  ttfb_p95?: number | null;
  ttfb_p99?: number | null;
}

export interface Point extends Measures {
  time: string;
}

export interface Series {
  group: Record<string, string> | null;
  points: Point[];
}

export interface Analytics {
  totals: Measures;
  series: Series[];
}

/** What a budget's bucket holds in its current window (docs/budgets.md), in USD. */
export interface BudgetSpend {
  spent: number;
  limit: number;
  remaining: number;
  window_start: string | null;
  window_end: string | null;
}

export type Technique = 'fixed' | 'sliding';
export type CalendarPeriod = 'hour' | 'day' | 'week' | 'month';

/** A run token and its scope (docs/budgets.md, "Scoped run tokens"); absent scope fields are null. */
export interface RunToken {
  id: string;
  name: string;
  created_at: string;
  /** Only in the create response, once. */
  token?: string;
  gateways: string[] | null;
  providers: string[] | null;
  models: string[] | null;
  expires_at: string | null;
  metadata: Record<string, string | number | boolean> | null;
  rate_limit: { limit: number; interval: number; technique: Technique } | null;
  budget: { limit: number; window: number | CalendarPeriod; technique?: Technique } | null;
  /** Only on `GET …/tokens/{id}`; null without a budget. */
  spend?: BudgetSpend | null;
}

/** One spend-limit rule of a gateway and its current window (`GET …/gateways/{id}/spend`). */
export interface RuleSpend {
  id: string;
  enabled: boolean;
  limit: number;
  window: number;
  technique: Technique;
  /** The dimensions giving the rule a bucket per value; its `spend` is then null. */
  partition_by: string[];
  spend: BudgetSpend | null;
}

export interface GatewaySpend {
  enabled: boolean;
  rules: RuleSpend[];
}

/** Built-in provider slugs (README), for endpoint URLs. */
export const PROVIDERS = [
  'openai',
  'anthropic',
  'azure-openai',
  'google-ai-studio',
  'google-vertex-ai',
  'aws-bedrock',
  'workers-ai',
  'huggingface',
  'replicate',
  'groq',
  'mistral',
  'cohere',
  'deepseek',
  'perplexity-ai',
  'grok',
  'openrouter',
  'cerebras',
  'elevenlabs',
  'cartesia',
  'fal',
  'ideogram',
] as const;

/** Parses a log row's metadata (a JSON object as text) into entries; bad JSON is shown raw. */
export function metadataEntries(metadata: string | null): [string, string][] {
  if (!metadata) return [];
  try {
    const parsed: unknown = JSON.parse(metadata);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
      return Object.entries(parsed as Record<string, unknown>).map(([k, v]) => [
        k,
        typeof v === 'string' ? v : JSON.stringify(v),
      ]);
    }
  } catch {
    /* shown raw below */
  }
  return [['', metadata]];
}

/** A stored provider key as the API shows it: never the secret, only its preview (docs/keys.md). */
export interface ProviderKey {
  id: string;
  alias: string;
  default_config: boolean;
  gateway_id: string;
  provider_slug: string;
  secret_id: string;
  secret_preview: string;
  status: 'active' | 'invalid';
  created_at: string;
  modified_at: string;
  last_used_at: string | null;
  rate_limit?: number;
  rate_limit_period?: number;
}

/** An upstream MCP server registered through the API (docs/mcp.md). */
export interface McpServer {
  id: string;
  gateway_id: string;
  name: string;
  url: string;
  headers: Record<string, string>;
  /** The id of a stored provider key, sent as `Authorization: Bearer …`. */
  key: string | null;
  enabled: boolean;
  timeout_ms: number;
  /** US dollars per tool call, reserved against budgets (docs/mcp.md, "Budgets"); null: free. */
  cost_per_call: number | null;
  created_at: string;
  modified_at: string;
}

/** A saved set of log filters (docs/evaluations.md). */
export interface Dataset {
  id: string;
  name: string;
  enable: boolean;
  filters: { key: string; operator: string; value: (string | number | boolean)[] }[];
  created_at: string;
  modified_at: string;
}

export interface EvaluationType {
  id: string;
  name: string;
  description: string;
}

/** A snapshot of what the evaluators found in its datasets' logs. */
export interface Evaluation {
  id: string;
  name: string;
  datasets: Dataset[];
  processed: boolean;
  total_logs: number;
  results: {
    id: string;
    evaluation_type_id: string;
    result: string;
    status: number;
    status_description: string;
    total_logs: number;
  }[];
  created_at: string;
}
