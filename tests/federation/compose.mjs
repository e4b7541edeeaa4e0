// Composes subgraph SDLs the way a router does, offline: `node compose.mjs name=file.graphql ...`.
// Prints JSON {"errors": [{"code", "message"}]} or {"supergraph": "<SDL>"}.
import { readFileSync } from "node:fs";
import { composeServices } from "@apollo/composition";
import { parse } from "graphql";

const services = process.argv.slice(2).map((argument) => {
  const [name, file] = argument.split("=");
  return { name, url: `http://${name}.invalid/graphql`, typeDefs: parse(readFileSync(file, "utf8")) };
});
const result = composeServices(services);
const answer = result.errors
  ? { errors: result.errors.map((e) => ({ code: e.extensions?.code ?? null, message: e.message })) }
  : { supergraph: result.supergraphSdl };
console.log(JSON.stringify(answer));
