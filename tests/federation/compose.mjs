// Composes subgraph SDLs into a supergraph with Apollo's composition library.
// stdin: [{"name", "url", "sdl"}, ...]; stdout: {"errors": [...], "hints": [...], "supergraphSdl"}.
import { composeServices } from "@apollo/composition";
import { parse } from "graphql";
import { readFileSync } from "node:fs";

const subgraphs = JSON.parse(readFileSync(0, "utf8"));
const result = composeServices(
  subgraphs.map(({ name, url, sdl }) => ({ name, url, typeDefs: parse(sdl) })),
);
const problem = (error) => ({
  code: error.extensions?.code ?? null,
  message: error.message,
});
process.stdout.write(
  JSON.stringify({
    errors: (result.errors ?? []).map(problem),
    hints: (result.hints ?? []).map((hint) => ({
      code: hint.definition.code,
      level: hint.definition.level.name,
      message: hint.message,
    })),
    supergraphSdl: result.supergraphSdl ?? null,
  }),
);
