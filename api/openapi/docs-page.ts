import { jsonSchema, responsesOf } from './operation';
import { OPERATIONS } from './operations';

const escape = (text: string) => text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** A self-contained documentation page (no scripts, nothing fetched from elsewhere). */
export function docsPage(): string {
  const sections = OPERATIONS.map((op) => {
    const schema = op.body ? `<details><summary>Request body</summary><pre>${escape(JSON.stringify(jsonSchema(op.body), null, 2))}</pre></details>` : '';
    const query = op.query ? `<details><summary>Query</summary><pre>${escape(JSON.stringify(jsonSchema(op.query), null, 2))}</pre></details>` : '';
    const responses = Object.entries(responsesOf(op)).sort().map(([s, d]) => `<li><code>${s}</code> ${escape(d)}</li>`).join('');
    return `<section><h2><span class="m ${op.method}">${op.method.toUpperCase()}</span> <code>${escape(op.path)}</code></h2>
<p>${escape(op.summary)}. <em>${op.roles ? `Roles: ${op.roles.join(', ')}` : 'Open'}</em>${op.csv ? ' · JSON, or CSV with <code>Accept: text/csv</code>' : ''}${op.svg ? ' · JSON, or SVG with <code>Accept: image/svg+xml</code>' : ''}${op.produces ? ` · <code>${op.produces}</code>` : ''}</p>${schema}${query}<ul>${responses}</ul></section>`;
  }).join('\n');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sygedagpenge follow-up engine API</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}h2{font-size:1.05rem;margin:1.6rem 0 .3rem}
.m{display:inline-block;min-width:3.5rem;padding:.1rem .4rem;border-radius:4px;color:#fff;font-size:.8rem;text-align:center}.get{background:#2b6cb0}.post{background:#2f855a}
pre{background:#f6f8fa;padding:.8rem;overflow:auto;font-size:.8rem}section{border-top:1px solid #ddd}</style></head><body>
<h1>Sygedagpenge follow-up engine API</h1><p>Send an API key as <code>Authorization: Bearer &lt;key&gt;</code>. Errors are <code>{ "error": { "code", "message", "details" } }</code>. Machine-readable: <a href="/api/v1/openapi.json">openapi.json</a> (OpenAPI 3.1).</p>
${sections}</body></html>`;
}
