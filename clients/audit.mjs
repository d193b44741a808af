// The GraphQL over HTTP specification's own audit suite (graphql-http's serverAudits)
// against SCREEMA_URL's /graphql. Prints one JSON object: the counts by outcome and
// every warning and error with its audit's id and name, then exits 0; judging is the
// caller's (tests/it/http_spec.rs).
import { auditServer } from 'graphql-http';

const url = `${process.env.SCREEMA_URL}/graphql`;
const results = await auditServer({ url });
const report = { ok: 0, warn: 0, error: 0, problems: [] };
for (const r of results) {
  report[r.status] += 1;
  if (r.status !== 'ok') {
    let body = '';
    try {
      body = r.response ? (await r.response.text()).slice(0, 300) : '';
    } catch {
      body = '(body already read)';
    }
    report.problems.push({
      id: r.id,
      status: r.status,
      name: r.name,
      reason: r.reason,
      httpStatus: r.response?.status,
      contentType: r.response?.headers.get('content-type'),
      body,
    });
  }
}
console.log(JSON.stringify(report));
