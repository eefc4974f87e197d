import { useState } from 'preact/hooks';
import { ApiError, call, enc } from '../api';
import { Notice } from '../components/Notice';
import { useDraft } from '../hooks';
import { getAccount } from '../session';
import type { Gateway, GuardAction, GuardRules } from '../types';
import { DlpCard } from './SafetyDlp';

/** Llama Guard 3's categories and Cloudflare's prompt injection (docs/guardrails.md). */
const CATEGORIES: [string, string][] = [
  ['S1', 'Violent crimes'],
  ['S2', 'Non-violent crimes'],
  ['S3', 'Sex-related crimes'],
  ['S4', 'Child sexual exploitation'],
  ['S5', 'Defamation'],
  ['S6', 'Specialized advice'],
  ['S7', 'Privacy'],
  ['S8', 'Intellectual property'],
  ['S9', 'Indiscriminate weapons'],
  ['S10', 'Hate'],
  ['S11', 'Suicide and self-harm'],
  ['S12', 'Sexual content'],
  ['S13', 'Elections'],
  ['P1', 'Prompt injection'],
];

type Side = 'prompt' | 'response';
type Choice = '' | GuardAction;

/** The rules as the form holds them: every category of each side, '' for off. */
type Form = Record<Side, Record<string, Choice>>;

function fromGateway(g: Gateway): Form {
  const side = (rules?: GuardRules | null) => Object.fromEntries(CATEGORIES.map(([c]) => [c, rules?.[c] ?? ''])) as Record<string, Choice>;
  return { prompt: side(g.guardrails?.prompt), response: side(g.guardrails?.response) };
}

/** Only the categories that act; no rule at all turns guardrails off (`null`). */
function toBody(f: Form): { guardrails: { prompt: GuardRules; response: GuardRules } | null } {
  const side = (choices: Record<string, Choice>) =>
    Object.fromEntries(Object.entries(choices).filter(([, a]) => a !== '')) as GuardRules;
  const prompt = side(f.prompt);
  const response = side(f.response);
  const any = Object.keys(prompt).length + Object.keys(response).length > 0;
  return { guardrails: any ? { prompt, response } : null };
}

/**
 * A gateway's content safety: its Llama-Guard guardrails, edited here (docs/guardrails.md), and
 * its DLP settings, edited in their own card (docs/dlp.md).
 */
export function SafetyView({ gateway, onSaved }: { gateway: Gateway; onSaved: () => void }) {
  const account = getAccount();
  const [form, setForm] = useDraft<Form>(() => fromGateway(gateway), [gateway]);
  const [error, setError] = useState('');
  const [saved, setSaved] = useState('');
  const [busy, setBusy] = useState(false);

  const set = (side: Side, category: string, value: Choice) => {
    setForm((f) => ({ ...f, [side]: { ...f[side], [category]: value } }));
    setSaved('');
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setSaved('');
    try {
      const res = await call<Gateway>('PUT', `/accounts/${enc(account)}/ai-gateway/gateways/${enc(gateway.id)}`, toBody(form));
      setError('');
      setForm(fromGateway(res.result));
      setSaved('Guardrails saved. They apply to the next request.');
      onSaved();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <section class="card" aria-labelledby="guardrails-title">
        <h2 id="guardrails-title">Guardrails</h2>
        <p class="muted">
          Prompts and responses are classified by the server’s Llama Guard model (<code>[guardrails]</code>). A category set
          to Flag is recorded and let through; Block refuses the request (424). A classifier that cannot answer refuses only
          where a side has a Block rule (503). With response rules, streamed responses are read whole before they are sent.
        </p>
        <form onSubmit={(e) => void submit(e)}>
          <div class="table-wrap">
            <table class="table guardrails" aria-label="Guardrail rules">
              <thead>
                <tr>
                  <th scope="col">Category</th>
                  <th scope="col">Prompt</th>
                  <th scope="col">Response</th>
                </tr>
              </thead>
              <tbody>
                {CATEGORIES.map(([category, label]) => (
                  <tr key={category} data-category={category}>
                    <th scope="row">
                      <code>{category}</code> {label}
                    </th>
                    {(['prompt', 'response'] as Side[]).map((side) => (
                      <td key={side}>
                        <select
                          aria-label={`${category} ${label}, ${side}`}
                          name={`${side}-${category}`}
                          value={form[side][category]}
                          onChange={(e) => set(side, category, e.currentTarget.value as Choice)}
                        >
                          <option value="">Off</option>
                          <option value="FLAG">Flag</option>
                          <option value="BLOCK">Block</option>
                        </select>
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Notice kind="error">{error}</Notice>
          <Notice kind="ok">{saved}</Notice>
          <button type="submit" class="btn" disabled={busy}>
            Save guardrails
          </button>
        </form>
      </section>
      <DlpCard gateway={gateway} onSaved={onSaved} />
    </>
  );
}
