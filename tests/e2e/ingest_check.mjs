// ingest_check.mjs - independent readers check a dataset tarn ingested from CSV files:
// DuckDB reads the Parquet data files (read_parquet) and must return exactly the rows its
// own read_csv returns for the same CSV files with matching types (both directions of
// EXCEPT ALL, counts, row order per file, field ids); icebird reads the Iceberg table
// datasets.<name> through its metadata (version-hint, manifest list, manifests) and must
// return the same rows.
//   node ingest_check.mjs SPEC.json      (E2E_NODE_MODULES from the environment)
// SPEC: {"label", "columns": {"name": "DUCKDB TYPE", ...} in CSV order, "key": "id",
//        "pairs": [{"csv": path, "parquet": path}, ...] (the files of the live snapshot,
//        each with the CSV it came from), "table_url": "file:///.../warehouse/datasets/N"}
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { installLocalFetch } from './local_fetch.mjs'

const nm = process.env.E2E_NODE_MODULES || new URL('../node_modules', import.meta.url).pathname
const icebird = await import(pathToFileURL(path.join(nm, 'icebird/src/index.js')).href)
const { DuckDBInstance } = await import(pathToFileURL(path.join(nm, '@duckdb/node-api/lib/index.js')).href)

// `node ingest_check.mjs gen FIRST COUNT FILE [extra]`: writes a test CSV (ids FIRST.., every
// type, quoted commas, doubled quotes, a quoted newline, non-ASCII, empty fields); "extra"
// adds a column and turns qty into a float64, for drift tests.
if (process.argv[2] === 'gen') {
  const [first, count] = [Number(process.argv[3]), Number(process.argv[4])]
  const extra = process.argv[6] === 'extra'
  const cats = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel']
  const out = [`id,ts,amount,category,code,flag,qty,day,n,note,seen${extra ? ',more' : ''}`]
  for (let i = first; i < first + count; i++) {
    const h = Number((BigInt(i) * 2654435761n) % 4294967296n)
    const ts = new Date(Date.UTC(2024, 0, 1) + i * 37000).toISOString().replace('.000Z', 'Z')
    const seen = new Date(Date.UTC(2023, 5, 1) + i * 1234567).toISOString().replace('T', ' ').replace('Z', '') + String(h % 1000).padStart(3, '0')
    const amount = h % 7 === 0 ? `-${h % 1000}.5` : h % 11 === 0 ? `${h}` : `${h % 100000}.${String(h % 1000).padStart(3, '0')}`
    const code = (h.toString(36) + 'xxxxxxxx').slice(0, 8)
    const flag = h % 13 === 0 ? 'True' : h % 2 ? 'true' : 'false'
    const qty = h % 10 === 0 ? '' : extra ? `${h % 1000}.25` : String(h % 1000)
    const day = new Date(Date.UTC(2020, 0, 1) + (h % 2000) * 86400000).toISOString().slice(0, 10)
    const notes = [`note ${i}`, `"note ${i}, with a comma"`, `"say ""hi"" ${i}"`, `γάμμα ${i} ✓`, '']
    const note = i % 97 === 5 ? `"two
lines ${i}"` : notes[h % 5]
    out.push(`${i},${ts},${amount},${cats[h % 8]},${code},${flag},${qty},${day},${h % 100000},${note},${seen}${extra ? ',x' : ''}`)
  }
  (await import('node:fs')).writeFileSync(process.argv[5], out.join('\n') + '\n')
  process.exit(0)
}

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const label = spec.label || 'dataset'
let passed = 0
let failed = 0
function check(desc, cond, detail) {
  if (cond) {
    passed++
    console.log(`ok   - ${label}: ${desc}`)
  } else {
    failed++
    console.log(`FAIL - ${label}: ${desc}${detail ? `: ${detail}` : ''}`)
  }
  return cond
}

const q = s => `'${String(s).replaceAll("'", "''")}'`
const names = Object.keys(spec.columns)
const csvFiles = spec.pairs.map(p => p.csv)
const pqFiles = spec.pairs.map(p => p.parquet)
const csvColumns = `{${names.map(n => `${q(n)}: ${q(spec.columns[n])}`).join(', ')}}`
// DuckDB reads quoted empty fields as empty strings; tarn (RFC 4180 + its README) makes
// every empty field NULL, so the test data never writes "" and nullstr is the default.
const readCsv = files => `read_csv([${files.map(q).join(', ')}], header = true, delim = ${q(spec.delimiter || ',')}, quote = '"', escape = '"', columns = ${csvColumns}, auto_detect = false)`
const readPq = files => `read_parquet([${files.map(q).join(', ')}])`
const cols = names.map(n => `"${n}"`).join(', ')

const db = await DuckDBInstance.create(':memory:', { threads: '1' })
const con = await db.connect()
const rows = async sql => (await con.runAndReadAll(sql)).getRowObjectsJson()
await con.run("SET TimeZone = 'UTC'")

