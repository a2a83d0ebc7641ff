'use strict';
// Unknown-field check on top of the kubernetes-models schemas.
//
// The compiled schema validators accept properties their schema does not define (the
// Kubernetes OpenAPI document does not say additionalProperties: false), so a typo such
// as `periodSecondz` validates. The API server would drop or reject such a field, and the
// setting silently would not apply. Instead of re-deriving the schemas, this runs the
// same compiled validator over a proxy of the object and records, for every mapping,
// which keys the validator looked up: a validator reads each property its schema
// defines (present or not), and enumerates the keys only of free-form maps (labels,
// ConfigMap data, resource quantities, ...). A key of a mapping that the validator read
// from but never enumerated and never looked up is a field the schema does not define.

function unknownFields(object, validate) {
  const seen = new Map(); // target object -> { path, looked: Set<string>, enumerated }

  const record = (target, path) => {
    let r = seen.get(target);
    if (!r) {
      r = { path, looked: new Set(), enumerated: false };
      seen.set(target, r);
    }
    return r;
  };

  const wrap = (value, path) => {
    if (value === null || typeof value !== 'object') return value;
    const r = record(value, path);
    return new Proxy(value, {
      get(target, key, receiver) {
        const child = Reflect.get(target, key, receiver);
        if (typeof key !== 'string') return child;
        r.looked.add(key);
        if (!Object.prototype.hasOwnProperty.call(target, key)) return child;
        const childPath = Array.isArray(target) ? `${r.path}[${key}]` : join(r.path, key);
        return wrap(child, childPath);
      },
      has(target, key) {
        if (typeof key === 'string') r.looked.add(key);
        return Reflect.has(target, key);
      },
      ownKeys(target) {
        r.enumerated = true;
        return Reflect.ownKeys(target);
      },
    });
  };

  validate(wrap(object, ''));

  const unknown = [];
  const walk = (value) => {
    if (value === null || typeof value !== 'object') return;
    const r = seen.get(value);
    if (!r) return; // the schema does not describe this value's contents
    if (Array.isArray(value)) {
      value.forEach(walk);
      return;
    }
    for (const key of Object.keys(value)) {
      if (!r.enumerated && !r.looked.has(key)) unknown.push(join(r.path, key));
      walk(value[key]);
    }
  };
  walk(object);
  return unknown;
}

function join(path, key) {
  const part = /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? key : JSON.stringify(key);
  return path === '' ? part : `${path}.${part}`;
}

module.exports = { unknownFields };
