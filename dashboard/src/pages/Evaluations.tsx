// A gateway's datasets (saved log filters) and evaluations (docs/evaluations.md): make a dataset
// from a few filters, evaluate datasets with the Cost, Speed and Human-feedback evaluators, read
// each evaluation's results. Evaluations are snapshots, so they are listed, never edited.

import { useState } from 'preact/hooks';
import { ApiError, call, enc, get } from '../api';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { describedBy, Field, invalidBy } from '../components/Field';
import { Notice } from '../components/Notice';
import { fmtTime } from '../format';
import { useResource } from '../hooks';
import { getAccount } from '../session';
import type { Dataset, Evaluation, EvaluationType, Gateway } from '../types';

const KEYS = ['model', 'provider', 'success', 'cached', 'cost', 'duration', 'tokens', 'tokens_in', 'tokens_out', 'feedback', 'created_at', 'request_content_type', 'response_content_type'];
const OPERATORS = ['eq', 'contains', 'lt', 'gt'];
const UNITS: Record<string, string> = { cost: 'USD', speed: 'ms', 'human-feedback': '% thumbs up' };

interface FilterRow {
  key: string;
  operator: string;
  value: string;
}

/** A typed value for the API: numbers and booleans as themselves, the rest as text. */
function typed(value: string): string | number | boolean {
  const text = value.trim();
  if (text === 'true' || text === 'false') return text === 'true';
  return text !== '' && !Number.isNaN(Number(text)) ? Number(text) : text;
}

