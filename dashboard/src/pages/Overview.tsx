import { useState } from 'preact/hooks';
import { CopyButton } from '../components/CopyButton';
import { Link } from '../components/Link';
import { fmtMs } from '../format';
import type { Gateway } from '../types';
import { PROVIDERS } from '../types';
import { snippets } from './snippets';

/** The gateway's endpoint per provider, SDK snippets and its settings at a glance. */
export function Overview({ gateway: g }: { gateway: Gateway }) {
  const url = (provider: string) => `${location.origin}/v1/${g.account_id}/${g.id}/${provider}`;
  const [lang, setLang] = useState<'openai' | 'anthropic' | 'curl'>('openai');
  const [custom, setCustom] = useState('');
  const customSlug = custom.trim().toLowerCase();
  const customOk = /^[a-z0-9][a-z0-9_-]{0,63}$/.test(customSlug);
  const all = snippets(url('openai'), url('anthropic'), g.authentication);
  const code = all[lang];
  return (
    <div class="stack">
      <section class="card" aria-labelledby="snippets-title">
        <h2 id="snippets-title">Quick start</h2>
        <p class="muted">
          Point an SDK at the gateway; your provider key travels as usual.
          {g.authentication && (
            <>
              {' '}
              This gateway requires a <Link href="/tokens">run token</Link> in <code>cf-aig-authorization</code>.
            </>
          )}
        </p>
        <div class="segmented" role="group" aria-label="Snippet language">
          {(
            [
              ['openai', 'OpenAI SDK'],
              ['anthropic', 'Anthropic SDK'],
              ['curl', 'curl'],
            ] as const
          ).map(([key, label]) => (
            <button key={key} type="button" class="btn btn-small" aria-pressed={lang === key} onClick={() => setLang(key)}>
              {label}
            </button>
          ))}
        </div>
        <div class="code-block">
          <pre data-snippet={lang}>
            <code>{code}</code>
          </pre>
          <CopyButton text={code} label="Copy snippet" />
        </div>
      </section>

      <section class="card" aria-labelledby="endpoints-title">
        <h2 id="endpoints-title">Endpoints</h2>
        <p class="muted">
          <code>{`${location.origin}/v1/${g.account_id}/${g.id}/{provider}/…`}</code> — append the provider's own API path.
        </p>
        <div class="table-wrap">
          <table class="table endpoints" aria-label="Endpoint per provider">
            <thead>
              <tr>
                <th scope="col">Provider</th>
                <th scope="col">Endpoint URL</th>
                <th scope="col">
                  <span class="sr-only">Copy</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {PROVIDERS.map((p) => (
                <tr key={p} data-provider={p}>
                  <th scope="row">{p}</th>
                  <td>
                    <code class="url">{url(p)}</code>
                  </td>
                  <td class="actions">
                    <CopyButton text={url(p)} name={`Copy ${p} URL`} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div class="custom-provider">
          <label for="custom-provider">Custom provider (a slug from your configuration)</label>
          <div class="inline">
            <input
              id="custom-provider"
              placeholder="my-llm"
              autocomplete="off"
              spellcheck={false}
              value={custom}
              onInput={(e) => setCustom(e.currentTarget.value)}
            />
          </div>
          {customOk && (
            <p class="custom-url">
              <code class="url">{url(customSlug)}</code> <CopyButton text={url(customSlug)} name={`Copy ${customSlug} URL`} />
            </p>
          )}
        </div>
      </section>

      <section class="card" aria-labelledby="glance-title">
        <h2 id="glance-title">Settings at a glance</h2>
        <dl class="facts">
          <dt>Authentication</dt>
          <dd>{g.authentication ? 'required (run token)' : 'off'}</dd>
          <dt>Cache</dt>
          <dd>{g.cache_ttl > 0 ? `${g.cache_ttl} s` : 'off'}</dd>
          <dt>Rate limit</dt>
          <dd>
            {g.rate_limiting_limit > 0 && g.rate_limiting_interval > 0
              ? `${g.rate_limiting_limit} per ${g.rate_limiting_interval} s (${g.rate_limiting_technique}, by ${g.rate_limiting_key})`
              : 'off'}
          </dd>
          <dt>Logs</dt>
          <dd>
            {g.collect_logs ? 'collected' : 'off'}
            {g.log_management ? `, cap ${g.log_management} (${g.log_management_strategy ?? 'STOP_INSERTING'})` : ''}
          </dd>
          <dt>Retries</dt>
          <dd>
            {g.retry_max_attempts > 1
              ? `${g.retry_max_attempts} attempts, ${g.retry_delay} ms ${g.retry_backoff}`
              : 'none'}
          </dd>
          <dt>Timeout</dt>
          <dd>{g.request_timeout_ms ? fmtMs(g.request_timeout_ms) : 'server default'}</dd>
        </dl>
        <p>
          <Link href={`/gateways/${encodeURIComponent(g.id)}/settings`}>Change settings</Link>
        </p>
      </section>
    </div>
  );
}
