// The GraphiQL console of Lectern, bundled with everything it needs: a
// campus intranet often cannot reach public CDNs.
import React from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import 'graphiql/graphiql.css';

const fetcher = async (params, opts) => {
  const headers = { 'Content-Type': 'application/json', ...(opts && opts.headers) };
  const response = await fetch('/graphql', {
    method: 'POST',
    headers,
    body: JSON.stringify(params),
  });
  return response.json();
};

const defaultQuery = `# Welcome to Lectern's GraphQL console.
#
# 1. Open "Headers" below and put your token in:
#      { "Authorization": "Bearer lct_..." }
#    (an administrator makes one with \`lectern token create\`).
# 2. Run this query with the ▶ button or Ctrl-Enter.
# 欢迎使用 Lectern：在下方 Headers 中填入令牌后运行查询。

{
  units {
    id
    name
    kind
    headCount
  }
}
`;

createRoot(document.getElementById('graphiql')).render(
  React.createElement(GraphiQL, {
    fetcher,
    defaultQuery,
    defaultHeaders: '{\n  "Authorization": "Bearer "\n}',
    headerEditorEnabled: true,
    shouldPersistHeaders: false,
    defaultEditorToolsVisibility: 'headers',
  }),
);
