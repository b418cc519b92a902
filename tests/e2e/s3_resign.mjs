// s3_resign.mjs - re-signs requests tarn's S3 backend sent (captured by
// tests/unit/test_store_s3 with S3_SIGN_DUMP=FILE) with the reference SigV4 signer
// @smithy/signature-v4 (pinned in tests/package.json) and compares the signatures.
//
//   node tests/e2e/s3_resign.mjs FILE
//
// Each line of FILE is one request: method, path and query exactly as sent, the signed
// headers with their values, x-amz-date, the credentials of the test, and the signature
// tarn sent. Prints "N signatures match @smithy/signature-v4, M differ"; exits 1 if any
// differs or FILE holds no request.
import { readFileSync } from "node:fs";
import { SignatureV4 } from "@smithy/signature-v4";
import { Hash } from "@smithy/hash-node";

const file = process.argv[2];
if (!file) {
  console.error("usage: node s3_resign.mjs FILE");
  process.exit(2);
}

// "20261121T153937Z" -> Date
function parseAmzDate(s) {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) throw new Error(`bad x-amz-date ${s}`);
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
}

// The query as sent, decoded into the map smithy expects (it encodes names and values
// itself, so a query we sent in a non-canonical form would sign differently).
function parseQuery(q) {
  const out = {};
  if (!q) return out;
  for (const part of q.split("&")) {
    const i = part.indexOf("=");
    const k = decodeURIComponent(i < 0 ? part : part.slice(0, i));
    const v = i < 0 ? "" : decodeURIComponent(part.slice(i + 1));
    if (k in out) throw new Error(`repeated query parameter ${k}`);
    out[k] = v;
  }
  return out;
}

function field(auth, name) {
  const m = new RegExp(`${name}=([^,\\s]+)`).exec(auth);
  return m ? m[1] : "";
}

let match = 0;
let differ = 0;
const lines = readFileSync(file, "utf8").split("\n").filter(Boolean);
for (const line of lines) {
  const r = JSON.parse(line);
  const headers = { ...r.headers };
  const [hostname, port] = headers.host.split(":");
  const signer = new SignatureV4({
    credentials: {
      accessKeyId: r.access_key,
      secretAccessKey: r.secret,
      ...(r.token ? { sessionToken: r.token } : {}),
    },
    region: r.region,
    service: "s3",
    sha256: Hash.bind(null, "sha256"),
    uriEscapePath: false, // S3 paths are encoded once, by the client
    applyChecksum: false, // the payload hash is the x-amz-content-sha256 we sent
  });
  const request = {
    method: r.method,
    protocol: "http:",
    hostname,
    port: port ? Number(port) : undefined,
    path: r.path,
    query: parseQuery(r.query),
    headers,
  };
  const signed = await signer.sign(request, {
    signingDate: parseAmzDate(r.amz_date),
    signableHeaders: new Set(Object.keys(headers)),
  });
  const auth = signed.headers.authorization ?? signed.headers.Authorization;
  const sig = field(auth, "Signature");
  const sh = field(auth, "SignedHeaders");
  const ours = Object.keys(r.headers).sort().join(";");
  if (sig === r.signature && sh === ours) {
    match++;
  } else {
    differ++;
    console.error(`DIFFER ${r.method} ${r.path}?${r.query}: tarn ${r.signature} [${ours}] ` +
                  `smithy ${sig} [${sh}]`);
  }
}
console.log(`${match} signatures match @smithy/signature-v4, ${differ} differ`);
process.exit(differ === 0 && match > 0 ? 0 : 1);
