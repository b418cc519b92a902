// scan_duckdb.mjs - `tarn table scan --where P` against DuckDB reading the same data files
// with the same WHERE: the ids each returns must be the same set.
//   node scan_duckdb.mjs LAKE TABLE DATA_DIR   (E2E_TARN_BIN, E2E_NODE_MODULES from the env)
// Every case is [tarn predicate, DuckDB predicate]; they differ only in literal syntax.
// NaN is left out of the data: DuckDB orders NaN above every number (NaN > 1 is true there),
// tarn follows IEEE 754 (no comparison holds for NaN but !=), as the README says.
import { execFileSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const nm = process.env.E2E_NODE_MODULES
const tarn = process.env.E2E_TARN_BIN
const [lake, table, dataDir] = process.argv.slice(2)
const { DuckDBInstance } = await import(pathToFileURL(path.join(nm, '@duckdb/node-api/lib/index.js')).href)

const cases = [
  ['id < 5 or id > 195', 'id < 5 or id > 195'],
  ["name in ('n1', 'n3', 'zz')", "name in ('n1', 'n3', 'zz')"],
  ['name is null', 'name is null'],
  ['not (score > 1.5)', 'not (score > 1.5)'],
  ['score is not null and not (amount >= 5 or grp = 1)', 'score is not null and not (amount >= 5 or grp = 1)'],
  ['x is null or x >= 300', 'x is null or x >= 300'],
  ['grp not in (1, 2)', 'grp not in (1, 2)'],
  ['d >= 2026-01-05 and flag = true', "d >= DATE '2026-01-05' and flag = true"],
  ['ts < 2026-01-02T12:00:00Z or ts is null', "ts < TIMESTAMPTZ '2026-01-02 12:00:00+00' or ts is null"],
  ['amount > 1.25 and amount <= 3', 'amount > 1.25 and amount <= 3'],
  ["not (name = 'n2' or name is null)", "not (name = 'n2' or name is null)"],
  ['score = 0', 'score = 0'],
  ['x not in (10, 20) and id >= 150', 'x not in (10, 20) and id >= 150'],
]

function files(dir) {
  const out = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) out.push(...files(p))
    else if (e.name.endsWith('.parquet')) out.push(p)
  }
  return out
}

const list = files(dataDir).map(f => `'${f}'`).join(', ')
const duck = await (await DuckDBInstance.create(':memory:')).connect()
await duck.run("SET TimeZone = 'UTC'")
let failed = 0
for (const [tp, dp] of cases) {
  const out = execFileSync(tarn, ['table', 'scan', table, '--lake', lake, '--columns', 'id', '--where', tp],
    { encoding: 'utf8' })
  const got = out.split('\n').filter(Boolean).map(l => Number(JSON.parse(l).id)).sort((a, b) => a - b)
  const rows = (await duck.runAndReadAll(
    `SELECT id FROM read_parquet([${list}], union_by_name = true, hive_partitioning = false) WHERE ${dp}`)).getRowObjectsJS()
  const want = rows.map(r => Number(r.id)).sort((a, b) => a - b)
  const same = got.length === want.length && got.every((v, i) => v === want[i])
  if (!same) failed++
  console.log(`${same ? 'ok  ' : 'FAIL'} - ${tp}: tarn ${got.length} rows, DuckDB ${want.length}` +
    (same ? '' : ` (tarn ${got.slice(0, 10)}; DuckDB ${want.slice(0, 10)})`))
}
console.log(`${cases.length - failed} passed, ${failed} failed`)
process.exit(failed === 0 ? 0 : 1)
