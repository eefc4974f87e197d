// SDK and curl snippets for a gateway's endpoints.

export function snippets(openaiUrl: string, anthropicUrl: string, auth: boolean) {
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
    curl: `curl ${openaiUrl}/chat/completions \\
  -H "Authorization: Bearer $OPENAI_API_KEY" \\${curlAuth}
  -H "Content-Type: application/json" \\
  -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}]}'`,
  };
}
