// The baseline: a plain undici pass-through proxy (keep-alive pool, streaming both ways,
// no token checks, no rewriting). Run as a child of bench/run.mjs, which reads its CPU time over IPC.
import http from 'node:http';
import { Pool } from 'undici';
import { usage } from './usage.mjs';

const upstream = process.env.BENCH_UPSTREAM;
const pool = new Pool(upstream, { connections: 128, pipelining: 1 });
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-authorization', 'proxy-authenticate', 'host']);

const server = http.createServer(async (req, res) => {
  const headers = {};
  for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k)) headers[k] = v;
  try {
    const r = await pool.request({ method: req.method, path: req.url, headers, body: req.method === 'GET' || req.method === 'HEAD' ? null : req });
    const out = {};
    for (const [k, v] of Object.entries(r.headers)) if (!HOP.has(k)) out[k] = v;
    res.writeHead(r.statusCode, out);
    r.body.pipe(res);
  } catch {
    res.writeHead(502);
    res.end();
  }
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => process.send({ type: 'ready', url: `http://127.0.0.1:${server.address().port}` }));
process.on('message', (m) => {
  if (m === 'cpu') process.send({ type: 'cpu', usage: usage() });
  if (m === 'stop') server.close(() => pool.close().then(() => process.exit(0)));
});
