// parquet_interop.mjs - Parquet interop with independent readers and a writer.
//   node parquet_interop.mjs duckdb-read DIR     DuckDB reads the files tarn wrote into DIR
//   node parquet_interop.mjs hyparquet-read DIR  hyparquet reads them
//   node parquet_interop.mjs duckdb-write DIR    DuckDB writes duck_*.parquet into DIR for tarn
//   node parquet_interop.mjs tarn-read DIR       what `tarn parquet cat|schema` printed for those
//                                                (NAME.tarn.jsonl, NAME.schema.json) equals
//                                                DuckDB's own read of the same files
// Names after DIR limit a run to those files.
// tarn's files come from tests/unit/test_parquet_write.c run with TARN_PQW_DUMP=DIR: for each
// NAME.parquet there is NAME.expected.json (schema, options, every value as written, in a
// physical form described in that file) and NAME.info.json (tarn_pq_file_info).
// Prints "ok   - ..." / "FAIL - ..." lines and a summary; exits 1 on any failure.
import { readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const nm = process.env.E2E_NODE_MODULES || new URL('../node_modules', import.meta.url).pathname
const load = (p) => import(pathToFileURL(path.join(nm, p)).href)

let passed = 0
let failed = 0
function check(desc, cond, detail) {
  if (cond) {
    passed++
    console.log(`ok   - ${desc}`)
  } else {
    failed++
    console.log(`FAIL - ${desc}${detail ? `: ${detail}` : ''}`)
  }
}

// Collects the mismatches found in one file; a file is one ok/FAIL line.
class Findings {
  constructor() {
    this.errs = []
    this.n = 0
  }
  eq(what, got, want) {
    this.n++
    if (!same(got, want)) this.fail(`${what}: got ${show(got)} want ${show(want)}`)
  }
  ok(what, cond) {
    this.n++
    if (!cond) this.fail(what)
  }
  fail(msg) {
    this.errs.push(msg)
  }
  report(desc) {
    check(`${desc} (${this.n} checks)`, this.errs.length === 0,
      this.errs.slice(0, 12).join('; ') + (this.errs.length > 12 ? `; ... ${this.errs.length} in all` : ''))
  }
}

// ---- value helpers ----

const hex = (u8) => Buffer.from(u8).toString('hex')
// NaN equals NaN; -0 and +0 differ; everything else by value (BigInts as BigInts).
function same(a, b) {
  if (typeof a === 'number' && typeof b === 'number') return Object.is(a, b)
  return a === b
}
function show(v) {
  if (typeof v === 'bigint') return `${v}n`
  if (typeof v === 'number' && Object.is(v, -0)) return '-0'
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}...(${v.length})` : v)
  return String(v)
}
// Big-endian two's complement bytes (hex) to a BigInt.
function beSigned(h) {
  if (h.length === 0) return 0n
  let v = BigInt(`0x${h}`)
  if (parseInt(h[0], 16) >= 8) v -= 1n << BigInt(h.length * 4)
  return v
}
// Little-endian bytes (hex) to a BigInt.
function leInt(h, signed) {
  const b = Buffer.from(h, 'hex')
  let v = 0n
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i])
  if (signed && b.length && (b[b.length - 1] & 0x80)) v -= 1n << BigInt(b.length * 8)
  return v
}
// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's days_from_civil).
function daysFromCivil(y, m, d) {
  y -= m <= 2 ? 1 : 0
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
}
// A float or double from its physical JSON form ("%.17g", "NaN", "Infinity", "-Infinity").
const numOf = (e) => (e === 'NaN' ? NaN : Number(e))

// ---- the columns tarn wrote: order, statistics, truncation ----

const isInt = (c) => c.type === 'INT32' || c.type === 'INT64'
const isFloat = (c) => c.type === 'FLOAT' || c.type === 'DOUBLE'
const isUnsigned = (c) => c.logical === 'INTEGER' && !c.signed

// Physical JSON value -> something ordered like the column's type order in tarn's README.
function orderKey(c, e) {
  if (isInt(c)) {
    let v = BigInt(e)
    if (isUnsigned(c) && v < 0n) v += 1n << BigInt(c.bits)
    return v
  }
  if (isFloat(c)) return numOf(e)
  if (c.type === 'BOOLEAN') return e ? 1 : 0
  if (c.type === 'FIXED_LEN_BYTE_ARRAY' && c.logical === 'DECIMAL') return beSigned(e)
  return Buffer.from(e, 'hex')
}
function cmpKey(a, b) {
  if (Buffer.isBuffer(a)) return Buffer.compare(a, b)
  return a < b ? -1 : a > b ? 1 : 0
}

// UTF-8 code points of a buffer: [{cp, len}].
function codePoints(buf) {
  const out = []
  for (let i = 0; i < buf.length;) {
    const b = buf[i]
    const len = b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4
    let cp = len === 1 ? b : b & (0xff >> (len + 1))
    for (let k = 1; k < len; k++) cp = (cp << 6) | (buf[i + k] & 0x3f)
    out.push({ cp, len })
    i += len
  }
  return out
}
const utf8Len = (cp) => (cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4)

// Statistics bounds of byte strings longer than `max` bytes, as tarn's README specifies:
// the lower bound is a prefix (whole characters for STRING); the upper bound is a prefix
// with its last byte (character) incremented, 0xff bytes (U+10FFFF, or characters whose
// successor would pass the limit) dropped first; with no shorter bound the value is kept.
function truncLower(c, buf, max) {
  if (buf.length <= max) return { v: buf, exact: true }
  if (c.logical !== 'STRING') return { v: buf.subarray(0, max), exact: false }
  let n = 0
  for (const { len } of codePoints(buf)) {
    if (n + len > max) break
    n += len
  }
  return { v: buf.subarray(0, n), exact: false }
}
function truncUpper(c, buf, max) {
  if (buf.length <= max) return { v: buf, exact: true }
  if (c.logical !== 'STRING') {
    const p = Buffer.from(buf.subarray(0, max))
    let n = max
    while (n > 0 && p[n - 1] === 0xff) n--
    if (n === 0) return { v: buf, exact: true }
    p[n - 1]++
    return { v: p.subarray(0, n), exact: false }
  }
  const cps = []
  let n = 0
  for (const x of codePoints(buf)) {
    if (n + x.len > max) break
    cps.push(x)
    n += x.len
  }
  while (cps.length) {
    const last = cps.pop()
    n -= last.len
    let cp = last.cp + 1
    if (cp === 0xd800) cp = 0xe000
    if (cp > 0x10ffff || n + utf8Len(cp) > max) continue
    const head = Buffer.from(String.fromCodePoint(...cps.map((x) => x.cp)), 'utf8')
    return { v: Buffer.concat([head, Buffer.from(String.fromCodePoint(cp), 'utf8')]), exact: false }
  }
  return { v: buf, exact: true }
}

// Statistics tarn must have written for these values: null count, min and max in physical
// JSON form (byte strings as hex, truncated) or null, and the exact flags.
function expectStats(c, vals, trunc) {
  let nulls = 0
  let mn = null
  let mx = null
  let kmn
  let kmx
  for (const e of vals) {
    if (e === null) {
      nulls++
      continue
    }
    const k = orderKey(c, e)
    if (typeof k === 'number' && Number.isNaN(k)) continue
    if (mn === null || cmpKey(k, kmn) < 0) { mn = e; kmn = k }
    if (mx === null || cmpKey(k, kmx) > 0) { mx = e; kmx = k }
  }
  const st = { nulls, min: mn, max: mx, minExact: true, maxExact: true }
  if (mn === null) return st
  if (isFloat(c)) { // a zero min is written -0.0 and a zero max +0.0
    st.min = kmn === 0 ? '-0' : mn
    st.max = kmx === 0 ? '0' : mx
  }
  if (c.type === 'BYTE_ARRAY') {
    const lo = truncLower(c, kmn, trunc)
    const hi = truncUpper(c, kmx, trunc)
    st.min = hex(lo.v)
    st.max = hex(hi.v)
    st.minExact = lo.exact
    st.maxExact = hi.exact
  }
  return st
}

// A physical JSON value's PLAIN encoding as hex (tarn_pq_file_info bounds).
function plainHex(c, e) {
  const b = Buffer.alloc(8)
  switch (c.type) {
    case 'BOOLEAN': return e ? '01' : '00'
    case 'INT32': b.writeInt32LE(Number(e)); return hex(b.subarray(0, 4))
    case 'INT64': b.writeBigInt64LE(BigInt(e)); return hex(b)
    case 'FLOAT': b.writeFloatLE(numOf(e)); return hex(b.subarray(0, 4))
    case 'DOUBLE': b.writeDoubleLE(numOf(e)); return hex(b)
    default: return e
  }
}

// ---- DuckDB's view of tarn's columns ----
// The DuckDB type each tarn column reads as, and how a physical value then shows in DuckDB.
// DuckDB reads TIME adjusted to UTC as TIME WITH TIME ZONE and TIMESTAMP(NANOS) adjusted to
// UTC as TIMESTAMP WITH TIME ZONE, both in microseconds: those compare truncated toward
// zero, as DuckDB converts. TIMESTAMP(MILLIS) reads as microseconds. DuckDB shows no float
// statistics whose bounds are infinite (hyparquet checks those).

function duckTypeOf(c) {
  const U = c.signed ? '' : 'U'
  switch (c.logical) {
    case 'STRING': return 'VARCHAR'
    case 'DATE': return 'DATE'
    case 'UUID': return 'UUID'
    case 'DECIMAL': return `DECIMAL(${c.prec},${c.scale})`
    case 'INTEGER': return U + { 8: 'TINYINT', 16: 'SMALLINT', 32: 'INTEGER', 64: 'BIGINT' }[c.bits]
    case 'TIME': return c.utc ? 'TIME WITH TIME ZONE' : c.unit === 'NANOS' ? 'TIME_NS' : 'TIME'
    case 'TIMESTAMP':
      if (c.utc) return 'TIMESTAMP WITH TIME ZONE'
      return c.unit === 'NANOS' ? 'TIMESTAMP_NS' : 'TIMESTAMP'
    default:
      return { BOOLEAN: 'BOOLEAN', INT32: 'INTEGER', INT64: 'BIGINT', FLOAT: 'FLOAT', DOUBLE: 'DOUBLE',
        BYTE_ARRAY: 'BLOB', FIXED_LEN_BYTE_ARRAY: 'BLOB' }[c.type]
  }
}

// SQL giving a canonical value of expression x of DuckDB type t: a DOUBLE for floats, else
// text - integers and decimals as DuckDB prints them, byte strings (VARCHAR too) as
// lowercase hex, DATE as days, TIME/TIMESTAMP as ticks of their unit since midnight/epoch,
// INTERVAL as months/days/microseconds.
function duckCanonSql(x, t) {
  if (t === 'FLOAT' || t === 'DOUBLE') return `(${x})::DOUBLE`
  if (t === 'VARCHAR' || t === 'BLOB') return `lower(hex(${x}))`
  if (t === 'DATE') return `((${x}) - DATE '1970-01-01')::VARCHAR`
  if (t === 'TIME' || t === 'TIME WITH TIME ZONE' || t === 'TIMESTAMP' ||
      t === 'TIMESTAMP WITH TIME ZONE') return `epoch_us(${x})::VARCHAR`
  if (t === 'TIME_NS' || t === 'TIMESTAMP_NS') return `epoch_ns(${x})::VARCHAR`
  if (t === 'TIMESTAMP_MS') return `epoch_ms(${x})::VARCHAR`
  if (t === 'INTERVAL') {
    return `(datepart('year', ${x}) * 12 + datepart('month', ${x}))::VARCHAR || '/' || ` +
      `datepart('day', ${x})::VARCHAR || '/' || (datepart('hour', ${x})::BIGINT * 3600000000 + ` +
      `datepart('minute', ${x})::BIGINT * 60000000 + datepart('microseconds', ${x}))::VARCHAR`
  }
  return `(${x})::VARCHAR`
}

// A tarn column's physical JSON value as duckCanonSql shows it (decimals unscaled).
function duckExpect(c, e) {
  if (e === null) return null
  if (c.type === 'BOOLEAN') return e ? 'true' : 'false'
  if (isFloat(c)) return numOf(e)
  if (c.logical === 'UUID') return `${e.slice(0, 8)}-${e.slice(8, 12)}-${e.slice(12, 16)}-${e.slice(16, 20)}-${e.slice(20)}`
  if (c.logical === 'DECIMAL') return String(c.type === 'FIXED_LEN_BYTE_ARRAY' ? beSigned(e) : BigInt(e))
  if (!isInt(c)) return e // hex
  const v = BigInt(e)
  if (isUnsigned(c)) return String(v < 0n ? v + (1n << BigInt(c.bits)) : v)
  if (c.logical === 'TIME') {
    if (c.unit === 'MILLIS') return String(v * 1000n)
    if (c.unit === 'NANOS' && c.utc) return String(v / 1000n)
  }
  if (c.logical === 'TIMESTAMP') {
    if (c.unit === 'MILLIS') return String(v * 1000n)
    if (c.unit === 'NANOS' && c.utc) return String(v / 1000n)
  }
  return String(v)
}
// DuckDB's canonical text of a decimal ("-12.34") unscaled ("-1234"), and back.
const unscale = (s) => String(BigInt(s.replace('.', '')))
function decText(u, scale) {
  const neg = u < 0n
  const digits = String(neg ? -u : u).padStart(scale + 1, '0')
  return `${neg ? '-' : ''}${digits.slice(0, digits.length - scale)}${scale ? '.' : ''}${digits.slice(digits.length - scale)}`
}
// SQL literal of a physical JSON value, as a value of the column's DuckDB type.
function duckLiteral(c, e) {
  const t = duckTypeOf(c)
  if (c.type === 'BYTE_ARRAY') return c.logical === 'STRING' ? `decode(unhex('${e}'))` : `unhex('${e}')`
  if (c.logical === 'DATE') return `(DATE '1970-01-01' + ${e})`
  if (c.logical === 'DECIMAL') return `'${decText(c.type === 'FIXED_LEN_BYTE_ARRAY' ? beSigned(e) : BigInt(e), c.scale)}'::${t}`
  return `${isFloat(c) ? `'${numOf(e)}'` : e}::${t}`
}

// Converted and logical types tarn writes (its README's table), as parquet_schema shows them.
function convertedOf(c) {
  switch (c.logical) {
    case 'STRING': return 'UTF8'
    case 'DATE': return 'DATE'
    case 'DECIMAL': return 'DECIMAL'
    case 'INTEGER': return `${c.signed ? 'INT' : 'UINT'}_${c.bits}`
    case 'TIME': return { MILLIS: 'TIME_MILLIS', MICROS: 'TIME_MICROS', NANOS: null }[c.unit]
    case 'TIMESTAMP':
      if (!c.utc) return null
      return { MILLIS: 'TIMESTAMP_MILLIS', MICROS: 'TIMESTAMP_MICROS', NANOS: null }[c.unit]
    default: return null
  }
}

async function duckdbRead(dir) {
  const { DuckDBInstance } = await load('@duckdb/node-api/lib/index.js')
  const db = await DuckDBInstance.create(':memory:', { threads: '1' })
  const con = await db.connect()
  const q = async (sql) => (await con.runAndReadAll(sql)).getRowObjectsJS()
  const names = JSON.parse(readFileSync(`${dir}/manifest.json`, 'utf8'))
  for (const name of names) {
    if (!wanted(name)) continue
    await guarded(`DuckDB reads tarn's ${name}.parquet`, async () => {
      const f = JSON.parse(readFileSync(`${dir}/${name}.expected.json`, 'utf8'))
      const info = JSON.parse(readFileSync(`${dir}/${name}.info.json`, 'utf8'))
      const file = `${dir}/${name}.parquet`
      const src = `read_parquet('${file}')`
      const fx = new Findings()
      const cols = f.columns
      // the file as a whole
      fx.eq('file size in tarn_pq_file_info', info.size, statSync(file).size)
      fx.eq('record count in tarn_pq_file_info', info.records, f.rows)
      const fm = (await q(`SELECT * FROM parquet_file_metadata('${file}')`))[0]
      fx.ok(`created_by ${fm.created_by}`, /^tarn version \d+\.\d+\.\d+/.test(fm.created_by))
      fx.eq('format_version', Number(fm.format_version), 2)
      fx.eq('num_rows', Number(fm.num_rows), f.rows)
      const kv = await q(`SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata('${file}')`)
      fx.eq('key-value metadata', JSON.stringify(kv.map((r) => [r.k, r.v])), JSON.stringify(f.kv))
      // types
      const desc = await q(`DESCRIBE SELECT * FROM ${src}`)
      fx.eq('column names', desc.map((r) => r.column_name).join(','), cols.map((c) => c.name).join(','))
      const types = cols.map(duckTypeOf)
      desc.forEach((r, i) => fx.eq(`${r.column_name} DuckDB type`, r.column_type, types[i]))
      // schema: field ids, repetition, physical, converted and logical types
      const sch = await q(`SELECT * FROM parquet_schema('${file}')`)
      fx.eq('schema elements', sch.length, cols.length + 1)
      for (const c of cols) {
        const s = sch.find((x) => x.name === c.name)
        if (!s) { fx.fail(`${c.name} missing from parquet_schema`); continue }
        fx.eq(`${c.name} field_id`, Number(s.field_id), c.id)
        fx.eq(`${c.name} type`, s.type, c.type)
        fx.eq(`${c.name} repetition`, s.repetition_type, c.optional ? 'OPTIONAL' : 'REQUIRED')
        fx.eq(`${c.name} converted_type`, s.converted_type, convertedOf(c))
        if (c.type === 'FIXED_LEN_BYTE_ARRAY') fx.eq(`${c.name} type_length`, Number(s.type_length), c.tlen)
        if (c.logical === 'DECIMAL') {
          fx.eq(`${c.name} precision`, Number(s.precision), c.prec)
          fx.eq(`${c.name} scale`, Number(s.scale), c.scale)
        }
        const lt = s.logical_type ?? ''
        const wantLt = {
          NONE: /^$/, STRING: /^StringType/, DATE: /^DateType/, UUID: /^UUIDType/,
          DECIMAL: new RegExp(`^DecimalType\\(scale=${c.scale}, precision=${c.prec}\\)`),
          // DuckDB prints the bit width as a raw byte: the converted type checks it
          INTEGER: new RegExp(`^IntType\\(bitWidth=.*, isSigned=${c.signed ? 1 : 0}\\)`, 's'),
          TIME: new RegExp(`^TimeType\\(isAdjustedToUTC=${c.utc}, unit=.*${c.unit}=[A-Z]`, 'i'),
          TIMESTAMP: new RegExp(`^TimestampType\\(isAdjustedToUTC=${c.utc}, unit=.*${c.unit}=[A-Z]`, 'i'),
        }[c.logical]
        fx.ok(`${c.name} logical_type ${lt}`, wantLt.test(lt))
      }
      // values
      if (f.rows > 0) {
        const sel = cols.map((c, i) => `${duckCanonSql(`"${c.name}"`, types[i])} AS "${c.name}"`)
        const got = (await con.runAndReadAll(`SELECT ${sel.join(', ')} FROM ${src}`)).getColumnsJS()
        cols.forEach((c, i) => {
          const g = got[i]
          fx.eq(`${c.name} rows`, g.length, f.rows)
          let bad = 0
          for (let r = 0; r < f.rows && bad < 2; r++) {
            let gv = g[r]
            if (c.logical === 'DECIMAL' && gv !== null) gv = unscale(gv)
            const wv = duckExpect(c, c.values[r])
            fx.n++
            if (!same(gv, wv)) { bad++; fx.fail(`${c.name} row ${r}: got ${show(gv)} want ${show(wv)}`) }
          }
        })
      } else {
        fx.eq('count(*)', Number((await q(`SELECT count(*) AS n FROM ${src}`))[0].n), 0)
      }
      // row groups and statistics: min/max as DuckDB decodes them, cast back to the column's
      // type and canonicalised like the values
      const caseOf = (field) => `CASE column_id ${cols.map((c, i) => {
        const e = duckCanonSql(`TRY_CAST(${field} AS ${types[i]})`, types[i])
        return `WHEN ${i} THEN (${e})::VARCHAR`
      }).join(' ')} END`
      const md = await q(`SELECT row_group_id AS rg, column_id AS col, row_group_num_rows AS n,
          num_values, compression, encodings, stats_null_count AS nulls, stats_min_value AS raw_min,
          ${caseOf('stats_min_value')} AS mn, ${caseOf('stats_max_value')} AS mx,
          min_is_exact, max_is_exact, bloom_filter_offset, bloom_filter_length
        FROM parquet_metadata('${file}') ORDER BY rg, col`)
      const rgStart = []
      let total = 0
      for (const m of md) {
        if (Number(m.col) === 0) { rgStart.push(total); total += Number(m.n) }
      }
      fx.eq('rows in row groups', total, f.rows)
      if (f.rg_rows > 0) {
        rgStart.forEach((s, g) => fx.eq(`row group ${g} rows`, Number(md[g * cols.length].n),
          Math.min(f.rg_rows, f.rows - s)))
      }
      const textNum = (s) => ({ inf: Infinity, '-inf': -Infinity, nan: NaN })[s] ?? Number(s)
      for (const m of md) {
        const c = cols[Number(m.col)]
        const g = Number(m.rg)
        const n = Number(m.n)
        const where = `${c.name} rg ${g}`
        fx.eq(`${where} num_values`, Number(m.num_values), n)
        fx.eq(`${where} compression`, m.compression, f.codec)
        // Low-cardinality data (card > 0) keeps its dictionary; with distinct values the writer
        // may drop it after the first page (when it does not pay), never use one when off.
        const dictEnc = m.encodings.split(', ').includes('RLE_DICTIONARY')
        if (!f.dict || c.type === 'BOOLEAN' || f.card > 0) {
          fx.eq(`${where} dictionary encoding`, dictEnc, Boolean(f.dict) && c.type !== 'BOOLEAN')
        }
        if (f.bloom) fx.ok(`${where} bloom filter`, m.bloom_filter_offset !== null && Number(m.bloom_filter_length) > 0)
        else fx.ok(`${where} no bloom filter`, m.bloom_filter_offset === null)
        if (f.nostats) {
          fx.ok(`${where} statistics written with no_statistics`, m.nulls === null && m.raw_min === null)
          continue
        }
        const want = expectStats(c, c.values.slice(rgStart[g], rgStart[g] + n), f.trunc)
        fx.eq(`${where} null_count`, Number(m.nulls), want.nulls)
        if (want.min === null) {
          fx.ok(`${where} min/max without a value`, m.mn === null && m.mx === null)
          continue
        }
        const wmn = duckExpect(c, want.min)
        const wmx = duckExpect(c, want.max)
        if (isFloat(c) && (!Number.isFinite(wmn) || !Number.isFinite(wmx))) {
          fx.ok(`${where} infinite float bounds hidden`, m.mn === null && m.mx === null)
          continue
        }
        let gmn = m.mn
        let gmx = m.mx
        if (isFloat(c)) { gmn = textNum(gmn); gmx = textNum(gmx) }
        if (c.logical === 'DECIMAL') { gmn = gmn && unscale(gmn); gmx = gmx && unscale(gmx) }
        fx.eq(`${where} min`, gmn, wmn)
        fx.eq(`${where} max`, gmx, wmx)
        fx.eq(`${where} min_is_exact`, m.min_is_exact, want.minExact)
        fx.eq(`${where} max_is_exact`, m.max_is_exact, want.maxExact)
      }
      // DuckDB prunes row groups by these statistics: filtered counts stay exact
      if (!f.nostats && f.rows > 0) {
        for (const name of ['i64_req', 'i32_opt', 'f64_opt', 'str_opt', 'date_req', 'dec64_opt']) {
          const c = cols.find((x) => x.name === name)
          const keyed = c.values.filter((v) => v !== null).map((v) => [orderKey(c, v), v])
          const real = keyed.filter(([k]) => !(typeof k === 'number' && Number.isNaN(k)))
          if (real.length === 0) continue
          real.sort((a, b) => cmpKey(a[0], b[0]))
          const [pk, pv] = real[Math.floor(real.length / 3)]
          const lit = duckLiteral(c, pv)
          // DuckDB orders NaN above every number
          const want = keyed.filter(([k]) => (typeof k === 'number' && Number.isNaN(k)) || cmpKey(k, pk) >= 0).length
          const r = await q(`SELECT count(*) AS n FROM ${src} WHERE "${name}" >= ${lit}`)
          fx.eq(`count where ${name} >= ${pv}`, Number(r[0].n), want)
        }
      }
      // bloom filters: no present value is excluded, most absent ones are
      if (f.bloom) {
        for (const name of ['i32_req', 'str_opt', 'i64_opt', 'f64_req']) {
          const c = cols.find((x) => x.name === name)
          const lit = (v) => duckLiteral(c, v)
          const seen = new Set()
          for (let r = 0; r < f.rows && seen.size < 12; r++) {
            const v = c.values[r]
            if (v === null || v === 'NaN' || seen.has(v)) continue
            seen.add(v)
            const g = rgStart.findLastIndex((s) => s <= r)
            const pr = await q(`SELECT bloom_filter_excludes AS x FROM parquet_bloom_probe('${file}', '${name}', ${lit(v)}) ORDER BY row_group_id`)
            fx.ok(`bloom filter of ${name} rg ${g} excludes present ${v}`, pr[g] && pr[g].x === false)
          }
          let excl = 0
          let tot = 0
          for (let x = 0; x < 30; x++) {
            const v = c.type === 'BYTE_ARRAY' ? hex(Buffer.from(`absent-${x}`)) : String(123456789 + x * 7919)
            for (const p of await q(`SELECT bloom_filter_excludes AS x FROM parquet_bloom_probe('${file}', '${name}', ${lit(v)})`)) {
              tot++
              if (p.x) excl++
            }
          }
          fx.ok(`bloom filter of ${name} excluded only ${excl} of ${tot} absent values`, excl >= tot * 0.9)
        }
      }
      fx.report(`DuckDB reads tarn's ${name}.parquet (${f.rows} rows, ${rgStart.length} row groups, ${f.codec}, page v${f.v2 ? 2 : 1}, ${f.dict ? 'dictionary' : 'plain'})`)
    })
  }
}

