// Same as gen-graphql-transport-ws.js but the server enables permessage-deflate (threshold 0).
process.env.DEFLATE = '1';
require('./gen-graphql-transport-ws.js');
