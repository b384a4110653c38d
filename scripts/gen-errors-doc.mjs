// Regenerates docs/errors.md from the error catalogue: npm run build && node scripts/gen-errors-doc.mjs > docs/errors.md
import { ERRORS } from '../dist/errors.js';
const rows = Object.entries(ERRORS).map(([c, s]) => `| \`${c}\` | ${s.status} | \`${s.graphCode}\` | ${s.description} |`);
console.log(`# Errors

Every answer graphwarden gives on its own (rather than Graph's) is a Graph error envelope, so SDK error
handling works unchanged:

\`\`\`json
{ "error": { "code": "GraphwardenPolicyDenied", "message": "…",
             "innerError": { "request-id": "…", "date": "…", "client-request-id": "…", "graphwarden-code": "GW_ERR_POLICY_BLOCKED" } } }
\`\`\`

- \`error.code\` is what SDKs branch on. Token problems use Graph's own \`InvalidAuthenticationToken\`; policy
  decisions use codes of graphwarden's own (\`GraphwardenPolicyDenied\`, …) so a person reading agent logs knows the
  proxy answered, not Graph's \`Authorization_RequestDenied\`.
- \`innerError.request-id\` (and the \`request-id\` / \`x-graphwarden-request-id\` response headers) is graphwarden's id
  for the call; for policy answers it is the decision id that \`graphwarden explain\` takes.
- \`innerError.graphwarden-code\` is the stable code below. \`client-request-id\` is echoed when the agent sent one.

This table is checked against the code by a test (\`test/unit/errors/errors-doc.test.ts\`).

| code | HTTP | Graph \`error.code\` | meaning |
|---|---|---|---|
${rows.join('\n')}`);
