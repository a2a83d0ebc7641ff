#!/usr/bin/env node
// Offline validation of rendered Kubernetes manifests.
//
//   node validate.js [--policy=none|base|prod] FILE...   (FILE "-" reads standard input)
//
// Every YAML document in the files must be a Kubernetes object that
//   1. names an API group/version/kind this validator knows and Kubernetes still serves;
//   2. passes the OpenAPI schema of that kind as compiled by the npm package
//      kubernetes-models (types, formats, required fields);
//   3. has no field the schema does not define (kubernetes-models alone accepts unknown
//      fields, so a misspelt `periodSecondz` would otherwise slip through; see strict.js);
//   4. with --policy, follows the platform's deployment rules (policy.js).
// Prints one line per problem and exits 1 when there is any, 0 otherwise.
'use strict';

const fs = require('fs');
const YAML = require('yaml');
const { schemaRegistry } = require('./registry');
const { unknownFields } = require('./strict');
const { policyProblems } = require('./policy');

// API versions that kubernetes-models still models but that current Kubernetes releases
// (1.25 and later) no longer serve: an object using one would be refused by the cluster.
const REMOVED_API_VERSIONS = new Set([
  'apps/v1beta1', 'apps/v1beta2', 'extensions/v1beta1', 'policy/v1beta1',
  'autoscaling/v2beta1', 'autoscaling/v2beta2', 'networking.k8s.io/v1beta1',
  'batch/v1beta1', 'rbac.authorization.k8s.io/v1beta1', 'storage.k8s.io/v1beta1',
  'discovery.k8s.io/v1beta1', 'events.k8s.io/v1beta1', 'scheduling.k8s.io/v1beta1',
  'node.k8s.io/v1beta1', 'admissionregistration.k8s.io/v1beta1',
  'apiextensions.k8s.io/v1beta1', 'apiregistration.k8s.io/v1beta1',
  'certificates.k8s.io/v1beta1', 'coordination.k8s.io/v1beta1',
]);

function describe(obj, index) {
  const kind = obj && typeof obj === 'object' && obj.kind ? obj.kind : '?';
  const name = obj && obj.metadata && obj.metadata.name ? obj.metadata.name : `#${index}`;
  return `${kind}/${name}`;
}

function readDocuments(file) {
  const text = fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  const problems = [];
  const objects = [];
  YAML.parseAllDocuments(text).forEach((doc, i) => {
    for (const e of doc.errors) problems.push(`${file}: document ${i + 1}: YAML: ${e.message}`);
    if (doc.errors.length) return;
    const obj = doc.toJS();
    if (obj !== null && obj !== undefined) objects.push(obj);
  });
  return { objects, problems };
}

function schemaProblems(obj, registry) {
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return ['not a YAML mapping'];
  if (typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string') {
    return ['apiVersion and kind must be strings'];
  }
  if (REMOVED_API_VERSIONS.has(obj.apiVersion)) {
    return [`${obj.apiVersion} is no longer served by Kubernetes; use the stable version`];
  }
  const entry = registry.get(`${obj.apiVersion}/${obj.kind}`);
  if (!entry) return [`unknown kind ${obj.kind} in ${obj.apiVersion}`];
  if (!obj.metadata || typeof obj.metadata.name !== 'string' || obj.metadata.name === '') {
    return ['metadata.name is required'];
  }
  const problems = [];
  try {
    // The model's validate() runs the compiled schema and words its errors in English.
    new entry.model(obj).validate();
  } catch (err) {
    for (const e of err.errors || [{ instancePath: '', message: err.message }]) {
      const where = e.instancePath ? e.instancePath.replace(/^\//, '').replace(/\//g, '.') : '(root)';
      problems.push(`schema: ${where}: ${e.message || e.keyword}`);
    }
  }
  for (const path of unknownFields(obj, entry.validate)) problems.push(`unknown field ${path}`);
  return problems;
}

function main(argv) {
  let policy = 'none';
  const files = [];
  for (const arg of argv) {
    const m = /^--policy=(none|base|prod)$/.exec(arg);
    if (m) policy = m[1];
    else if (arg.startsWith('--')) {
      console.error(`validate.js: unknown option ${arg}`);
      return 2;
    } else files.push(arg);
  }
  if (files.length === 0) {
    console.error('usage: validate.js [--policy=none|base|prod] FILE...');
    return 2;
  }

  const registry = schemaRegistry();
  const problems = [];
  const all = [];
  for (const file of files) {
    const { objects, problems: parseProblems } = readDocuments(file);
    problems.push(...parseProblems);
    objects.forEach((obj, i) => {
      for (const p of schemaProblems(obj, registry)) problems.push(`${file}: ${describe(obj, i + 1)}: ${p}`);
      all.push(obj);
    });
  }
  if (all.length === 0 && problems.length === 0) problems.push('no Kubernetes objects found');
  if (policy !== 'none') {
    for (const p of policyProblems(all, { prod: policy === 'prod' })) problems.push(`policy: ${p}`);
  }

  for (const p of problems) console.log(p);
  console.log(`${all.length} objects checked, ${problems.length} problems`);
  return problems.length === 0 ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
