#!/usr/bin/env node
// Independent check of the Punctual signing vectors with Node's own crypto module.
// Usage: node verify_vectors.js path/to/signing-vectors.json
// Prints one JSON line per vector: {"name", "signature", "accepted", "accepted_seed_style"}.
//   signature           hex HMAC-SHA256 computed here (key: the secret string, which Node
//                       encodes as UTF-8, exactly as the product page's example passes it)
//   accepted            constant-time check: same byte length, then crypto.timingSafeEqual
//   accepted_seed_style the product page's own check: signature === expectedSignature
'use strict';
const crypto = require('crypto');
const fs = require('fs');

function decodeBody(v) {
  if (v.body_hex !== undefined) return Buffer.from(v.body_hex, 'hex');
  const unit = Buffer.from(v.body_repeat.unit_hex, 'hex');
  return Buffer.concat(Array(v.body_repeat.times).fill(unit));
}

function decodeHeader(v) {
  if (v.header_repeat !== undefined) return v.header_repeat.unit.repeat(v.header_repeat.times);
  return v.header; // a string, or null for a missing header
}

function accepts(header, expected) {
  if (typeof header !== 'string') return false;
  const given = Buffer.from(header, 'utf8');
  const wanted = Buffer.from(expected, 'utf8');
  // timingSafeEqual throws on different lengths, so compare lengths first.
  return given.length === wanted.length && crypto.timingSafeEqual(given, wanted);
}

const doc = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
for (const v of doc.vectors) {
  const body = decodeBody(v);
  const header = decodeHeader(v);
  const expected = crypto.createHmac('sha256', v.secret).update(body).digest('hex');
  process.stdout.write(JSON.stringify({
    name: v.name,
    signature: expected,
    body_length: body.length,
    accepted: accepts(header, expected),
    accepted_seed_style: header === expected,
  }) + '\n');
}
