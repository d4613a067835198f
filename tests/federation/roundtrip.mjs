// Round-trips schemas through graphql-js introspection, as introspecting tools see them:
// buildClientSchema(introspectionFromSchema(schema)) must print as the schema itself.
// stdin: [{"name", "sdl", "subgraph": bool}, ...]; a subgraph's SDL is read as Apollo's
// libraries read it (the federation directives it imports defined). stdout: one report each.
import { buildSubgraph } from "@apollo/federation-internals";
import {
  buildClientSchema,
  buildSchema,
  introspectionFromSchema,
  printSchema,
  validateSchema,
} from "graphql";
import { readFileSync } from "node:fs";

const everything = {
  descriptions: true,
  specifiedByUrl: true,
  directiveIsRepeatable: true,
  schemaDescription: true,
  inputValueDeprecation: true,
  oneOf: true,
};

function report({ name, sdl, subgraph }) {
  try {
    const schema = subgraph
      ? buildSubgraph(name, "http://subgraph/graphql", sdl).schema.toGraphQLJSSchema()
      : buildSchema(sdl);
    const errors = validateSchema(schema).map((error) => error.message);
    const client = buildClientSchema(introspectionFromSchema(schema, everything));
    const original = printSchema(schema);
    const roundTripped = printSchema(client);
    return {
      name,
      errors: [...errors, ...validateSchema(client).map((error) => error.message)],
      identical: original === roundTripped,
      types: Object.keys(client.getTypeMap()).length,
      directives: client.getDirectives().map((directive) => directive.name),
      printed: roundTripped,
    };
  } catch (error) {
    return { name, errors: [String(error)], identical: false, types: 0, directives: [] };
  }
}

const schemas = JSON.parse(readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify(schemas.map(report)));
