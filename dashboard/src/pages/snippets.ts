// SDK and curl snippets for a gateway's endpoints.

/** The gateway's three ways in (docs/compat.md, docs/resilience.md). */
export function gatewayUrls(origin: string, account: string, gateway: string) {
  const base = `${origin}/v1/${account}/${gateway}`;
  return {
    native: (provider: string) => `${base}/${provider}`,
    compatBase: `${base}/compat`,
    compatChat: `${base}/compat/chat/completions`,
    universal: base,
  };
}

export function snippets(openaiUrl: string, anthropicUrl: string, compatBase: string, universalUrl: string, auth: boolean) {
  const py = (h: string) => (auth ? `,\n    default_headers={"cf-aig-authorization": "Bearer ${h}"},` : ',');
  const curlAuth = auth ? `\n  -H "cf-aig-authorization: Bearer $TOLLGATE_RUN_TOKEN" \\` : '';
  return {
    openai: `from openai import OpenAI

client = OpenAI(
    base_url="${openaiUrl}"${py('<run token>')}
)  # key from OPENAI_API_KEY
reply = client.chat.completions.create(
    model="gpt-4o-mini",
    messages=[{"role": "user", "content": "Hello through Tollgate"}],
)
print(reply.choices[0].message.content)`,
    anthropic: `from anthropic import Anthropic

client = Anthropic(
    base_url="${anthropicUrl}"${py('<run token>')}
)  # key from ANTHROPIC_API_KEY
reply = client.messages.create(
    model="claude-3-5-haiku-latest",
    max_tokens=256,
    messages=[{"role": "user", "content": "Hello through Tollgate"}],
)
print(reply.content[0].text)`,
    compat: `from openai import OpenAI

# One OpenAI-compatible endpoint for every provider: name it in the model.
client = OpenAI(
    base_url="${compatBase}"${py('<run token>')}
    api_key="<the named provider's key>",
)
reply = client.chat.completions.create(
    model="anthropic/claude-3-5-haiku-latest",
    messages=[{"role": "user", "content": "Hello through Tollgate"}],
)
print(reply.choices[0].message.content)`,
    universal: `# Steps run in order: the second answers if the first fails (after its retries).
curl ${universalUrl} \\${curlAuth}
  -H "Content-Type: application/json" \\
  -d '[
    {"provider": "openai", "endpoint": "chat/completions",
     "headers": {"authorization": "Bearer '"$OPENAI_API_KEY"'"},
     "query": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}},
    {"provider": "anthropic", "endpoint": "v1/messages",
     "headers": {"x-api-key": "'"$ANTHROPIC_API_KEY"'", "anthropic-version": "2023-06-01"},
     "query": {"model": "claude-3-5-haiku-latest", "max_tokens": 256,
               "messages": [{"role": "user", "content": "Hi"}]}}
  ]'`,
    curl: `curl ${openaiUrl}/chat/completions \\
  -H "Authorization: Bearer $OPENAI_API_KEY" \\${curlAuth}
  -H "Content-Type: application/json" \\
  -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}]}'`,
  };
}
