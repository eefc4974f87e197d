import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { CopyButton } from '../components/CopyButton';
import { Link } from '../components/Link';
import { fmtMs } from '../format';
import type { Gateway } from '../types';
import { PROVIDERS } from '../types';
import { gatewayUrls, snippets } from './snippets';

type Lang = 'openai' | 'anthropic' | 'compat' | 'universal' | 'curl';

const LANGS: [Lang, string][] = [
  ['openai', 'OpenAI SDK'],
  ['anthropic', 'Anthropic SDK'],
  ['compat', 'Unified (any provider)'],
  ['universal', 'Fallbacks (universal)'],
  ['curl', 'curl'],
];

/** The gateway's ways in (native, unified, universal), SDK snippets and its settings at a glance. */
export function Overview({ gateway: g }: { gateway: Gateway }) {
  const urls = gatewayUrls(location.origin, g.account_id, g.id);
  const url = urls.native;
  const [lang, setLang] = useState<Lang>('openai');
  const [custom, setCustom] = useState('');
  const customSlug = custom.trim().toLowerCase();
  const customOk = /^[a-z0-9][a-z0-9_-]{0,63}$/.test(customSlug);
  const all = snippets(url('openai'), url('anthropic'), urls.compatBase, urls.universal, g.authentication);
  const code = all[lang];
  const ways: { key: string; title: string; url: string; what: ComponentChildren }[] = [
    {
      key: 'native',
      title: 'Native (each provider’s own API)',
      url: `${url('{provider}')}/…`,
      what: (
        <>
          Append the provider's own API path; its SDK works unchanged (the table below has each provider's URL).
        </>
      ),
    },
    {
      key: 'compat',
      title: 'Unified, OpenAI-compatible',
      url: urls.compatChat,
      what: (
        <>
          One OpenAI Chat Completions endpoint for every provider: name the provider in the model, as{' '}
          <code>provider/model</code> (<code>anthropic/claude-sonnet-4-5</code>). An OpenAI SDK's base URL is{' '}
          <code class="url">{urls.compatBase}</code>.
        </>
      ),
    },
    {
      key: 'universal',
      title: 'Universal (fallbacks)',
      url: urls.universal,
      what: (
        <>
          <code>POST</code> a JSON array of steps (<code>provider</code>, <code>endpoint</code>, <code>headers</code>,{' '}
          <code>query</code>); the first step that answers wins, and every attempt is logged under one event id.
        </>
      ),
    },
  ];
  return (
    <div class="stack">
      <section class="card" aria-labelledby="how-title">
        <h2 id="how-title">How to call</h2>
        <dl class="ways">
          {ways.map((w) => (
            <div key={w.key} class="way" data-way={w.key}>
              <dt>{w.title}</dt>
              <dd>
                <p class="way-url">
                  <code class="url">{w.url}</code>
                  {w.key === 'native' ? (
                    <CopyButton text={url('{provider}')} name="Copy native URL" />
                  ) : (
                    <CopyButton text={w.url} name={w.key === 'compat' ? 'Copy unified URL' : 'Copy universal URL'} />
                  )}
                </p>
                <p class="muted">{w.what}</p>
              </dd>
            </div>
          ))}
        </dl>
      </section>

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
          {LANGS.map(([key, label]) => (
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
