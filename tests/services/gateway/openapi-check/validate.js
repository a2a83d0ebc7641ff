// Usage: node validate.js openapi.json — exits 0 when the file is a valid OpenAPI document
// (schema-valid, every $ref resolvable, path parameters declared).
const SwaggerParser = require('@apidevtools/swagger-parser');

SwaggerParser.validate(process.argv[2])
  .then((api) => {
    console.log(`valid OpenAPI ${api.openapi}: ${Object.keys(api.paths).length} paths`);
  })
  .catch((err) => {
    console.error(`invalid: ${err.message}`);
    process.exit(1);
  });