// ---- hyparquet's view of tarn's files ----
// Parsers keep raw values: timestamps as BigInt ticks of their unit, dates as days, strings
// as hex of their bytes (like binary). Values are read with DECIMAL annotations removed from
// a copy of the metadata, so unscaled integers come back exactly; statistics and column
// indexes keep hyparquet's own decimal conversion (a Number: unscaled * 10 ** -scale).
const rawParsers = {
  timestampFromMilliseconds: (v) => BigInt(v),
  timestampFromMicroseconds: (v) => BigInt(v),
  timestampFromNanoseconds: (v) => BigInt(v),
  dateFromDays: (d) => d,
  stringFromBytes: (b) => b && hex(b),
}

// A value as hyparquet returns it, in one comparable form.
function hyCanon(v) {
  if (v === null || v === undefined) return null
  if (v instanceof Uint8Array) return hex(v)
  if (typeof v === 'bigint' || typeof v === 'boolean') return String(v)
  return v // number or string
}
// A physical JSON value as hyparquet returns it (after hyCanon). `converted`: statistics
// and column indexes, where decimals are converted to Numbers.
function hyExpect(c, e, converted) {
  if (e === null) return null
  if (c.type === 'BOOLEAN') return String(e)
  if (isFloat(c)) return e === '-0' ? -0 : numOf(e)
  if (c.logical === 'DECIMAL' && converted) {
    const u = c.type === 'FIXED_LEN_BYTE_ARRAY' ? beSigned(e) : BigInt(e)
    return Number(u) * 10 ** -c.scale
  }
  if (c.logical === 'UUID') return duckExpect(c, e)
  if (c.type === 'INT32') {
    const v = Number(e)
    return c.logical === 'INTEGER' && !c.signed && c.bits === 32 && v < 0 ? v + 4294967296 : v
  }
  if (c.type === 'INT64') {
    const v = BigInt(e)
    return String(isUnsigned(c) && v < 0n ? v + (1n << 64n) : v)
  }
  return e // hex
}

