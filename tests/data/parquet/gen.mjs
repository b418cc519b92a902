// gen.mjs - regenerates the Parquet reader fixtures with DuckDB and records what DuckDB
// reads back from each file (NAME.expected.json) so tarn's reader can be checked exactly.
// Run from the repo: node tests/data/parquet/gen.mjs
import { DuckDBInstance } from '../../node_modules/@duckdb/node-api/lib/index.js';
import { writeFileSync } from 'node:fs';
import { parquetWriteFile } from '../../node_modules/hyparquet-writer/src/node.js';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = dirname(fileURLToPath(import.meta.url));
const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
const q = (sql) => con.runAndReadAll(sql);

// Every type tarn reads, with nulls (every 7th row), edge values, long and empty strings.
await q(`CREATE VIEW t AS SELECT
  i::BIGINT AS id,  -- DuckDB writes every column OPTIONAL
  CASE WHEN i % 7 = 3 THEN NULL ELSE i % 3 = 0 END AS b,
  CASE WHEN i % 7 = 4 THEN NULL ELSE ((i * 37) % 256 - 128)::TINYINT END AS i8,
  CASE WHEN i % 11 = 0 THEN NULL ELSE ((i * 7919) % 65536 - 32768)::SMALLINT END AS i16,
  CASE WHEN i = 1 THEN -2147483648 WHEN i = 2 THEN 2147483647 WHEN i % 13 = 5 THEN NULL
       ELSE (i * 104729 - 5000000)::INTEGER END AS i32,
  CASE WHEN i = 1 THEN -9223372036854775808 WHEN i = 2 THEN 9223372036854775807
       ELSE (i::BIGINT * 1000000007 - 77777777777) END AS i64,
  ((i * 13) % 256)::UTINYINT AS u8,
  ((i * 1013) % 65536)::USMALLINT AS u16,
  CASE WHEN i = 2 THEN 4294967295 ELSE (i * 2654435761 % 4294967296) END::UINTEGER AS u32,
  CASE WHEN i = 2 THEN 18446744073709551615::UBIGINT ELSE ((i::UHUGEINT * 11400714819323198485) % 18446744073709551616)::UBIGINT END AS u64,
  CASE WHEN i = 4 THEN 'nan'::FLOAT WHEN i = 5 THEN 'inf'::FLOAT WHEN i = 6 THEN '-inf'::FLOAT
       WHEN i % 7 = 1 THEN NULL ELSE (i / 7.0 - 100)::FLOAT END AS f,
  CASE WHEN i = 4 THEN 'nan'::DOUBLE WHEN i = 5 THEN 'inf'::DOUBLE WHEN i = 6 THEN '-inf'::DOUBLE
       WHEN i = 8 THEN -0.0::DOUBLE WHEN i % 9 = 2 THEN NULL ELSE (i * 1.0e-3 - 1.5e10)::DOUBLE END AS d,
  CASE WHEN i % 5 = 0 THEN NULL ELSE ((i % 19999) - 9999) / 100 END::DECIMAL(4,2) AS dec4,
  CASE WHEN i % 6 = 0 THEN NULL ELSE (i::BIGINT * 123456789 - 99999999999) / 1000 END::DECIMAL(18,3) AS dec18,
  CASE WHEN i % 8 = 0 THEN NULL WHEN i = 1 THEN '-9999999999999999999999999999.9999999999'::DECIMAL(38,10)
       WHEN i = 2 THEN '9999999999999999999999999999.9999999999'::DECIMAL(38,10)
       ELSE i * 12345678901.2345678901::DECIMAL(38,10) - 0.5 END::DECIMAL(38,10) AS dec38,
  CASE WHEN i % 10 = 0 THEN NULL WHEN i % 10 = 1 THEN '' WHEN i % 50 = 2 THEN repeat('long-' || i::VARCHAR, 40)
       WHEN i % 10 = 3 THEN 'ünïcødé ' || i::VARCHAR ELSE 'value ' || (i % 97)::VARCHAR END AS s,
  CASE WHEN i % 4 = 0 THEN 'red' WHEN i % 4 = 1 THEN 'green' WHEN i % 4 = 2 THEN NULL ELSE 'blue' END AS cat,
  CASE WHEN i % 9 = 0 THEN NULL WHEN i % 9 = 1 THEN ''::BLOB ELSE ('\\x00\\xFF' || (i % 300)::VARCHAR)::BLOB END AS bl,
  CASE WHEN i % 12 = 0 THEN NULL ELSE DATE '1970-01-01' + (i * 37 - 40000)::INTEGER END AS dt,
  CASE WHEN i % 14 = 0 THEN NULL ELSE TIMESTAMP '2024-02-29 12:34:56.789012' + i * INTERVAL '1 hour 1 second 1 microsecond' END AS ts,
  CASE WHEN i % 15 = 0 THEN NULL ELSE TIMESTAMPTZ '1960-05-06 07:08:09.123456+00' + i * INTERVAL '17 hours 3 microseconds' END AS tstz,
  CASE WHEN i % 16 = 0 THEN NULL ELSE make_timestamp_ns(978307200000000000 + i::BIGINT * 1000000007) END AS tsns,
  CASE WHEN i % 17 = 0 THEN NULL ELSE TIME '00:00:00' + i * INTERVAL '37 seconds 123 microseconds' END AS tm,
  CASE WHEN i % 18 = 0 THEN NULL ELSE md5(i::VARCHAR)::UUID END AS u,
  CASE WHEN i % 19 = 0 THEN NULL ELSE json_object('k', i, 's', 'x' || i::VARCHAR) END AS j,
  CASE WHEN i % 20 = 0 THEN NULL ELSE (['lo', 'mid', 'hi'])[i % 3 + 1]::ENUM('lo', 'mid', 'hi') END AS e
FROM range(0, 3000) r(i)`);

