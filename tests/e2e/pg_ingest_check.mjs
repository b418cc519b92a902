// pg_ingest_check.mjs - independent readers check a dataset tarn ingested from PostgreSQL
// (test_ingest_pg.sh). Every value is compared exactly with what PostgreSQL itself printed.
//
//   node pg_ingest_check.mjs types SPEC.json   (E2E_NODE_MODULES from the environment)
//     SPEC: {"label", "table_url": "file:///.../warehouse/datasets/N", "metadata_file": name of
//            the catalog's current metadata JSON, "parquet": path of the one live data file,
//            "expected": path of a JSON array of rows (from psql, one canonical text per value,
//            see below), "key": "id",
//            "columns": [{"name", "iceberg": Iceberg type, "required": bool, "duckdb": type}]}
//     Canonical texts: int/long decimal; float/double the IEEE bits in hex (float4send /
//     float8send); decimal PostgreSQL's numeric text (scale digits); date days since
//     1970-01-01; time/timestamp/timestamptz microseconds (since midnight / the epoch);
//     uuid lower-case text; binary lower-case hex; boolean a JSON boolean; string itself.
//     Readers: (1) icebird: the table metadata (schema, field ids, required) and its
//     manifests (the live data files); (2) DuckDB read_parquet: types, field ids,
//     repetition, every value; (3) hyparquet on the files the manifests list, with the
//     logical types stripped so nothing is converted through a JS Number or Date: every
//     value from its raw Parquet representation; (4) icebird's icebergRead: every row,
//     compared through the same (lossy) conversions icebird applies.
//   node pg_ingest_check.mjs sql SQL           prints each row, values joined by '|'
//   node pg_ingest_check.mjs files TABLE_URL METADATA_FILE
//                                              the live data files by icebird, one a line
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { installLocalFetch } from './local_fetch.mjs'

const nm = process.env.E2E_NODE_MODULES || new URL('../node_modules', import.meta.url).pathname
const load = p => import(pathToFileURL(path.join(nm, p)).href)
const { DuckDBInstance } = await load('@duckdb/node-api/lib/index.js')

async function duck() {
  const db = await DuckDBInstance.create(':memory:', { threads: '1' })
  const con = await db.connect()
  await con.run("SET TimeZone = 'UTC'")
  return async sql => (await con.runAndReadAll(sql)).getRowObjectsJS()
}