async function hyparquetRead(dir) {
  const { parquetMetadata, parquetReadObjects, readOffsetIndex } = await load('hyparquet/src/index.js')
  // hyparquet's readColumnIndex converts the empty bounds of null pages too, which throws
  // for INT64 timestamps: decode with its Thrift reader and convert non-null pages only.
  const { convertMetadata } = await load('hyparquet/src/metadata.js')
  const { deserializeTCompactProtocol } = await load('hyparquet/src/thrift.js')
  const { DEFAULT_PARSERS: parsersDefault } = await load('hyparquet/src/convert.js')
  const readColumnIndex = (reader, schema, parsers) => {
    const t = deserializeTCompactProtocol(reader)
    const conv = (vals) => vals.map((v, p) => (t.field_1[p] ? undefined : convertMetadata(v, schema, parsers)))
    return {
      null_pages: t.field_1,
      min_values: conv(t.field_2),
      max_values: conv(t.field_3),
      boundary_order: ['UNORDERED', 'ASCENDING', 'DESCENDING'][t.field_4],
      null_counts: t.field_5,
    }
  }
  const { compressors } = await load('hyparquet-compressors/src/index.js')
  const names = JSON.parse(readFileSync(`${dir}/manifest.json`, 'utf8'))
  for (const name of names) {
    if (!wanted(name)) continue
    await guarded(`hyparquet reads tarn's ${name}.parquet`, async () => {
      const f = JSON.parse(readFileSync(`${dir}/${name}.expected.json`, 'utf8'))
      const info = JSON.parse(readFileSync(`${dir}/${name}.info.json`, 'utf8'))
      const buf = readFileSync(`${dir}/${name}.parquet`)
      const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)
      const cols = f.columns
      const fx = new Findings()
      const meta = parquetMetadata(ab, { parsers: rawParsers })
      fx.eq('version', meta.version, 2)
      fx.eq('num_rows', Number(meta.num_rows), f.rows)
      fx.ok(`created_by ${meta.created_by}`, /^tarn version /.test(meta.created_by))
      fx.eq('key-value metadata', JSON.stringify((meta.key_value_metadata ?? []).map((x) => [x.key, x.value])),
        JSON.stringify(f.kv))
      // schema
      fx.eq('schema elements', meta.schema.length, cols.length + 1)
      fx.eq('root children', meta.schema[0].num_children, cols.length)
      cols.forEach((c, i) => {
        const s = meta.schema[i + 1]
        fx.eq(`${c.name} name`, s.name, c.name)
        fx.eq(`${c.name} field_id`, s.field_id, c.id)
        fx.eq(`${c.name} type`, s.type, c.type)
        fx.eq(`${c.name} repetition`, s.repetition_type, c.optional ? 'OPTIONAL' : 'REQUIRED')
        fx.eq(`${c.name} converted_type`, s.converted_type ?? null, convertedOf(c))
        const lt = s.logical_type
        if (c.logical === 'NONE') { fx.ok(`${c.name} has no logical type`, lt === undefined); return }
        fx.eq(`${c.name} logical type`, lt?.type, c.logical)
        if (c.logical === 'DECIMAL') fx.eq(`${c.name} decimal`, `${lt.precision},${lt.scale},${s.precision},${s.scale}`, `${c.prec},${c.scale},${c.prec},${c.scale}`)
        if (c.logical === 'INTEGER') fx.eq(`${c.name} integer`, `${lt.bitWidth},${lt.isSigned}`, `${c.bits},${Boolean(c.signed)}`)
        if (c.logical === 'TIME' || c.logical === 'TIMESTAMP') fx.eq(`${c.name} unit`, `${lt.unit},${lt.isAdjustedToUTC}`, `${c.unit},${Boolean(c.utc)}`)
        if (c.type === 'FIXED_LEN_BYTE_ARRAY') fx.eq(`${c.name} type_length`, s.type_length, c.tlen)
      })
      // row groups, chunks, statistics, tarn_pq_file_info
      const rgStart = []
      let total = 0
      meta.row_groups.forEach((rg) => { rgStart.push(total); total += Number(rg.num_rows) })
      fx.eq('rows in row groups', total, f.rows)
      fx.eq('split offsets', JSON.stringify(meta.row_groups.map((rg) => Number(rg.file_offset))), JSON.stringify(info.splits))
      cols.forEach((c, j) => {
        const ci = info.cols[j]
        const nn = c.values.filter((v) => v !== null)
        fx.eq(`${c.name} info field id`, ci.id, c.id)
        fx.eq(`${c.name} info values`, ci.values, f.rows)
        fx.eq(`${c.name} info nulls`, ci.nulls, f.rows - nn.length)
        fx.eq(`${c.name} info NaNs`, ci.nans, nn.filter((v) => v === 'NaN').length)
        fx.eq(`${c.name} info size`, ci.size, meta.row_groups.reduce((a, rg) => a + Number(rg.columns[j].meta_data.total_compressed_size), 0))
        const st = expectStats(c, c.values, f.trunc)
        fx.eq(`${c.name} info has bounds`, ci.has, f.nostats || st.min === null ? 0 : 1)
        if (ci.has) {
          fx.eq(`${c.name} info lower bound`, ci.lower, plainHex(c, st.min))
          fx.eq(`${c.name} info upper bound`, ci.upper, plainHex(c, st.max))
        }
      })
      meta.row_groups.forEach((rg, g) => {
        const n = Number(rg.num_rows)
        rg.columns.forEach((cc, j) => {
          const c = cols[j]
          const md = cc.meta_data
          const where = `${c.name} rg ${g}`
          fx.eq(`${where} codec`, md.codec, f.codec)
          fx.eq(`${where} num_values`, Number(md.num_values), n)
          fx.eq(`${where} path`, md.path_in_schema.join('.'), c.name)
          fx.eq(`${where} chunk file_offset`, Number(cc.file_offset), Number(md.dictionary_page_offset ?? md.data_page_offset))
          const s = md.statistics
          if (f.nostats) { fx.ok(`${where} statistics written with no_statistics`, s === undefined); return }
          const want = expectStats(c, c.values.slice(rgStart[g], rgStart[g] + n), f.trunc)
          fx.eq(`${where} null_count`, Number(s.null_count), want.nulls)
          fx.ok(`${where} deprecated min/max written`, s.min === undefined && s.max === undefined)
          if (want.min === null) { fx.ok(`${where} min/max without a value`, s.min_value === undefined && s.max_value === undefined); return }
          fx.eq(`${where} min_value`, hyCanon(s.min_value), hyExpect(c, want.min, true))
          fx.eq(`${where} max_value`, hyCanon(s.max_value), hyExpect(c, want.max, true))
          fx.eq(`${where} is_min_value_exact`, s.is_min_value_exact, want.minExact)
          fx.eq(`${where} is_max_value_exact`, s.is_max_value_exact, want.maxExact)
        })
      })
      // page indexes: pages start at row boundaries, sizes add up, per-page statistics exact
      meta.row_groups.forEach((rg, g) => {
        const n = Number(rg.num_rows)
        rg.columns.forEach((cc, j) => {
          const c = cols[j]
          const md = cc.meta_data
          const where = `${c.name} rg ${g}`
          if (f.noindex) { fx.ok(`${where} page index written with no_page_index`, cc.offset_index_offset === undefined && cc.column_index_offset === undefined); return }
          const oi = readOffsetIndex({ view: new DataView(ab, Number(cc.offset_index_offset), cc.offset_index_length), offset: 0 })
          const locs = oi.page_locations
          fx.eq(`${where} first page row`, Number(locs[0].first_row_index), 0)
          fx.eq(`${where} first page offset`, Number(locs[0].offset), Number(md.data_page_offset))
          let sum = 0
          locs.forEach((pl, p) => {
            if (p > 0) fx.ok(`${where} page ${p} rows increase`, pl.first_row_index > locs[p - 1].first_row_index)
            if (p > 0) fx.eq(`${where} page ${p} follows the last`, Number(pl.offset), Number(locs[p - 1].offset) + locs[p - 1].compressed_page_size)
            sum += pl.compressed_page_size
          })
          const dictLen = md.dictionary_page_offset !== undefined ? Number(md.data_page_offset - md.dictionary_page_offset) : 0
          fx.eq(`${where} pages + dictionary = chunk`, sum + dictLen, Number(md.total_compressed_size))
          const pages = locs.map((pl, p) => {
            const r0 = rgStart[g] + Number(pl.first_row_index)
            const r1 = rgStart[g] + (p + 1 < locs.length ? Number(locs[p + 1].first_row_index) : n)
            return expectStats(c, c.values.slice(r0, r1), f.trunc)
          })
          // TYPE_ORDER: no column index when a float page holds only NaN (and nulls)
          const nanPage = isFloat(c) && locs.some((pl, p) => {
            const r0 = rgStart[g] + Number(pl.first_row_index)
            const r1 = rgStart[g] + (p + 1 < locs.length ? Number(locs[p + 1].first_row_index) : n)
            const vals = c.values.slice(r0, r1).filter((v) => v !== null)
            return vals.length > 0 && vals.every((v) => v === 'NaN')
          })
          if (f.nostats || nanPage) { fx.ok(`${where} column index written (nostats ${f.nostats}, NaN page ${nanPage})`, cc.column_index_offset === undefined); return }
          const ci = readColumnIndex({ view: new DataView(ab, Number(cc.column_index_offset), cc.column_index_length), offset: 0 },
            meta.schema[j + 1], { ...parsersDefault, ...rawParsers })
          fx.eq(`${where} column index pages`, ci.null_pages.length, locs.length)
          let asc = true
          let desc = true
          let prev = null
          pages.forEach((want, p) => {
            const allNull = want.nulls === Number(locs[p + 1]?.first_row_index ?? n) - Number(locs[p].first_row_index)
            fx.eq(`${where} page ${p} null count`, Number(ci.null_counts[p]), want.nulls)
            fx.eq(`${where} page ${p} null page`, ci.null_pages[p], allNull)
            if (allNull) return
            fx.eq(`${where} page ${p} min`, hyCanon(ci.min_values[p]), hyExpect(c, want.min, true))
            fx.eq(`${where} page ${p} max`, hyCanon(ci.max_values[p]), hyExpect(c, want.max, true))
            const lo = orderKey(c, want.min)
            const hi = orderKey(c, want.max)
            if (prev) {
              const a = cmpKey(prev[0], lo)
              const b = cmpKey(prev[1], hi)
              if (a > 0 || b > 0) asc = false
              if (a < 0 || b < 0) desc = false
            }
            prev = [lo, hi]
          })
          fx.eq(`${where} boundary order`, ci.boundary_order, asc ? 'ASCENDING' : desc ? 'DESCENDING' : 'UNORDERED')
        })
      })
      // values, decimals unconverted
      const rawMeta = structuredClone(meta)
      for (const s of rawMeta.schema) {
        if (s.converted_type === 'DECIMAL') { s.converted_type = undefined; s.logical_type = undefined }
      }
      const rows = await parquetReadObjects({ file: ab, metadata: rawMeta, compressors, parsers: rawParsers, utf8: false })
      fx.eq('rows read', rows.length, f.rows)
      for (const c of cols) {
        let bad = 0
        for (let r = 0; r < rows.length && bad < 2; r++) {
          const g = hyCanon(rows[r][c.name])
          const w = hyExpect(c, c.values[r], false)
          fx.n++
          if (!same(g, w)) { bad++; fx.fail(`${c.name} row ${r}: got ${show(g)} want ${show(w)}`) }
        }
      }
      fx.report(`hyparquet reads tarn's ${name}.parquet (${f.rows} rows, ${meta.row_groups.length} row groups)`)
    })
  }
}

