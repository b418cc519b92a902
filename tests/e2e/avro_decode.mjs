// avro_decode.mjs - decodes an Avro container file with avsc, longs as BigInt, for the
// interop tests. avsc reads longs as JS numbers and refuses unsafe ones (Iceberg snapshot
// ids are 63-bit), so a long type reading BigInt is registered.
// Usage: import { avro, BigLong, decodeAvroFile } from './avro_decode.mjs'
//        const { records, meta, schema } = await decodeAvroFile(path)
import { once } from 'node:events'
import { createRequire } from 'node:module'
import path from 'node:path'

const nm = process.env.E2E_NODE_MODULES || new URL('../node_modules', import.meta.url).pathname
const require = createRequire(import.meta.url)
export const avro = require(path.join(nm, 'avsc'))

export const BigLong = avro.types.LongType.__with({
  fromBuffer: buf => buf.readBigInt64LE(),
  toBuffer: n => {
    const b = Buffer.alloc(8)
    b.writeBigInt64LE(BigInt(n))
    return b
  },
  fromJSON: BigInt,
  toJSON: Number,
  isValid: n => typeof n === 'bigint',
  compare: (a, b) => (a < b ? -1 : a > b ? 1 : 0),
})

// Every record, the header metadata as strings, and the writer's schema.
export async function decodeAvroFile(file) {
  const records = []
  let header
  const dec = avro.createFileDecoder(file, {
    parseHook: schema => avro.Type.forSchema(schema, { registry: { long: BigLong }, wrapUnions: false }),
  })
  dec.on('metadata', (type, codec, h) => { header = h })
  dec.on('data', r => records.push(r))
  await once(dec, 'end')
  const meta = {}
  for (const [k, v] of Object.entries(header.meta)) meta[k] = v.toString('utf8')
  return { records, meta, schema: JSON.parse(meta['avro.schema']) }
}
