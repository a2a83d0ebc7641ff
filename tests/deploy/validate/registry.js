'use strict';
// Maps "apiVersion/kind" to the schema validator that the npm package kubernetes-models
// compiled from the Kubernetes OpenAPI document (with ajv), for every kind it models.

const path = require('path');
const models = require('kubernetes-models');

// The package's "exports" map hides _schemas/, so load them by file path.
const schemaDir = path.join(path.dirname(require.resolve('kubernetes-models')), '_schemas');

function schemaRegistry() {
  const registry = new Map();
  const visit = (namespace, depth) => {
    if (!namespace || typeof namespace !== 'object' || depth > 3) return;
    for (const name of Object.keys(namespace)) {
      const value = namespace[name];
      if (typeof value === 'function' && value.apiVersion && value.kind) {
        // Each model class is also exported under its OpenAPI definition name
        // (IoK8sApiAppsV1Deployment), which is the name of its compiled schema module.
        const definition = Object.keys(namespace).find(
          (other) => other.startsWith('IoK8s') && namespace[other] === value);
        if (!definition) continue;
        const key = `${value.apiVersion}/${value.kind}`;
        if (registry.has(key)) continue;
        const { validate } = require(path.join(schemaDir, `${definition}.js`));
        registry.set(key, { model: value, validate });
      } else if (value && typeof value === 'object') {
        visit(value, depth + 1);
      }
    }
  };
  visit(models, 0);
  return registry;
}

module.exports = { schemaRegistry };