// ---- DuckDB writes, tarn reads ----
// One table with every DuckDB type that maps to a flat Parquet column, nulls in each column
// but `id`, extremes in rows 1 and 2, and one column that is always null.
const N = 5000
const TABLE = `SELECT
  i::BIGINT AS id,
  CASE WHEN i % 7 = 3 THEN NULL ELSE i % 3 = 0 END AS b,
  CASE WHEN i % 9 = 4 THEN NULL WHEN i = 1 THEN -128 WHEN i = 2 THEN 127 ELSE (i * 37) % 256 - 128 END::TINYINT AS i8,
  CASE WHEN i % 11 = 0 THEN NULL WHEN i = 1 THEN -32768 WHEN i = 2 THEN 32767 ELSE (i * 7919) % 65536 - 32768 END::SMALLINT AS i16,
  CASE WHEN i % 13 = 5 THEN NULL WHEN i = 1 THEN -2147483648 WHEN i = 2 THEN 2147483647 ELSE i * 104729 - 50000000 END::INTEGER AS i32,
  CASE WHEN i % 17 = 6 THEN NULL WHEN i = 1 THEN -9223372036854775808 WHEN i = 2 THEN 9223372036854775807
       ELSE i::BIGINT * 1000000007 - 77777777777 END::BIGINT AS i64,
  CASE WHEN i % 19 = 7 THEN NULL ELSE i::HUGEINT * 100000000000000000000 - 7 END AS i128,
  CASE WHEN i % 5 = 1 THEN NULL WHEN i = 2 THEN 255 ELSE (i * 13) % 256 END::UTINYINT AS u8,
  CASE WHEN i % 6 = 1 THEN NULL WHEN i = 2 THEN 65535 ELSE (i * 1013) % 65536 END::USMALLINT AS u16,
  CASE WHEN i % 7 = 1 THEN NULL WHEN i = 2 THEN 4294967295 ELSE i * 2654435761 % 4294967296 END::UINTEGER AS u32,
  CASE WHEN i % 8 = 1 THEN NULL WHEN i = 2 THEN 18446744073709551615::UBIGINT
       ELSE ((i::UHUGEINT * 11400714819323198485) % 18446744073709551616)::UBIGINT END AS u64,
  CASE WHEN i % 10 = 3 THEN NULL WHEN i = 4 THEN 'nan'::FLOAT WHEN i = 5 THEN 'inf'::FLOAT WHEN i = 6 THEN '-inf'::FLOAT
       WHEN i = 7 THEN -0.0::FLOAT WHEN i = 8 THEN 3.4028235e38::FLOAT WHEN i = 9 THEN 1e-45::FLOAT
       ELSE (i / 7.0 - 100)::FLOAT END AS f32,
  CASE WHEN i % 9 = 2 THEN NULL WHEN i = 4 THEN 'nan'::DOUBLE WHEN i = 5 THEN 'inf'::DOUBLE WHEN i = 6 THEN '-inf'::DOUBLE
       WHEN i = 7 THEN -0.0::DOUBLE WHEN i = 8 THEN 1.7976931348623157e308 WHEN i = 10 THEN 5e-324
       ELSE i * 1.0e-3 - 1.5e10 END::DOUBLE AS f64,
  CASE WHEN i % 5 = 0 THEN NULL WHEN i = 1 THEN '-999.9'::DECIMAL(4,1) WHEN i = 2 THEN '999.9'::DECIMAL(4,1)
       ELSE (((i % 19999) - 9999) / 10)::DECIMAL(4,1) END AS dec4,
  CASE WHEN i % 6 = 0 THEN NULL WHEN i = 1 THEN '-999999.999'::DECIMAL(9,3) WHEN i = 2 THEN '999999.999'::DECIMAL(9,3)
       ELSE ((i * 7777 % 1999999999 - 999999999) / 1000)::DECIMAL(9,3) END AS dec9,
  CASE WHEN i % 7 = 0 THEN NULL WHEN i = 1 THEN '-999999999999.999999'::DECIMAL(18,6) WHEN i = 2 THEN '999999999999.999999'::DECIMAL(18,6)
       ELSE ((i::BIGINT * 123456789 - 99999999999) / 1000)::DECIMAL(18,6) END AS dec18,
  CASE WHEN i % 8 = 0 THEN NULL WHEN i = 1 THEN '-9999999999999999999999999999.9999999999'::DECIMAL(38,10)
       WHEN i = 2 THEN '9999999999999999999999999999.9999999999'::DECIMAL(38,10)
       ELSE i * 12345678901.2345678901::DECIMAL(38,10) - 0.5 END::DECIMAL(38,10) AS dec38,
  CASE WHEN i % 10 = 0 THEN NULL WHEN i % 10 = 1 THEN '' WHEN i % 50 = 2 THEN repeat('long ' || i::VARCHAR || ' ', 300)
       WHEN i % 10 = 3 THEN 'ünïcødé ✓ ' || i::VARCHAR WHEN i = 4 THEN 'nul' || chr(0) || 'inside'
       WHEN i % 10 = 5 THEN 'quote" back\\ tab' || chr(9) || 'nl' || chr(10) || i::VARCHAR
       ELSE 'value ' || (i % 97)::VARCHAR END AS s,
  CASE WHEN i % 4 = 2 THEN NULL ELSE ['red', 'green', 'blue'][i % 3 + 1] END AS cat,
  CASE WHEN i % 6 = 5 THEN NULL ELSE ['x', 'y', 'z'][i % 3 + 1] END::ENUM('x', 'y', 'z') AS en,
  CASE WHEN i % 7 = 5 THEN NULL ELSE ('{"k": ' || i::VARCHAR || ', "s": "v' || (i % 5)::VARCHAR || '"}') END::JSON AS js,
  CASE WHEN i % 9 = 0 THEN NULL WHEN i % 9 = 1 THEN ''::BLOB ELSE ('\\x00\\xFF\\x5C' || (i % 300)::VARCHAR)::BLOB END AS bl,
  CASE WHEN i % 12 = 0 THEN NULL WHEN i = 1 THEN DATE '0001-01-01' WHEN i = 2 THEN DATE '9999-12-31'
       ELSE DATE '1970-01-01' + (i * 37 - 40000)::INTEGER END AS dt,
  CASE WHEN i % 13 = 0 THEN NULL WHEN i = 1 THEN TIME '00:00:00' WHEN i = 2 THEN TIME '23:59:59.999999'
       ELSE TIME '00:00:00' + i * INTERVAL '17 seconds 123 microseconds' END AS tm,
  CASE WHEN i % 14 = 0 THEN NULL ELSE (TIME '00:00:00' + i * INTERVAL '13 seconds 7 microseconds')::TIME_NS END AS tmns,
  CASE WHEN i % 15 = 0 THEN NULL ELSE (TIME '01:00:00' + i * INTERVAL '11 seconds')::TIMETZ END AS tmtz,
  CASE WHEN i % 16 = 0 THEN NULL WHEN i = 1 THEN TIMESTAMP '0001-01-01 00:00:00' WHEN i = 2 THEN TIMESTAMP '9999-12-31 23:59:59.999999'
       ELSE TIMESTAMP '2024-02-29 12:34:56.789012' + i * INTERVAL '1 hour 1 second 1 microsecond' END AS ts,
  CASE WHEN i % 17 = 0 THEN NULL ELSE TIMESTAMP '1969-12-31 23:59:00' + i * INTERVAL '1 second' END::TIMESTAMP_S AS ts_s,
  CASE WHEN i % 18 = 0 THEN NULL ELSE TIMESTAMP '1955-05-06 07:08:09.123' + i * INTERVAL '1 day 7 milliseconds' END::TIMESTAMP_MS AS ts_ms,
  CASE WHEN i % 19 = 0 THEN NULL WHEN i = 1 THEN make_timestamp_ns(-9200000000000000000) WHEN i = 2 THEN make_timestamp_ns(9200000000000000000)
       ELSE make_timestamp_ns(978307200000000000 + i::BIGINT * 1000000007 - 3000000000000) END AS ts_ns,
  CASE WHEN i % 20 = 0 THEN NULL ELSE TIMESTAMPTZ '1960-05-06 07:08:09.123456+00' + i * INTERVAL '17 hours 3 microseconds' END AS tstz,
  CASE WHEN i % 21 = 0 THEN NULL WHEN i = 1 THEN '00000000-0000-0000-0000-000000000000'::UUID
       WHEN i = 2 THEN 'ffffffff-ffff-ffff-ffff-ffffffffffff'::UUID ELSE md5(i::VARCHAR)::UUID END AS u,
  CASE WHEN i % 22 = 0 THEN NULL ELSE to_months(i % 30) + to_days(i % 40) + to_milliseconds(i * 12345) END AS iv,
  NULL::INTEGER AS nothing
FROM range(0, ${N}) r(i)`

