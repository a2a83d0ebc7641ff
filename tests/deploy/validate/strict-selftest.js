#!/usr/bin/env node
// Proves the unknown-field check has no blind spot in our own manifests: for every field
// of every mapping in the given rendered objects, renames that one field (adds a suffix)
// and requires the check to report exactly that field. Free-form maps (labels, ConfigMap
// data, resource quantities, selectors) accept any key and are skipped.
//   node strict-selftest.js FILE...
'use strict';

const fs = require('fs');
const YAML = require('yaml');
const { schemaRegistry } = require('./registry');
const { unknownFields } = require('./strict');

const FREE_FORM = /(^|\.)(labels|annotations|data|binaryData|stringData|matchLabels|limits|requests|nodeSelector|spec\.selector)$/;

function mappings(value, path, out) {
  if (value === null || typeof value !== 'object') return out;
  if (Array.isArray(value)) {
    value.forEach((v, i) => mappings(v, `${path}[${i}]`, out));
    return out;
  }
  if (!FREE_FORM.test(path)) out.push({ mapping: value, path });
  for (const key of Object.keys(value)) {
    const child = /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? key : JSON.stringify(key);
    mappings(value[key], path ? `${path}.${child}` : child, out);
  }
  return out;
}

const registry = schemaRegistry();
let tried = 0;
const missed = [];
for (const file of process.argv.slice(2)) {
  const objects = YAML.parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => d.toJS()).filter(Boolean);
  for (const obj of objects) {
    const entry = registry.get(`${obj.apiVersion}/${obj.kind}`);
    if (!entry) {
      missed.push(`${file}: ${obj.kind}: no schema`);
      continue;
    }
    const clean = unknownFields(obj, entry.validate);
    if (clean.length) missed.push(`${obj.kind}/${obj.metadata.name}: unexpected unknown fields ${clean.join(', ')}`);
    for (const { mapping, path } of mappings(obj, '', [])) {
      for (const key of Object.keys(mapping)) {
        const value = mapping[key];
        const typo = `${key}Zz`;
        delete mapping[key];
        mapping[typo] = value;
        const reported = unknownFields(obj, entry.validate);
        const want = path ? `${path}.${typo}` : typo;
        if (reported.length !== 1 || reported[0] !== want) {
          missed.push(`${obj.kind}/${obj.metadata.name}: renaming ${want} reported [${reported.join(', ')}]`);
        }
        delete mapping[typo];
        mapping[key] = value;
        tried++;
      }
    }
  }
}
for (const m of missed) console.log(m);
console.log(`${tried} misspelt fields tried, ${missed.length} not caught exactly`);
process.exitCode = tried > 0 && missed.length === 0 ? 0 : 1;
