// DLP as the dashboard edits it (docs/dlp.md): the built-in profiles, a gateway's `dlp` field
// as a form of one action and a set of profiles per direction, the API's errors by the entry
// they name, and the test API's byte offsets turned into highlighted pieces of the text.

import type { DlpAction, DlpPolicy, DlpSettings, DlpTestMatch } from './types';

/** The built-in profiles, by id (docs/dlp.md, "Built-in profiles"). */
export const BUILTIN_PROFILES: { id: string; name: string }[] = [
  { id: 'financial', name: 'Financial information' },
  { id: 'national_ids', name: 'National ids' },
  { id: 'credentials', name: 'Credentials and secrets' },
];

/** The validators an entry may name (docs/dlp.md, "Custom profiles"). */
export const VALIDATIONS = ['luhn', 'payment_card', 'iban', 'aba_routing', 'us_ssn', 'uk_nino', 'ca_sin', 'jwt'];

export const MAX_TEST_BYTES = 1024 * 1024;

export function profilesPath(account: string): string {
  return `/accounts/${encodeURIComponent(account)}/ai-gateway/dlp/profiles`;
}

export function testPath(account: string): string {
  return `/accounts/${encodeURIComponent(account)}/ai-gateway/dlp/test`;
}

/**
 * An API message about a profile body, split by what it names: `entries[2] ("badge"): …` (after
 * an optional `profile: ` prefix, as the test API says it) goes to entry 2, `name: …` to the name,
 * anything else to the form.
 */
export function splitProfileError(message: string): { entry?: number; field?: 'name' | 'description'; text: string } {
  const m = /^(?:profile: )?entries\[(\d+)\](?: \("(?:[^"\\]|\\.)*"\))?: (.*)$/s.exec(message);
  if (m) return { entry: Number(m[1]), text: m[2] };
  const f = /^(?:profile: )?(name|description): (.*)$/s.exec(message);
  if (f) return { field: f[1] as 'name' | 'description', text: f[2] };
  return { text: message.replace(/^profile: /, '') };
}

/** A piece of the tested text: plain, or marked with the matches covering it. */
export interface Piece {
  text: string;
  matches: DlpTestMatch[];
}

/**
 * The text cut at the matches' edges. Offsets are UTF-8 bytes; JavaScript strings count UTF-16
 * units, so each byte offset is mapped to the index of the character it starts (an offset inside
 * a character moves to the character's end). Overlapping matches mark one piece together.
 */
export function highlight(text: string, matches: DlpTestMatch[]): Piece[] {
  // index[b]: the UTF-16 index where the character at or after byte b starts.
  const bytes: number[] = [];
  let byte = 0;
  let unit = 0;
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    const size = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
    for (let i = 0; i < size; i++) bytes[byte + i] = i === 0 ? unit : unit + ch.length;
    byte += size;
    unit += ch.length;
  }
  bytes[byte] = unit;
  const at = (b: number) => bytes[Math.max(0, Math.min(b, byte))];
  const cuts = new Set<number>([0, text.length]);
  const spans = matches.map((m) => ({ m, start: at(m.start), end: at(m.end) })).filter((s) => s.end > s.start);
  for (const s of spans) {
    cuts.add(s.start);
    cuts.add(s.end);
  }
  const points = [...cuts].sort((a, b) => a - b);
  const pieces: Piece[] = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const [from, to] = [points[i], points[i + 1]];
    const covering = spans.filter((s) => s.start <= from && s.end >= to).map((s) => s.m);
    const last = pieces[pieces.length - 1];
    const same = last && last.matches.length === covering.length && last.matches.every((m, k) => m === covering[k]);
    if (same) last.text += text.slice(from, to);
    else pieces.push({ text: text.slice(from, to), matches: covering });
  }
  return pieces;
}

/** UTF-8 length of a string (the test API's bound is in bytes). */
export function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

// --- A gateway's `dlp` field as a form ---------------------------------------------------------

export type Direction = 'REQUEST' | 'RESPONSE';
export const DIRECTIONS: Direction[] = ['REQUEST', 'RESPONSE'];