// The time unit of a TIME/TIMESTAMP column from its parquet_schema row.
function unitOf(s) {
  const m = /(MILLIS|MICROS|NANOS)=[A-Z]/.exec(s.logical_type ?? '')
  if (m) return m[1]
  return { TIMESTAMP_MILLIS: 'MILLIS', TIMESTAMP_MICROS: 'MICROS', TIME_MILLIS: 'MILLIS', TIME_MICROS: 'MICROS' }[s.converted_type] ?? null
}

// DuckDB type (as DuckDB reads the file back) and parquet_schema row -> how tarn describes
// the column. DuckDB reads TIMESTAMP(MILLIS) back as TIMESTAMP: the unit comes from the schema.
function tarnDescOf(t, s) {
  const unit = unitOf(s)
  if (t === 'TIMESTAMP' && unit) return `INT64 TIMESTAMP(${unit},local)`
  const dec = /^DECIMAL\((\d+),(\d+)\)$/.exec(t)
  if (dec) {
    const p = Number(dec[1])
    return `${p <= 9 ? 'INT32' : p <= 18 ? 'INT64' : 'FIXED_LEN_BYTE_ARRAY(16)'} DECIMAL(${dec[1]},${dec[2]})`
  }
  return {
    BOOLEAN: 'BOOLEAN', TINYINT: 'INT32 INTEGER(8,signed)', SMALLINT: 'INT32 INTEGER(16,signed)',
    INTEGER: 'INT32 INTEGER(32,signed)', BIGINT: 'INT64 INTEGER(64,signed)',
    UTINYINT: 'INT32 INTEGER(8,unsigned)', USMALLINT: 'INT32 INTEGER(16,unsigned)',
    UINTEGER: 'INT32 INTEGER(32,unsigned)', UBIGINT: 'INT64 INTEGER(64,unsigned)',
    FLOAT: 'FLOAT', DOUBLE: 'DOUBLE', VARCHAR: 'BYTE_ARRAY STRING', JSON: 'BYTE_ARRAY JSON',
    BLOB: 'BYTE_ARRAY', DATE: 'INT32 DATE', TIME: 'INT64 TIME(MICROS,local)',
    'TIME WITH TIME ZONE': 'INT64 TIME(MICROS,utc)', TIME_NS: 'INT64 TIME(NANOS,local)',
    TIMESTAMP: 'INT64 TIMESTAMP(MICROS,local)', TIMESTAMP_MS: 'INT64 TIMESTAMP(MILLIS,local)',
    TIMESTAMP_NS: 'INT64 TIMESTAMP(NANOS,local)', 'TIMESTAMP WITH TIME ZONE': 'INT64 TIMESTAMP(MICROS,utc)',
    UUID: 'FIXED_LEN_BYTE_ARRAY(16) UUID', INTERVAL: 'FIXED_LEN_BYTE_ARRAY(12)',
  }[t]
}

