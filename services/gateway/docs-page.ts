// GET /docs: the OpenAPI document as one self-contained HTML page, rendered here. A page that
// loads a viewer from a CDN shows nothing in a cluster without internet access, which is where
// the gateway runs; this one needs no script, no stylesheet and no network.

interface Operation {
  summary?: string;
  description?: string;
  parameters?: Array<{ name: string; in: string; required?: boolean; description?: string; schema?: unknown }>;
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: unknown }> }>;
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const schemaBlock = (schema: unknown) => `<pre>${escape(JSON.stringify(schema ?? {}, null, 2))}</pre>`;

function operationHtml(method: string, path: string, op: Operation): string {
  const parts = [`<h2><code>${method.toUpperCase()} ${escape(path)}</code>${op.summary ? ` — ${escape(op.summary)}` : ''}</h2>`];
  if (op.description) parts.push(`<p>${escape(op.description)}</p>`);
  const params = op.parameters ?? [];
  if (params.length) {
    const rows = params.map(
      (p) => `<tr><td><code>${escape(p.name)}</code></td><td>${escape(p.in)}</td><td>${p.required ? 'yes' : ''}</td><td>${escape(p.description ?? '')}</td></tr>`,
    );
    parts.push(`<table><tr><th>parameter</th><th>in</th><th>required</th><th></th></tr>${rows.join('')}</table>`);
  }
  for (const [type, body] of Object.entries(op.requestBody?.content ?? {})) {
    parts.push(`<details><summary>request body: <code>${escape(type)}</code></summary>${schemaBlock(body.schema)}</details>`);
  }
  for (const [status, response] of Object.entries(op.responses ?? {})) {
    const types = Object.entries(response.content ?? {});
    const inner = types.map(([type, c]) => `<p><code>${escape(type)}</code></p>${schemaBlock(c.schema)}`).join('');
    parts.push(`<details><summary>${escape(status)}${response.description ? ` ${escape(response.description)}` : ''}</summary>${inner}</details>`);
  }
  return `<section>${parts.join('\n')}</section>`;
}

/** The whole page for an OpenAPI 3 document (as served at /openapi.json). */
export function renderDocsPage(document: Record<string, unknown>): string {
  const info = (document.info ?? {}) as { title?: string; version?: string; description?: string };
  const paths = (document.paths ?? {}) as Record<string, Partial<Record<(typeof METHODS)[number], Operation>>>;
  const sections = Object.entries(paths).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((m) => operationHtml(m, path, item[m]!)),
  );
  const title = escape(info.title ?? 'imageflow gateway API');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${title}</title>
<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}pre{background:#f4f4f4;padding:.5em;overflow:auto}
section{border-top:1px solid #ccc;margin-top:1.5em}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2em .5em;text-align:left}</style>
</head><body>
<h1>${title}${info.version ? ` <small>${escape(info.version)}</small>` : ''}</h1>
${info.description ? `<p>${escape(info.description)}</p>` : ''}
<p>The machine-readable document is at <a href="/openapi.json">/openapi.json</a>.</p>
${sections.join('\n')}
</body></html>`;
}
