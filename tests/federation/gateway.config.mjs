// Hive Gateway in front of Accord and the ticket subgraph (`hive-gateway supergraph
// ../../schema/supergraph.graphql`). The supergraph names the subgraphs' URLs of a compose
// deployment; ACCORD_SUBGRAPH_URL and TICKETS_SUBGRAPH_URL point them elsewhere.
import { defineConfig } from "@graphql-hive/gateway";

const locations = {
  accord: process.env.ACCORD_SUBGRAPH_URL,
  tickets: process.env.TICKETS_SUBGRAPH_URL,
};

export const gatewayConfig = defineConfig({
  // Accord authenticates every request itself: pass the caller's credentials on to it.
  propagateHeaders: {
    fromClientToSubgraphs({ request, subgraphName }) {
      if (subgraphName !== "accord") return {};
      return { authorization: request.headers.get("authorization") };
    },
  },
  transportEntries: Object.fromEntries(
    Object.entries(locations)
      .filter(([, location]) => location)
      .map(([name, location]) => [name, { location }]),
  ),
});