export function EvaluationsView({ gateway }: { gateway: Gateway }) {
  const account = getAccount();
  const base = `/accounts/${enc(account)}/ai-gateway/gateways/${enc(gateway.id)}`;
  const datasets = useResource(() => get<Dataset[]>(`${base}/datasets?per_page=100`), [base]);
  const evaluations = useResource(() => get<Evaluation[]>(`${base}/evaluations?per_page=100`), [base]);
  const types = useResource(() => get<EvaluationType[]>(`/accounts/${enc(account)}/ai-gateway/evaluation-types`), [account]);

  const [name, setName] = useState('');
  const [filters, setFilters] = useState<FilterRow[]>([{ key: 'model', operator: 'eq', value: '' }]);
  const [evalName, setEvalName] = useState('');
  const [chosen, setChosen] = useState<string[]>([]);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [evalErrors, setEvalErrors] = useState<Record<string, string>>({});
  const [message, setMessage] = useState('');
  const [removing, setRemoving] = useState<Dataset | null>(null);
  const [busy, setBusy] = useState(false);

  const setFilter = (i: number, change: Partial<FilterRow>) => setFilters(filters.map((f, j) => (j === i ? { ...f, ...change } : f)));

  const addDataset = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    setMessage('');
    try {
      const body = {
        name: name.trim(),
        enable: true,
        filters: filters.map((f) => ({ key: f.key, operator: f.operator, value: f.value.split(',').map(typed) })),
      };
      const res = await call<Dataset>('POST', `${base}/datasets`, body);
      setMessage(`Dataset ${res.result.name} saved.`);
      setName('');
      await datasets.reload();
    } catch (err) {
      setErrors(err instanceof ApiError ? err.byField(['name', ...filters.map((_, i) => `filters[${i}]`)]) : { '': String(err) });
    } finally {
      setBusy(false);
    }
  };

  const evaluate = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setEvalErrors({});
    setMessage('');
    try {
      const res = await call<Evaluation>('POST', `${base}/evaluations`, {
        name: evalName.trim(),
        dataset_ids: chosen,
        evaluation_type_ids: (types.data ?? []).map((t) => t.id),
      });
      setMessage(`Evaluation ${res.result.name} made from ${res.result.total_logs} logs.`);
      setEvalName('');
      await evaluations.reload();
    } catch (err) {
      setEvalErrors(err instanceof ApiError ? err.byField(['name', 'dataset_ids']) : { '': String(err) });
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    if (!removing) return;
    setBusy(true);
    try {
      await call('DELETE', `${base}/datasets/${enc(removing.id)}`);
      setMessage(`Dataset ${removing.name} deleted.`);
      setChosen(chosen.filter((id) => id !== removing.id));
      setRemoving(null);
      await datasets.reload();
    } catch (err) {
      setErrors({ '': err instanceof Error ? err.message : String(err) });
      setRemoving(null);
    } finally {
      setBusy(false);
    }
  };

  const typeName = (id: string) => types.data?.find((t) => t.id === id)?.name ?? id;

  return (
    <div class="evaluations">
      <p class="muted">
        A dataset is a saved set of log filters; an evaluation reads its datasets' logs once and keeps the average cost, the
        average duration and the share of thumbs up it found.
      </p>
      <Notice kind="ok">{message}</Notice>
      <Notice kind="error">{errors[''] ?? datasets.error?.message ?? evaluations.error?.message}</Notice>

      <h2>Datasets</h2>
      <form class="card" onSubmit={addDataset} noValidate aria-label="New dataset">
        <Field id="dataset-name" label="Name" error={errors.name}>
          <input
            id="dataset-name"
            value={name}
            autocomplete="off"
            {...invalidBy('dataset-name', false, errors.name)}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </Field>
        {filters.map((f, i) => (
          <div class="inline-form" key={i} role="group" aria-label={`Filter ${i + 1}`}>
            <Field id={`filter-${i}-key`} label="Key">
              <select id={`filter-${i}-key`} value={f.key} onChange={(e) => setFilter(i, { key: e.currentTarget.value })}>
                {KEYS.map((k) => (
                  <option key={k} value={k}>
                    {k}
                  </option>
                ))}
              </select>
            </Field>
            <Field id={`filter-${i}-operator`} label="Operator">
              <select id={`filter-${i}-operator`} value={f.operator} onChange={(e) => setFilter(i, { operator: e.currentTarget.value })}>
                {OPERATORS.map((o) => (
                  <option key={o} value={o}>
                    {o}
                  </option>
                ))}
              </select>
            </Field>
            <Field id={`filter-${i}-value`} label="Values" hint="Comma-separated; any of them matches." error={errors[`filters[${i}]`]}>
              <input
                id={`filter-${i}-value`}
                value={f.value}
                autocomplete="off"
                {...invalidBy(`filter-${i}-value`, true, errors[`filters[${i}]`])}
                onInput={(e) => setFilter(i, { value: e.currentTarget.value })}
              />
            </Field>
          </div>
        ))}
        <div class="form-actions">
          <button type="button" class="btn" onClick={() => setFilters([...filters, { key: 'provider', operator: 'eq', value: '' }])}>
            Add filter
          </button>
          <button type="submit" class="btn btn-primary" disabled={busy}>
            Save dataset
          </button>
        </div>
      </form>

      {datasets.data && (
        <div class="table-wrap">
          <table class="table" aria-label="Datasets">
            <thead>
              <tr>
                <th scope="col">
                  <span class="sr-only">Evaluate</span>
                </th>
                <th scope="col">Name</th>
                <th scope="col">Filters</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {datasets.data.length === 0 && (
                <tr>
                  <td colSpan={5} class="empty">
                    No datasets yet.
                  </td>
                </tr>
              )}
              {datasets.data.map((d) => (
                <tr key={d.id} data-dataset-id={d.id}>
                  <td>
                    <input
                      type="checkbox"
                      aria-label={`Evaluate ${d.name}`}
                      checked={chosen.includes(d.id)}
                      onChange={(e) => setChosen(e.currentTarget.checked ? [...chosen, d.id] : chosen.filter((id) => id !== d.id))}
                    />
                  </td>
                  <th scope="row">{d.name}</th>
                  <td>
                    {d.filters.map((f, i) => (
                      <code key={i} class="filter-chip">
                        {f.key} {f.operator} {f.value.join(', ')}
                      </code>
                    ))}
                  </td>
                  <td>{fmtTime(d.created_at)}</td>
                  <td class="actions">
                    <button type="button" class="btn btn-small btn-danger-outline" aria-label={`Delete dataset ${d.name}`} onClick={() => setRemoving(d)}>
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <h2>Evaluations</h2>
      <form class="card inline-form" onSubmit={evaluate} noValidate aria-label="New evaluation">
        <Field id="evaluation-name" label="Name" error={evalErrors.name ?? evalErrors.dataset_ids ?? evalErrors['']} hint="Runs Cost, Speed and Human feedback over the datasets ticked above.">
          <input
            id="evaluation-name"
            value={evalName}
            autocomplete="off"
            aria-describedby={describedBy('evaluation-name', true, evalErrors.name ?? evalErrors.dataset_ids ?? evalErrors[''])}
            onInput={(e) => setEvalName(e.currentTarget.value)}
          />
        </Field>
        <button type="submit" class="btn btn-primary" disabled={busy || chosen.length === 0}>
          Evaluate {chosen.length === 1 ? '1 dataset' : `${chosen.length} datasets`}
        </button>
      </form>

      {evaluations.data && (
        <div class="table-wrap">
          <table class="table" aria-label="Evaluations">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Datasets</th>
                <th scope="col">Logs</th>
                <th scope="col">Results</th>
                <th scope="col">Made</th>
              </tr>
            </thead>
            <tbody>
              {evaluations.data.length === 0 && (
                <tr>
                  <td colSpan={5} class="empty">
                    No evaluations yet: tick datasets above and evaluate them.
                  </td>
                </tr>
              )}
              {evaluations.data.map((ev) => (
                <tr key={ev.id} data-evaluation-id={ev.id}>
                  <th scope="row">{ev.name}</th>
                  <td>{ev.datasets.map((d) => d.name).join(', ')}</td>
                  <td class="num">{ev.total_logs}</td>
                  <td>
                    <dl class="results">
                      {ev.results.map((r) => (
                        <div key={r.id} data-result={r.evaluation_type_id}>
                          <dt>{typeName(r.evaluation_type_id)}</dt>
                          <dd>{r.result ? `${r.result} ${UNITS[r.evaluation_type_id] ?? ''}` : <span class="muted">{r.status_description}</span>}</dd>
                        </div>
                      ))}
                    </dl>
                  </td>
                  <td>{fmtTime(ev.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      {removing && (
        <ConfirmDialog title={`Delete dataset ${removing.name}?`} confirmLabel="Delete dataset" busy={busy} onConfirm={remove} onCancel={() => setRemoving(null)}>
          <p>Evaluations made from it keep their results.</p>
        </ConfirmDialog>
      )}
    </div>
  );
}