// `tarn parquet cat --format jsonl` prints int64 as JSON numbers beyond 2^53: this parser
// keeps every number as its text ({num: '...'}).
function parseJsonLine(s) {
  let i = 0
  const ws = () => { while (s[i] === ' ' || s[i] === '\t') i++ }
  function value() {
    ws()
    const ch = s[i]
    if (ch === '{') {
      const o = {}
      i++
      ws()
      if (s[i] === '}') { i++; return o }
      for (;;) {
        ws()
        const k = value()
        ws()
        if (s[i++] !== ':') throw new Error(`expected : at ${i}`)
        o[k] = value()
        ws()
        if (s[i] === ',') { i++; continue }
        if (s[i++] !== '}') throw new Error(`expected } at ${i}`)
        return o
      }
    }
    if (ch === '"') {
      const m = /^"(?:[^"\\]|\\.)*"/.exec(s.slice(i))
      if (!m) throw new Error(`bad string at ${i}`)
      i += m[0].length
      return JSON.parse(m[0])
    }
    const m = /^(?:true|false|null|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)/.exec(s.slice(i, i + 64))
    if (!m) throw new Error(`bad value at ${i}: ${s.slice(i, i + 20)}`)
    i += m[0].length
    if (m[0] === 'true') return true
    if (m[0] === 'false') return false
    if (m[0] === 'null') return null
    return { num: m[0] }
  }
  const v = value()
  ws()
  if (i !== s.length) throw new Error(`trailing text at ${i}`)
  return v
}