const mode = process.argv[2]
if (mode === 'sql') {
  const rows = await (await duck())(process.argv[3])
  for (const r of rows) console.log(Object.values(r).map(v => (v === null ? 'NULL' : String(v))).join('|'))
  process.exit(0)
}
if (mode === 'files') {
  installLocalFetch()
  const icebird = await load('icebird/src/index.js')
  const metadata = await icebird.icebergMetadata({ tableUrl: process.argv[3], metadataFileName: process.argv[4] })
  for (const m of await icebird.icebergManifests(metadata)) {
    for (const e of m.entries) {
      if (e.status !== 2 && !e.data_file.content) console.log(e.data_file.file_path.replace(/^file:\/\//, ''))
    }
  }
  process.exit(0)
}
if (mode !== 'types') {
  console.error('usage: pg_ingest_check.mjs types SPEC | sql SQL | files TABLE_URL METADATA_FILE')
  process.exit(2)
}

const spec = JSON.parse(readFileSync(process.argv[3], 'utf8'))
const expected = JSON.parse(readFileSync(spec.expected, 'utf8'))
const label = spec.label || 'dataset'
const columns = spec.columns
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
const hex = bytes => Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('')
function floatBits(v, width) {
  if (typeof v !== 'number') return `not a number: ${typeof v} ${String(v)}`
  const dv = new DataView(new ArrayBuffer(width))
  if (width === 4) dv.setFloat32(0, v)
  else dv.setFloat64(0, v)
  return hex(new Uint8Array(dv.buffer))
}
// NaN payloads do not survive a JS number: every NaN compares as one.
const canonNaN = (s, width) => {
  if (typeof s !== 'string') return s
  const v = width === 4 ? new DataView(Uint8Array.from(s.match(/../g).map(h => parseInt(h, 16))).buffer).getFloat32(0)
    : new DataView(Uint8Array.from(s.match(/../g).map(h => parseInt(h, 16))).buffer).getFloat64(0)
  return Number.isNaN(v) ? 'NaN' : s
}
function decimalText(unscaled, scale) {
  const neg = unscaled < 0n
  let digits = (neg ? -unscaled : unscaled).toString().padStart(scale + 1, '0')
  if (scale > 0) digits = `${digits.slice(0, digits.length - scale)}.${digits.slice(digits.length - scale)}`
  return (neg ? '-' : '') + digits
}
function bigFromBytes(bytes) {
  let v = 0n
  for (const b of bytes) v = v * 256n + BigInt(b)
  if (bytes.length && bytes[0] & 0x80) v -= 1n << BigInt(bytes.length * 8)
  return v
}
const scaleOf = t => Number(/^decimal\(\d+,\s*(\d+)\)$/.exec(t)[1])
// Compare every cell; report the first few differences per reader.
function compareCells(reader, got, canon) {
  const bad = []
  if (got.length !== expected.length) {
    check(`${reader}: ${expected.length} rows`, false, `got ${got.length}`)
    return
  }
  for (let i = 0; i < expected.length; i++) {
    for (const c of columns) {
      let want = expected[i][c.name]
      let have
      try {
        have = canon(got[i], c)
      } catch (e) {
        have = `<${e.message}>`
      }
      if (c.iceberg === 'float' || c.iceberg === 'double') {
        want = canonNaN(want, c.iceberg === 'float' ? 4 : 8)
        have = canonNaN(have, c.iceberg === 'float' ? 4 : 8)
      }
      if (want === undefined) want = null
      if (have === undefined) have = null
      if (JSON.stringify(want) !== JSON.stringify(have)) bad.push(`row ${expected[i][spec.key]} ${c.name}: want ${JSON.stringify(want)} got ${JSON.stringify(have)}`)
    }
  }
  check(`${reader}: every value of ${expected.length} rows x ${columns.length} columns is exactly PostgreSQL's`,
    bad.length === 0, `${bad.length} differences:\n      ${bad.slice(0, 25).join('\n      ')}`)
}

// ---- (1) icebird: the Iceberg metadata and manifests ----
installLocalFetch()
const icebird = await load('icebird/src/index.js')
let metadata
let liveFiles = []
try {
  metadata = await icebird.icebergMetadata({ tableUrl: spec.table_url, metadataFileName: spec.metadata_file })
  const schema = metadata.schemas.find(s => s['schema-id'] === metadata['current-schema-id'])
  const want = columns.map((c, i) => `${i + 1}:${c.name}:${c.iceberg}:${c.required ? 'required' : 'optional'}`)
  // "decimal(10, 2)" and "decimal(10,2)" are the same type
  const got = schema.fields.map(f => `${f.id}:${f.name}:${String(f.type).replace(/\s+/g, '')}:${f.required ? 'required' : 'optional'}`)
  const diffs = want.map((w, i) => (w === got[i] ? null : `want ${w} got ${got[i]}`)).filter(Boolean)
  check('icebird: the schema has the mapped Iceberg types, field ids 1..n and required exactly for NOT NULL',
    got.length === want.length && diffs.length === 0, `${got.length} fields; ${diffs.join('; ')}`)
  for (const m of await icebird.icebergManifests(metadata)) {
    for (const e of m.entries) if (e.status !== 2 && !e.data_file.content) liveFiles.push(e.data_file)
  }
  check('icebird: the manifests list the one data file tarn answered',
    liveFiles.length === 1 && liveFiles[0].file_path.replace(/^file:\/\//, '') === spec.parquet,
    JSON.stringify(liveFiles.map(f => f.file_path)))
  check('icebird: the manifest counts the rows', liveFiles.length === 1 && Number(liveFiles[0].record_count) === expected.length,
    String(liveFiles[0]?.record_count))
} catch (e) {
  check('icebird: reads the metadata and manifests', false, e.stack)
}

// ---- (2) DuckDB ----
const rows = await duck()
const pq = `read_parquet(${q(spec.parquet)})`
const desc = await rows(`DESCRIBE SELECT * FROM ${pq}`)
check('DuckDB: column names and types', JSON.stringify(desc.map(r => `${r.column_name} ${r.column_type}`)) ===
  JSON.stringify(columns.map(c => `${c.name} ${c.duckdb}`)),
  desc.map(r => `${r.column_name} ${r.column_type}`).join(', '))
const pschema = await rows(`SELECT name, field_id, repetition_type FROM parquet_schema(${q(spec.parquet)})`)
const pbad = columns.map((c, i) => {
  const r = pschema.find(p => p.name === c.name)
  const want = `${i + 1} ${c.required ? 'REQUIRED' : 'OPTIONAL'}`
  const got = r ? `${r.field_id} ${r.repetition_type}` : 'missing'
  return want === got ? null : `${c.name}: want ${want} got ${got}`
}).filter(Boolean)
check('DuckDB: Parquet field ids are the Iceberg ids, REQUIRED exactly for NOT NULL', pbad.length === 0, pbad.join('; '))
const sel = columns.map(c => {
  const n = `"${c.name}"`
  switch (c.iceberg) {
    case 'int': case 'long': return `${n}::VARCHAR AS ${n}`
    case 'date': return `(${n} - DATE '1970-01-01')::VARCHAR AS ${n}`
    case 'time': case 'timestamp': case 'timestamptz': return `epoch_us(${n})::VARCHAR AS ${n}`
    case 'uuid': return `${n}::VARCHAR AS ${n}`
    case 'binary': return `lower(hex(${n})) AS ${n}`
    default: return c.iceberg.startsWith('decimal') ? `${n}::VARCHAR AS ${n}` : n
  }
}).join(', ')
const duckRows = await rows(`SELECT ${sel} FROM ${pq}`)
duckRows.sort((a, b) => Number(a[spec.key]) - Number(b[spec.key]))
compareCells('DuckDB', duckRows, (r, c) => {
  const v = r[c.name]
  if (v === null) return null
  if (c.iceberg === 'float') return floatBits(v, 4)
  if (c.iceberg === 'double') return floatBits(v, 8)
  return v
})
const order = await rows(`SELECT "${spec.key}"::VARCHAR AS k FROM ${pq}`)
check('DuckDB: the rows are in the table\'s physical order', JSON.stringify(order.map(r => r.k)) === JSON.stringify(spec.physical_order),
  order.map(r => r.k).join(','))

// ---- (3) hyparquet, raw: the files the manifests list ----
try {
  const hp = await load('hyparquet/src/index.js')
  const { compressors } = await load('hyparquet-compressors/src/index.js')
  const byId = new Map(columns.map((c, i) => [i + 1, c]))
  const raw = []
  for (const f of liveFiles) {
    const file = await hp.asyncBufferFromUrl({ url: f.file_path, byteLength: Number(f.file_size_in_bytes) })
    const md = await hp.parquetMetadataAsync(file)
    // Strip the annotations hyparquet would turn into JS Numbers and Dates (decimals, dates,
    // times, timestamps): the physical values come through untouched.
    const nameOf = new Map()
    for (const el of md.schema) {
      if (el.field_id !== undefined && byId.has(el.field_id)) {
        nameOf.set(el.name, byId.get(el.field_id))
        const t = byId.get(el.field_id).iceberg
        if (t.startsWith('decimal') || ['date', 'time', 'timestamp', 'timestamptz', 'uuid', 'binary'].includes(t)) {
          delete el.converted_type
          delete el.logical_type
          delete el.scale
          delete el.precision
        }
      }
    }
    const got = await hp.parquetReadObjects({ file, metadata: md, compressors, utf8: false })
    for (const r of got) {
      const o = {}
      for (const [k, v] of Object.entries(r)) if (nameOf.has(k)) o[nameOf.get(k).name] = v
      raw.push(o)
    }
  }
  raw.sort((a, b) => Number(a[spec.key]) - Number(b[spec.key]))
  const utf8 = new TextDecoder('utf-8', { fatal: true })
  compareCells('hyparquet (raw Parquet values, files from the manifests)', raw, (r, c) => {
    const v = r[c.name]
    if (v === null || v === undefined) return null
    const t = c.iceberg
    if (t === 'int' || t === 'long' || t === 'date' || t === 'time' || t === 'timestamp' || t === 'timestamptz') return String(v)
    if (t === 'float') return floatBits(v, 4)
    if (t === 'double') return floatBits(v, 8)
    if (t === 'boolean') return v
    if (t === 'uuid') {
      const h = hex(v)
      if (h.length !== 32) throw new Error(`uuid of ${v.length} bytes`)
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
    }
    if (t === 'binary') return hex(v)
    if (t === 'string') return typeof v === 'string' ? v : utf8.decode(v)
    if (t.startsWith('decimal')) return decimalText(v instanceof Uint8Array ? bigFromBytes(v) : BigInt(v), scaleOf(t))
    throw new Error(`type ${t}`)
  })
} catch (e) {
  check('hyparquet reads the data files', false, e.stack)
}

// ---- (4) icebird's own reading, through its conversions ----
try {
  const ice = await icebird.icebergRead({ tableUrl: spec.table_url, metadata })
  ice.sort((a, b) => Number(a[spec.key]) - Number(b[spec.key]))
  // What icebird (hyparquet 1.19, default parsers) makes of each exact value.
  const lossy = (want, t) => {
    if (want === null || want === undefined) return null
    if (t === 'int' || t === 'long') return String(want)
    if (t === 'date') {
      const d = new Date(Number(want) * 86400000)
      return Number.isNaN(d.getTime()) ? 'Invalid Date' : d.toISOString()
    }
    if (t === 'timestamp' || t === 'timestamptz') {
      const d = new Date(Number(BigInt(want) / 1000n))
      return Number.isNaN(d.getTime()) ? 'Invalid Date' : d.toISOString()
    }
    if (t.startsWith('decimal')) {
      const s = scaleOf(t)
      return String(Number(BigInt(want.replace('.', ''))) * 10 ** -s)
    }
    if (t === 'binary') return new TextDecoder().decode(Uint8Array.from((want.match(/../g) || []).map(h => parseInt(h, 16))))
    if (t === 'uuid') return want.replaceAll('-', '')
    return want
  }
  const bad = []
  if (ice.length !== expected.length) bad.push(`${ice.length} rows, want ${expected.length}`)
  for (let i = 0; i < Math.min(ice.length, expected.length); i++) {
    for (const c of columns) {
      const t = c.iceberg
      let v = ice[i][c.name]
      let want = lossy(expected[i][c.name], t)
      if (v === undefined) v = null
      if (v !== null) {
        if (v instanceof Date) v = Number.isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString()
        else if (t === 'float' || t === 'double') {
          v = canonNaN(floatBits(v, t === 'float' ? 4 : 8), t === 'float' ? 4 : 8)
          want = canonNaN(want, t === 'float' ? 4 : 8)
        } else if (t === 'uuid') v = hex(v)
        else if (t === 'time') v = String(v)
        else if (t.startsWith('decimal')) v = String(v)
        else if (typeof v === 'bigint' || typeof v === 'number') v = String(v)
      }
      if (JSON.stringify(v) !== JSON.stringify(want)) bad.push(`row ${expected[i][spec.key]} ${c.name}: want ${JSON.stringify(want)} got ${JSON.stringify(v)}`)
    }
  }
  check('icebird: icebergRead returns every row and value (through its own conversions)', bad.length === 0,
    `${bad.length} differences:\n      ${bad.slice(0, 25).join('\n      ')}`)
} catch (e) {
  check('icebird: icebergRead reads the table', false, e.stack)
}

console.log(`${passed} passed, ${failed} failed`)
process.exit(failed ? 1 : 0)
