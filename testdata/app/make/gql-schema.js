// Shared GraphQL schema: query hello/boom, subscriptions countdown (finite) and ticker (infinite).
const { GraphQLSchema, GraphQLObjectType, GraphQLString, GraphQLInt, GraphQLNonNull } = require('graphql');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
module.exports = new GraphQLSchema({
  query: new GraphQLObjectType({
    name: 'Query',
    fields: {
      hello: { type: GraphQLString, args: { name: { type: GraphQLString } }, resolve: (_, { name }) => `Hello ${name}!` },
      boom: { type: GraphQLString, resolve: () => { throw new Error('boom resolver failed'); } },
    },
  }),
  subscription: new GraphQLObjectType({
    name: 'Subscription',
    fields: {
      countdown: {
        type: GraphQLInt, args: { from: { type: new GraphQLNonNull(GraphQLInt) } },
        subscribe: async function* (_, { from }) { for (let i = from; i > 0; i--) { await sleep(30); yield { countdown: i }; } },
      },
      ticker: {
        type: GraphQLInt,
        subscribe: async function* () { let i = 0; for (;;) { await sleep(40); yield { ticker: ++i }; } },
      },
    },
  }),
});