// ISO-8601 text tarn prints for TIME/TIMESTAMP -> ticks of `want` fraction digits (tarn
// prints as many digits as the column's unit has: 3, 6 or 9); a message when the shape is
// wrong (digits, the Z of UTC-adjusted timestamps).
function isoTicks(s, unit, want, date, utc) {
  const digits = { MILLIS: 3, MICROS: 6, NANOS: 9 }[unit]
  const re = date ? /^(\d{4,})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d+)(Z?)$/ : /^()()()(\d\d):(\d\d):(\d\d)\.(\d+)(Z?)$/
  const m = re.exec(s)
  if (!m || m[7].length !== digits || (m[8] === 'Z') !== utc) return `bad ${unit} ${date ? 'timestamp' : 'time'}${utc ? ' (utc)' : ''} ${s}`
  const days = date ? BigInt(daysFromCivil(Number(m[1]), Number(m[2]), Number(m[3]))) : 0n
  const secs = days * 86400n + BigInt(Number(m[4]) * 3600 + Number(m[5]) * 60 + Number(m[6]))
  const ticks = secs * 10n ** BigInt(digits) + BigInt(m[7])
  return String(want >= digits ? ticks * 10n ** BigInt(want - digits) : ticks / 10n ** BigInt(digits - want))
}

