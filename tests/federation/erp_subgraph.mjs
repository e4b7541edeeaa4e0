// An importer's ERP as a federation v2 subgraph: purchase orders that name the hub's records and
// product lines by key only. The hub resolves them (and decides who may read them).
// Orders come from ERP_ORDERS (JSON: [{number, supplier, tonnes, recordId?, productLineId?}]).
import { ApolloServer } from "@apollo/server";
import { ApolloServerPluginInlineTraceDisabled } from "@apollo/server/plugin/disabled";
import { startStandaloneServer } from "@apollo/server/standalone";
import { buildSubgraphSchema } from "@apollo/subgraph";
import { parse } from "graphql";

const orders = JSON.parse(process.env.ERP_ORDERS ?? "[]");

const typeDefs = parse(`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])

  type Query {
    purchaseOrders: [PurchaseOrder!]!
  }

  type PurchaseOrder {
    number: ID!
    supplier: String!
    tonnes: Float!
    "The supplier's emissions record for the goods ordered (resolved by the hub)."
    record: Record
    productLine: ProductLine
  }

  type Record @key(fields: "id", resolvable: false) {
    id: ID!
  }

  type ProductLine @key(fields: "id", resolvable: false) {
    id: ID!
  }
`);

const resolvers = {
  Query: { purchaseOrders: () => orders },
  PurchaseOrder: {
    record: (order) => (order.recordId ? { __typename: "Record", id: order.recordId } : null),
    productLine: (order) =>
      order.productLineId ? { __typename: "ProductLine", id: order.productLineId } : null,
  },
};

const server = new ApolloServer({
  schema: buildSubgraphSchema({ typeDefs, resolvers }),
  plugins: [ApolloServerPluginInlineTraceDisabled()],
});
const { url } = await startStandaloneServer(server, { listen: { host: "127.0.0.1", port: 0 } });
console.log(`ready ${url}`);
