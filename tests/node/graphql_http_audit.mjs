// Audit a GraphQL server against the GraphQL over HTTP spec with graphql-http's own suite.
//
//   node graphql_http_audit.mjs URL
//
// stdout: a JSON array, one entry per audit: {"id", "name", "status"} with status "ok",
// "notice", "warn" or "error", and for a failed audit "reason" and the response's "status".
import { auditServer } from 'graphql-http';

const [url] = process.argv.slice(2);
if (!url) {
  process.stderr.write('usage: node graphql_http_audit.mjs URL\n');
  process.exit(2);
}

const results = await auditServer({ url });
const report = results.map((result) => {
  const entry = { id: result.id, name: result.name, status: result.status };
  if (result.status !== 'ok') {
    entry.reason = result.reason;
    entry.responseStatus = result.response.status;
  }
  return entry;
});
process.stdout.write(JSON.stringify(report) + '\n');