export interface DlpSide {
  /** '' for off. */
  action: '' | DlpAction;
  profiles: string[];
}

export interface DlpForm {
  enabled: boolean;
  sides: Record<Direction, DlpSide>;
}

const STRENGTH: Record<DlpAction, number> = { FLAG: 0, REDACT: 1, BLOCK: 2 };

/** The field's policies, whichever shape it was written in. */
export function policiesOf(dlp: DlpSettings | null | undefined): DlpPolicy[] {
  if (!dlp) return [];
  if ('policies' in dlp) return dlp.policies;
  return [{ id: 'default', action: dlp.action, check: ['REQUEST', 'RESPONSE'], enabled: true, profiles: dlp.profiles }];
}

/**
 * The form for a gateway's field, and whether it says exactly what the field says: one action per
 * direction for all its profiles, every policy on. When not, saving the form replaces the
 * policies with what it shows (the strongest action per direction).
 */
export function dlpForm(dlp: DlpSettings | null | undefined): { form: DlpForm; exact: boolean } {
  const policies = policiesOf(dlp);
  let exact = policies.every((p) => p.enabled);
  const sides = {} as Record<Direction, DlpSide>;
  for (const d of DIRECTIONS) {
    const active = policies.filter((p) => p.enabled && p.check.includes(d) && p.profiles.length > 0);
    const actions = new Set(active.map((p) => p.action));
    if (actions.size > 1) exact = false;
    const strongest = active.reduce<'' | DlpAction>((a, p) => (a === '' || STRENGTH[p.action] > STRENGTH[a] ? p.action : a), '');
    const profiles: string[] = [];
    for (const p of active) for (const id of p.profiles) if (!profiles.includes(id)) profiles.push(id);
    sides[d] = { action: strongest, profiles };
  }
  return { form: { enabled: dlp ? dlp.enabled !== false : true, sides }, exact };
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

/**
 * The field to send: `null` when no direction acts; the older shape `{enabled, action, profiles}`
 * when both directions do the same; else one policy per direction, keeping the id of the policy
 * that checked only that direction before (what `cf-aig-dlp` and the logs report).
 */
export function dlpBody(form: DlpForm, previous: DlpSettings | null | undefined): DlpSettings | null {
  const on = DIRECTIONS.filter((d) => form.sides[d].action !== '');
  if (on.length === 0) return null;
  const [req, res] = [form.sides.REQUEST, form.sides.RESPONSE];
  const old = policiesOf(previous);
  if (on.length === 2 && req.action === res.action && sameSet(req.profiles, res.profiles)) {
    const both = old.length === 1 && previous && 'policies' in previous ? old[0].id : null;
    if (both) {
      return {
        enabled: form.enabled,
        policies: [{ id: both, action: req.action as DlpAction, check: ['REQUEST', 'RESPONSE'], enabled: true, profiles: req.profiles }],
      };
    }
    return { enabled: form.enabled, action: req.action as DlpAction, profiles: req.profiles };
  }
  const policies: DlpPolicy[] = on.map((d) => {
    const own = old.filter((p) => p.check.length === 1 && p.check[0] === d);
    const id = own.length === 1 ? own[0].id : d === 'REQUEST' ? 'requests' : 'responses';
    return { id, action: form.sides[d].action as DlpAction, check: [d], enabled: true, profiles: form.sides[d].profiles };
  });
  return { enabled: form.enabled, policies };
}

// --- A log row's `dlp` ---------------------------------------------------------------------------

export interface LogDlp {
  action: string;
  findings: { check: string; policy_ids: string[]; profile: { profile_id: string; entry_ids: string[] } }[];
  matches: string[];
}

/** The row's `dlp` JSON text, read; null when absent or not what it should be. */
export function logDlp(text: string | null | undefined): LogDlp | null {
  if (!text) return null;
  try {
    const v = JSON.parse(text) as Partial<LogDlp>;
    if (!v || typeof v !== 'object') return null;
    return {
      action: String(v.action ?? ''),
      findings: Array.isArray(v.findings) ? v.findings : [],
      matches: Array.isArray(v.matches) ? v.matches.map(String) : [],
    };
  } catch {
    return null;
  }
}
