// The GraphiQL console of Lectern, bundled with everything it needs: a
// campus intranet often cannot reach public CDNs.
//
// A sign-in bar above the console holds the bearer token, kept in this
// browser (localStorage) until "Sign out". The console opens clean: the
// schema is read without a token (introspection is open to anyone; every
// field still asks for one), and a query run before signing in is answered
// with UNAUTHENTICATED and what to do.
import React, { useState } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import 'graphiql/graphiql.css';

const KEY = 'lectern.token';

const stored = () => {
  try {
    return window.localStorage.getItem(KEY) || '';
  } catch {
    return '';
  }
};

// A header the user typed wins; an empty one (`Bearer ` with no token) is
// dropped rather than sent, so it cannot turn an anonymous request into a
// refused one.
const fetcher = async (params, opts) => {
  const headers = { 'Content-Type': 'application/json' };
  for (const [name, value] of Object.entries((opts && opts.headers) || {})) {
    if (name.toLowerCase() === 'authorization' && !/^\s*bearer\s+\S/i.test(String(value))) continue;
    headers[name] = value;
  }
  const token = stored();
  if (token && !Object.keys(headers).some((h) => h.toLowerCase() === 'authorization')) {
    headers.Authorization = `Bearer ${token}`;
  }
  const response = await fetch('/graphql', {
    method: 'POST',
    headers,
    body: JSON.stringify(params),
  });
  return response.json();
};

const defaultQuery = `# Welcome to Lectern's GraphQL console.
#
# 1. Paste your token (lct_…) in the field at the top and press "Sign in";
#    this browser keeps it until "Sign out". An administrator makes one
#    with \`lectern token create\`.
# 2. Run this query with the ▶ button or Ctrl-Enter. The Docs pane (the
#    book icon) lists every query and mutation.
#
# 欢迎使用 Lectern：在上方填入令牌（lct_…）并点击“登录”，然后运行查询。

{
  units {
    id
    name
    kind
    headCount
  }
}
`;

const bar = {
  display: 'flex',
  gap: '0.5em',
  alignItems: 'center',
  padding: '0.4em 0.8em',
  font: '14px system-ui, sans-serif',
  borderBottom: '1px solid #ddd',
  flexWrap: 'wrap',
};

function SignIn() {
  const [token, setToken] = useState(stored());
  const [draft, setDraft] = useState('');
  const signIn = (e) => {
    e.preventDefault();
    const t = draft.trim().replace(/^bearer\s+/i, '');
    if (!t) return;
    window.localStorage.setItem(KEY, t);
    setToken(t);
    setDraft('');
  };
  const signOut = () => {
    window.localStorage.removeItem(KEY);
    setToken('');
  };
  if (token) {
    return (
      <div style={bar} id="lectern-signin">
        <span id="lectern-signed-in">
          Signed in with {token.slice(0, 8)}… · 已登录
        </span>
        <button type="button" onClick={signOut}>Sign out 退出</button>
      </div>
    );
  }
  return (
    <form style={bar} id="lectern-signin" onSubmit={signIn}>
      <label htmlFor="lectern-token">Token 令牌</label>
      <input
        id="lectern-token"
        type="password"
        autoComplete="off"
        placeholder="lct_…"
        value={draft}
        onChange={(e) => setDraft(e.target.value)}
        style={{ flex: '1 1 20em', maxWidth: '40em' }}
      />
      <button type="submit">Sign in 登录</button>
    </form>
  );
}

function Console() {
  return (
    <div style={{ display: 'flex', flexDirection: 'column', height: '100vh' }}>
      <SignIn />
      <div style={{ flex: 1, minHeight: 0 }}>
        <GraphiQL
          fetcher={fetcher}
          defaultQuery={defaultQuery}
          defaultHeaders=""
          headerEditorEnabled
          shouldPersistHeaders={false}
        />
      </div>
    </div>
  );
}

createRoot(document.getElementById('graphiql')).render(<Console />);
