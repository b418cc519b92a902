// action_log_duckdb.mjs - the action-log API (GET /action-log/events) against DuckDB
// reading the table's Parquet data files.
//   node action_log_duckdb.mjs gen DIR
//     writes DIR/a.jsonl, DIR/b.jsonl (events of 7 days, two commits) and DIR/copies.jsonl
//     (event ids again: the same rows, and others at another time with other columns)
//   node action_log_duckdb.mjs check DATA_DIR GOT_FILE QUERY_JSON
//     GOT_FILE: the events the API answered over every page, one JSON object a line;
//     QUERY_JSON: {"tenant","object_id","actor_sub","since_ms","until_ms"} (each optional).
//     DuckDB computes the answer (the filters, the first copy of each event_id in the order
//     applied_at_ms desc, event_id desc) and both are compared event by event.
// E2E_NODE_MODULES names tests/node_modules (@duckdb/node-api).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const D0 = Date.UTC(2026, 11, 1) // 2026-12-01T00:00:00Z
const DAY = 86400000

function event(i, ms, status) {
  const pick = (cond, v) => (cond ? null : v)
  return {
    event_id: `ev-${String(i).padStart(5, '0')}`,
    action_type_id: `at-${i % 5}`,
    action_name: `action ${i % 5}`,
    object_type_id: 'document',
    object_id: pick(i % 7 === 0, `obj-${i % 4}`),
    tenant: `t${i % 3}`,
    actor_sub: `u${i % 5}`,
    actor_email: pick(i % 2 === 1, `u${i % 5}@example.com`),
    organization_id: pick(i % 3 === 0, 'org-1'),
    status: status ?? (i % 9 === 0 ? 'failed' : 'ok'),
    target_classification: pick(i % 5 !== 0, 'internal'),
    applied_at_ms: ms,
    applied_at: new Date(ms).toISOString(),
    parameters: pick(i % 4 === 0, JSON.stringify({ n: i, tags: ['a', 'b'], nested: { x: null } })),
    previous_state: i % 3 === 0 ? '"draft"' : i % 3 === 1 ? null : '[1,2,3]',
    new_state: JSON.stringify({ v: i, ok: true }),
  }
}

function gen(dir) {
  const all = []
  for (let i = 0; i < 140; i++) {
    let ms = D0 + (i % 7) * DAY + ((i * 7919) % 86400) * 1000
    if (i % 10 === 1) ms = all[all.length - 1].applied_at_ms // one millisecond, two events
    all.push(event(i, ms))
  }
  const lines = rows => rows.map(r => JSON.stringify(r)).join('\n') + '\n'
  writeFileSync(path.join(dir, 'a.jsonl'), lines(all.slice(0, 70)))
  writeFileSync(path.join(dir, 'b.jsonl'), lines(all.slice(70)))
  const copies = []
  for (let i = 0; i < 10; i++) copies.push(all[i * 11]) // the same rows again
  for (let i = 0; i < 9; i++) { // the same ids at another time, with other columns
    const o = all[i * 13 + 4]
    const shift = i % 3 === 0 ? -2 * DAY : i % 3 === 1 ? 3 * 3600000 : 5 * DAY
    const c = event(i * 13 + 4, o.applied_at_ms + shift, `copy-${i}`)
    copies.push(c)
  }
  writeFileSync(path.join(dir, 'copies.jsonl'), lines(copies))
}

function files(dir) {
  const out = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) out.push(...files(p))
    else if (e.name.endsWith('.parquet')) out.push(p)
  }
  return out
}

// JSON text with keys sorted at every level, to compare events whatever their key order.
function canon(v) {
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`
  if (v !== null && typeof v === 'object')
    return `{${Object.keys(v).sort().map(k => `${JSON.stringify(k)}:${canon(v[k])}`).join(',')}}`
  return JSON.stringify(v)
}

const sqlString = s => `'${String(s).replaceAll("'", "''")}'`

async function check(dataDir, gotFile, query) {
  const nm = process.env.E2E_NODE_MODULES
  const { DuckDBInstance } = await import(pathToFileURL(path.join(nm, '@duckdb/node-api/lib/index.js')).href)
  const list = files(dataDir).map(f => `'${f}'`).join(', ')
  const where = ['true']
  for (const k of ['tenant', 'object_id', 'actor_sub'])
    if (query[k] !== undefined) where.push(`${k} = ${sqlString(query[k])}`)
  if (query.since_ms !== undefined) where.push(`applied_at_ms >= ${Number(query.since_ms)}`)
  if (query.until_ms !== undefined) where.push(`applied_at_ms < ${Number(query.until_ms)}`)
  const duck = await (await DuckDBInstance.create(':memory:')).connect()
  const sql = `SELECT * EXCLUDE (rn, applied_at), epoch_us(applied_at) AS applied_at_us FROM (
      SELECT *, row_number() OVER (PARTITION BY event_id ORDER BY applied_at_ms DESC) AS rn
      FROM read_parquet([${list}], hive_partitioning = false) WHERE ${where.join(' AND ')})
    WHERE rn = 1 ORDER BY applied_at_ms DESC, event_id DESC`
  const rows = (await duck.runAndReadAll(sql)).getRowObjectsJS()
  const parse = t => { if (t === null) return null; try { return JSON.parse(t) } catch { return t } }
  const want = rows.map(r => {
    const e = { ...r, applied_at_ms: Number(r.applied_at_ms) }
    delete e.applied_at_us
    e.applied_at = new Date(Number(r.applied_at_us / 1000n)).toISOString()
    for (const k of ['parameters', 'previous_state', 'new_state']) e[k] = parse(r[k])
    return canon(e)
  })
  const got = readFileSync(gotFile, 'utf8').split('\n').filter(Boolean).map(l => canon(JSON.parse(l)))
  let bad = got.length === want.length ? -1 : Math.min(got.length, want.length)
  for (let i = 0; bad < 0 && i < got.length; i++) if (got[i] !== want[i]) bad = i
  if (bad >= 0) {
    console.log(`FAIL - ${JSON.stringify(query)}: API ${got.length} events, DuckDB ${want.length}; ` +
      `first difference at ${bad}:\n  API    ${got[bad]}\n  DuckDB ${want[bad]}`)
    process.exit(1)
  }
  console.log(`ok   - ${JSON.stringify(query)}: ${got.length} events, as DuckDB answers`)
}

const [cmd, ...args] = process.argv.slice(2)
if (cmd === 'gen') gen(args[0])
else if (cmd === 'check') await check(args[0], args[1], JSON.parse(args[2] ?? '{}'))
else { console.error('usage: action_log_duckdb.mjs gen DIR | check DATA_DIR GOT_FILE QUERY_JSON'); process.exit(2) }