// A value of tarn's JSON line -> the canonical form duckCanonSql gives for DuckDB type t;
// `unit` is the column's time unit in the file.
function tarnCanon(t, unit, v) {
  if (v === null) return null
  const num = (x) => (typeof x === 'string' ? ({ NaN, Infinity, '-Infinity': -Infinity })[x] : Number(x.num))
  switch (t) {
    case 'BOOLEAN': return typeof v === 'boolean' ? String(v) : `not a boolean: ${JSON.stringify(v)}`
    case 'FLOAT': return Math.fround(num(v))
    case 'DOUBLE': return num(v)
    case 'VARCHAR': return typeof v === 'string' ? hex(Buffer.from(v, 'utf8')) : 'not a string'
    case 'JSON': return v
    case 'BLOB': return hex(Buffer.from(v, 'base64'))
    case 'DATE': {
      const m = /^(\d{4,})-(\d\d)-(\d\d)$/.exec(v)
      return m ? String(daysFromCivil(Number(m[1]), Number(m[2]), Number(m[3]))) : `bad date ${v}`
    }
    case 'TIME': case 'TIME WITH TIME ZONE': return isoTicks(v, unit, 6, false, false)
    case 'TIME_NS': return isoTicks(v, unit, 9, false, false)
    case 'TIMESTAMP': return isoTicks(v, unit, 6, true, false)
    case 'TIMESTAMP WITH TIME ZONE': return isoTicks(v, unit, 6, true, true)
    case 'TIMESTAMP_MS': return isoTicks(v, unit, 3, true, false)
    case 'TIMESTAMP_NS': return isoTicks(v, unit, 9, true, false)
    case 'INTERVAL': {
      const b = Buffer.from(v, 'base64')
      return b.length === 12 ? `${b.readUInt32LE(0)}/${b.readUInt32LE(4)}/${BigInt(b.readUInt32LE(8)) * 1000n}` : `bad interval ${v}`
    }
    case 'UUID': return v
    default:
      if (t.startsWith('DECIMAL')) {
        const scale = Number(/,(\d+)\)$/.exec(t)[1])
        const frac = v.includes('.') ? v.length - v.indexOf('.') - 1 : 0
        return frac === scale ? v : `${v} (${frac} decimals)`
      }
      return typeof v === 'object' ? v.num : `not a number: ${JSON.stringify(v)}`
  }
}

// Writer settings: DuckDB's default (data page v1, dictionaries) and its V2 writer (data
// page v2, DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY, BYTE_STREAM_SPLIT), each codec.
const DUCK_FILES = []
for (const codec of ['uncompressed', 'snappy', 'gzip', 'zstd', 'lz4_raw']) {
  DUCK_FILES.push({ name: `duck_${codec}_v1`, opts: `COMPRESSION ${codec}, ROW_GROUP_SIZE 2048` })
  DUCK_FILES.push({ name: `duck_${codec}_v2`, opts: `COMPRESSION ${codec}, ROW_GROUP_SIZE 2048, PARQUET_VERSION V2, FIELD_IDS 'auto'` })
}
DUCK_FILES.push({ name: 'duck_nodict', opts: 'COMPRESSION zstd, DICTIONARY_SIZE_LIMIT 1, ROW_GROUP_SIZE 100000' })
DUCK_FILES.push({ name: 'duck_zero_rows', opts: 'COMPRESSION snappy', where: 'id < 0' })
DUCK_FILES.push({ name: 'duck_one_row', opts: 'COMPRESSION snappy, PARQUET_VERSION V2', where: 'id = 3' })

async function duckdbWrite(dir) {
  const { DuckDBInstance } = await load('@duckdb/node-api/lib/index.js')
  const db = await DuckDBInstance.create(':memory:', { threads: '1' })
  const con = await db.connect()
  await con.run(`CREATE TABLE src AS ${TABLE}`)
  for (const d of DUCK_FILES) {
    await con.run(`COPY (SELECT * FROM src ${d.where ? `WHERE ${d.where}` : ''} ORDER BY id) TO '${dir}/${d.name}.parquet' (FORMAT parquet, ${d.opts})`)
  }
  console.log(DUCK_FILES.map((d) => d.name).join('\n'))
}

async function tarnRead(dir) {
  const { DuckDBInstance } = await load('@duckdb/node-api/lib/index.js')
  const db = await DuckDBInstance.create(':memory:', { threads: '1' })
  const con = await db.connect()
  const q = async (sql) => (await con.runAndReadAll(sql)).getRowObjectsJS()
  for (const d of DUCK_FILES) {
    if (!wanted(d.name)) continue
    await guarded(`tarn reads DuckDB's ${d.name}.parquet`, async () => {
      const file = `${dir}/${d.name}.parquet`
      const fx = new Findings()
      const desc = await q(`DESCRIBE SELECT * FROM read_parquet('${file}')`)
      const types = desc.map((r) => r.column_type)
      // schema as tarn reads it vs parquet_schema
      const tsch = JSON.parse(readFileSync(`${dir}/${d.name}.schema.json`, 'utf8'))
      const dsch = (await q(`SELECT * FROM parquet_schema('${file}')`)).slice(1)
      const units = dsch.map(unitOf)
      fx.eq('columns', tsch.map((c) => c.name).join(','), desc.map((r) => r.column_name).join(','))
      tsch.forEach((c, i) => {
        const s = dsch[i]
        fx.eq(`${c.name} type`, c.type, s.type)
        fx.eq(`${c.name} description`, c.description, tarnDescOf(types[i], s))
        fx.eq(`${c.name} optional`, c.optional, s.repetition_type === 'OPTIONAL')
        fx.eq(`${c.name} field id`, c.field_id, s.field_id === null ? null : Number(s.field_id)) // absent: null (0 is an id)
      })
      // rows: DuckDB's own read, canonicalised in SQL; tarn's JSON lines canonicalised here
      const sel = desc.map((r, i) => `${duckCanonSql(`"${r.column_name}"`, types[i])} AS "${r.column_name}"`)
      const want = (await con.runAndReadAll(`SELECT ${sel.join(', ')} FROM read_parquet('${file}')`)).getColumnsJS()
      const lines = readFileSync(`${dir}/${d.name}.tarn.jsonl`, 'utf8').split('\n')
      if (lines[lines.length - 1] === '') lines.pop()
      const nrows = want.length ? want[0].length : 0
      fx.eq('rows', lines.length, nrows)
      const bad = new Map()
      lines.forEach((line, r) => {
        let row
        try {
          row = parseJsonLine(line)
        } catch (e) {
          fx.fail(`row ${r}: ${e.message}`)
          return
        }
        fx.eq(`row ${r} keys`, Object.keys(row).join(','), desc.map((x) => x.column_name).join(','))
        desc.forEach(({ column_name: name }, i) => {
          const g = tarnCanon(types[i], units[i], row[name] ?? null)
          const w = want[i][r]
          fx.n++
          if (!same(g, w) && (bad.get(name) ?? 0) < 2) {
            bad.set(name, (bad.get(name) ?? 0) + 1)
            fx.fail(`${name} (${types[i]}) row ${r}: tarn printed ${show(JSON.stringify(row[name]))} -> ${show(g)}, DuckDB ${show(w)}`)
          }
        })
      })
      const rgs = (await q(`SELECT count(DISTINCT row_group_id) AS n FROM parquet_metadata('${file}')`))[0].n
      fx.report(`tarn reads DuckDB's ${d.name}.parquet (${nrows} rows, ${rgs} row groups, ${d.opts})`)
    })
  }
}

const [mode, dir, ...only] = process.argv.slice(2)
const wanted = (name) => only.length === 0 || only.includes(name)
// Runs fn for one file; an exception fails that file instead of ending the run.
async function guarded(desc, fn) {
  try {
    await fn()
  } catch (e) {
    check(desc, false, e.stack.split('\n').slice(0, 3).join(' | '))
  }
}
const modes = { 'duckdb-read': duckdbRead, 'hyparquet-read': hyparquetRead, 'duckdb-write': duckdbWrite, 'tarn-read': tarnRead }
if (!modes[mode] || !dir) {
  console.error('usage: node parquet_interop.mjs duckdb-read|hyparquet-read|duckdb-write|tarn-read DIR')
  process.exit(2)
}
await modes[mode](dir)
if (mode !== 'duckdb-write') console.log(`${passed} passed, ${failed} failed`)
process.exit(failed ? 1 : 0)