const cols = (await q(`SELECT column_name, column_type FROM (DESCRIBE t)`)).getRowsJS();

// What tarn's test compares: canonical text per value (or a number for floats).
function canon(name, type) {
  const c = `"${name}"`;
  if (type === 'FLOAT' || type === 'DOUBLE')
    return `CASE WHEN isnan(${c}) THEN 'NaN' WHEN isinf(${c}) AND ${c} > 0 THEN 'Infinity'
            WHEN isinf(${c}) THEN '-Infinity' ELSE NULL END AS "${name}__special", ${c}::DOUBLE AS "${name}"`;
  if (type === 'BOOLEAN') return `${c}::VARCHAR AS "${name}"`;
  if (type.startsWith('DECIMAL')) return `${c}::VARCHAR AS "${name}__dec"`;
  if (type === 'DATE') return `(${c} - DATE '1970-01-01')::VARCHAR AS "${name}"`;
  if (type.startsWith('TIMESTAMP')) return `epoch_ns(${c})::VARCHAR AS "${name}"`;
  if (type === 'TIME') return `(epoch(${c}) * 1000000)::BIGINT::VARCHAR AS "${name}"`;
  if (type === 'BLOB') return `hex(${c}) AS "${name}"`;
  return `${c}::VARCHAR AS "${name}"`;
}

