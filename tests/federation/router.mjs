// A standard @apollo/gateway router composing the hub and the ERP (IntrospectAndCompose).
// HUB_URL, ERP_URL: the subgraphs. ROUTER_HUB_TOKEN: the router's own bearer token for the hub,
// used only to fetch the hub's SDL (`_service { sdl }` needs an authenticated caller).
// Each client's Authorization header is forwarded to the hub, and only to the hub: the hub
// decides every read as that client, and the client's hub token does not leak to other subgraphs.
import { ApolloGateway, IntrospectAndCompose, RemoteGraphQLDataSource } from "@apollo/gateway";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";

const HUB = "hub";

class ForwardHubCredentials extends RemoteGraphQLDataSource {
  constructor(name, options) {
    super(options);
    this.subgraph = name;
  }

  willSendRequest({ request, context }) {
    if (this.subgraph === HUB && context?.authorization) {
      request.http.headers.set("authorization", context.authorization);
    }
  }
}

const gateway = new ApolloGateway({
  supergraphSdl: new IntrospectAndCompose({
    subgraphs: [
      { name: HUB, url: process.env.HUB_URL },
      { name: "erp", url: process.env.ERP_URL },
    ],
    introspectionHeaders: { authorization: `Bearer ${process.env.ROUTER_HUB_TOKEN}` },
  }),
  buildService: ({ name, url }) => new ForwardHubCredentials(name, { url }),
});

const server = new ApolloServer({ gateway });
const { url } = await startStandaloneServer(server, {
  listen: { host: "127.0.0.1", port: 0 },
  context: async ({ req }) => ({ authorization: req.headers.authorization }),
});
console.log(`ready ${url}`);
