/**
 * Renders the configuration reference (docs/configuration.md) from the JSON Schema, so
 * the documentation cannot drift from what is validated (a test compares them).
 */
interface SchemaNode {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  required?: string[];
  oneOf?: SchemaNode[];
  format?: string;
  minimum?: number;
  maximum?: number;
}

function typeOf(n: SchemaNode): string {
  if (n.enum) return n.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  if (n.oneOf) return n.oneOf.map((o) => (o.required ? `{${o.required.join(', ')}}` : typeOf(o))).join(' or ');
  if (n.type === 'array') return `${n.items ? typeOf(n.items) : 'any'}[]`;
  const t = Array.isArray(n.type) ? n.type.join(' \\| ') : (n.type ?? 'any');
  return n.format ? `${t} (${n.format})` : t;
}

function fmtDefault(v: unknown): string {
  if (v === undefined) return '';
  if (typeof v === 'object' && v !== null && Object.keys(v).length === 0 && !Array.isArray(v)) return '';
  return `\`${JSON.stringify(v)}\``;
}

export function renderConfigDoc(schema: SchemaNode): string {
  const rows: string[] = [];
  const walk = (node: SchemaNode, path: string, required: boolean) => {
    const isLeafObject = node.type === 'object' && node.properties;
    if (path) {
      const desc = (node.description ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
      rows.push(`| \`${path}\` | ${isLeafObject ? 'object' : typeOf(node)} | ${required ? 'yes' : ''} | ${isLeafObject ? '' : fmtDefault(node.default)} | ${desc} |`);
    }
    if (isLeafObject) {
      for (const [k, child] of Object.entries(node.properties!)) walk(child, path ? `${path}.${k}` : k, (node.required ?? []).includes(k));
    }
    if (node.type === 'array' && node.items?.type === 'object' && node.items.properties) {
      for (const [k, child] of Object.entries(node.items.properties)) walk(child, `${path}[].${k}`, (node.items.required ?? []).includes(k));
    }
  };
  walk(schema, '', false);
  return [
    '# Configuration reference',
    '',
    'graphwarden reads one YAML file (`graphwarden serve --config FILE`), validated once at start against one JSON',
    'Schema (`graphwarden config schema` prints it; `graphwarden config check FILE` validates a file and prints the',
    'result with every default filled in). An invalid file exits with status 2 and lists every problem. Relative paths',
    'are resolved against the directory of the config file. Secrets are never inline values: the directory',
    'connector names an environment variable or a file for its secret (or a certificate), and approver tokens',
    'are configured by their SHA-256 only.',
    '',
    'This page is generated from the schema (`graphwarden config docs > docs/configuration.md`) and a test keeps it in sync.',
    '',
    '| key | type | required | default | meaning |',
    '|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