// ---- DuckDB: values ----
const [{ n: nCsv }] = await rows(`SELECT count(*)::VARCHAR AS n FROM ${readCsv(csvFiles)}`)
const [{ n: nPq }] = await rows(`SELECT count(*)::VARCHAR AS n FROM ${readPq(pqFiles)}`)
check(`DuckDB: the Parquet files hold as many rows as the CSV (${nCsv})`, nCsv === nPq && Number(nCsv) > 0, `${nPq} vs ${nCsv}`)
const onlyPq = await rows(`SELECT ${cols} FROM ${readPq(pqFiles)} EXCEPT ALL SELECT ${cols} FROM ${readCsv(csvFiles)} LIMIT 3`)
const onlyCsv = await rows(`SELECT ${cols} FROM ${readCsv(csvFiles)} EXCEPT ALL SELECT ${cols} FROM ${readPq(pqFiles)} LIMIT 3`)
check('DuckDB: read_parquet returns exactly the values read_csv returns (EXCEPT ALL both ways)',
  onlyPq.length === 0 && onlyCsv.length === 0,
  `only in Parquet ${JSON.stringify(onlyPq)}; only in CSV ${JSON.stringify(onlyCsv)}`)
// types: what DuckDB sees in the Parquet file is what read_csv was told
const desc = await rows(`DESCRIBE SELECT * FROM ${readPq(pqFiles)}`)
const got = Object.fromEntries(desc.map(r => [r.column_name, r.column_type]))
const wantTypes = Object.fromEntries(names.map(n => [n, spec.columns[n].replace('TIMESTAMPTZ', 'TIMESTAMP WITH TIME ZONE')]))
check('DuckDB: column names and types', JSON.stringify(got) === JSON.stringify(wantTypes), `${JSON.stringify(got)} vs ${JSON.stringify(wantTypes)}`)
// order: each file keeps its CSV's row order
for (const { csv, parquet } of spec.pairs) {
  const a = await rows(`SELECT "${spec.key}"::VARCHAR AS k FROM ${readPq([parquet])}`)
  const b = await rows(`SELECT "${spec.key}"::VARCHAR AS k FROM ${readCsv([csv])}`)
  check(`DuckDB: ${path.basename(parquet).slice(0, 12)}… keeps the row order of ${path.basename(csv)}`,
    a.length === b.length && a.every((r, i) => r.k === b[i].k))
}
// field ids 1..n in the Parquet schema (Iceberg needs them to map columns)
const ids = await rows(`SELECT name, field_id FROM parquet_schema(${q(pqFiles[0])}) WHERE name IN (${names.map(q).join(', ')})`)
check('DuckDB: Parquet field ids are the Iceberg column ids 1..n',
  ids.length === names.length && ids.every(r => Number(r.field_id) === names.indexOf(r.name) + 1), JSON.stringify(ids))

// ---- icebird: the Iceberg table ----
const calls = installLocalFetch()
// One canonical text per value, whichever reader produced it.
function norm(v, type) {
  if (v === null || v === undefined) return null
  if (type === 'DATE') return v instanceof Date ? v.toISOString().slice(0, 10) : String(v).slice(0, 10)
  if (type === 'TIMESTAMPTZ' || type === 'TIMESTAMP') {
    if (v instanceof Date) return String(v.getTime())
    if (typeof v === 'bigint') return String(v / 1000n) // micros
    return String(v)
  }
  if (type === 'DOUBLE') return String(Number(v))
  if (type === 'BOOLEAN') return String(v === true || v === 'true')
  return String(v)
}
const line = (r, get) => JSON.stringify(names.map(n => norm(get(r, n), spec.columns[n])))
let ice = []
try {
  ice = await icebird.icebergRead({ tableUrl: spec.table_url })
} catch (e) {
  check('icebird: reads the table', false, e.stack)
}
// DuckDB's read_csv as the reference, timestamps as epoch milliseconds
const sel = names.map(n => (spec.columns[n].startsWith('TIMESTAMP') ? `epoch_ms("${n}")::VARCHAR AS "${n}"` : spec.columns[n] === 'BIGINT' || spec.columns[n] === 'DATE' ? `"${n}"::VARCHAR AS "${n}"` : `"${n}"`)).join(', ')
const ref = await rows(`SELECT ${sel} FROM ${readCsv(csvFiles)}`)
const a = ice.map(r => line(r, (o, n) => o[n])).sort()
const b = ref.map(r => line(r, (o, n) => o[n])).sort()
let diff = -1
for (let i = 0; i < Math.max(a.length, b.length) && diff < 0; i++) if (a[i] !== b[i]) diff = i
check(`icebird: datasets table returns the CSV's ${b.length} rows`, a.length === b.length && diff < 0,
  diff >= 0 ? `first difference: icebird ${a[diff]} vs csv ${b[diff]}` : '')
check('icebird: data files read with ranged requests', calls.ranged > 0, JSON.stringify(calls))

console.log(`${passed} passed, ${failed} failed`)
process.exit(failed ? 1 : 0)