const manifest = [];
const done = new Set();
async function emit(file, selectCols, copyOpts, expectedName = file) {
  const path = `${dir}/${file}.parquet`;
  await q(`COPY (SELECT ${selectCols.join(', ')} FROM t WHERE id < ${copyOpts.rows ?? 3000})
           TO '${path}' (FORMAT parquet${copyOpts.opts ? ', ' + copyOpts.opts : ''})`);
  const back = (await q(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('${path}'))`)).getRowsJS();
  const exprs = back.map(([n, ty]) => canon(n, ty));
  const rows = (await q(`SELECT ${exprs.join(', ')} FROM read_parquet('${path}')`)).getRowObjectsJS();
  const out = {
    columns: back.map(([n, ty]) => ({ name: n, duckdb_type: ty })),
    rows: rows.map((r) => back.map(([n]) => {
      const sp = r[`${n}__special`];
      if (sp !== undefined && sp !== null) return sp;
      const dec = r[`${n}__dec`];
      if (dec !== undefined) return dec === null ? null : BigInt(dec.replace('.', '')).toString();
      const v = r[n];
      return v === undefined ? null : v;
    })),
  };
  manifest.push({ file: `${file}.parquet`, expected: `${expectedName}.expected.json` });
  if (done.has(expectedName)) return;
  done.add(expectedName);
  writeFileSync(`${dir}/${expectedName}.expected.json`, JSON.stringify(out) + '\n');
}

const all = cols.map(([n]) => `"${n}"`);
const small = ['id', 'i32', 'd', 's', 'cat', 'dec18', 'ts'];
await emit('all_snappy_v1', all, { opts: `ROW_GROUP_SIZE 1024, COMPRESSION snappy` }, 'all');
await emit('all_zstd_v2', all, { opts: `ROW_GROUP_SIZE 1024, COMPRESSION zstd, PARQUET_VERSION V2` }, 'all');
for (const codec of ['uncompressed', 'gzip', 'lz4_raw']) {
  await emit(`small_${codec}`, small, { rows: 1500, opts: `COMPRESSION ${codec}` }, 'small');
  await emit(`small_${codec}_v2`, small, { rows: 1500, opts: `COMPRESSION ${codec}, PARQUET_VERSION V2` }, 'small');
}
await emit('nodict_v1', small, { rows: 3000, opts: `COMPRESSION zstd, DICTIONARY_SIZE_LIMIT 1` });
await emit('nodict_v2', ['id', 'i32', 'i64', 'f', 'd', 's', 'u', 'dec38'], { rows: 3000, opts: `COMPRESSION snappy, PARQUET_VERSION V2, DICTIONARY_SIZE_LIMIT 1` });
// A second, independent writer: hyparquet-writer writes REQUIRED columns, data page v2
// and RLE-encoded booleans. DuckDB again says what the file holds.
{
  const n = 700;
  const ids = Int32Array.from({ length: n }, (_, i) => i * 3 - 1000);
  parquetWriteFile({
    filename: `${dir}/hyparquet_required.parquet`,
    columnData: [
      { name: 'id', data: ids, type: 'INT32', nullable: false },
      { name: 'flag', data: Array.from({ length: n }, (_, i) => i % 3 === 0), type: 'BOOLEAN', nullable: false },
      { name: 'name', data: Array.from({ length: n }, (_, i) => `n${i % 37}`), type: 'STRING', nullable: false },
      { name: 'opt', data: Array.from({ length: n }, (_, i) => (i % 4 ? `o${i}` : null)), type: 'STRING' },
      { name: 'x', data: Float64Array.from({ length: n }, (_, i) => i / 8 - 20), type: 'DOUBLE', nullable: false },
      { name: 'big', data: BigInt64Array.from({ length: n }, (_, i) => BigInt(i) * 123456789012n - 5n), type: 'INT64', nullable: false },
    ],
    rowGroupSize: 300,
  });
  const path = `${dir}/hyparquet_required.parquet`;
  const back = (await q(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('${path}'))`)).getRowsJS();
  const rows = (await q(`SELECT ${back.map(([c, ty]) => canon(c, ty)).join(', ')} FROM read_parquet('${path}')`)).getRowObjectsJS();
  manifest.push({ file: 'hyparquet_required.parquet', expected: 'hyparquet_required.expected.json' });
  writeFileSync(`${dir}/hyparquet_required.expected.json`, JSON.stringify({
    columns: back.map(([c, ty]) => ({ name: c, duckdb_type: ty })),
    rows: rows.map((r) => back.map(([c]) => {
      const sp = r[`${c}__special`];
      return sp !== undefined && sp !== null ? sp : r[c] ?? null;
    })),
  }) + '\n');
}
writeFileSync(`${dir}/manifest.json`, JSON.stringify(manifest, null, 1) + '\n');
console.log('ok');
