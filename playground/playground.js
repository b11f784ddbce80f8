// The duet playground: GraphiQL talking to POST /graphql on this origin. Requests carry the
// sign-in cookie (same origin) and, when one is pasted, an `Authorization: Bearer` token kept in
// this tab's sessionStorage only. A header set in GraphiQL's own "Headers" tab wins over both.
// Subscriptions run over a WebSocket to /graphql (graphql-transport-ws, the client bundled with
// GraphiQL): the cookie goes with the upgrade request, the token in `connection_init`.
(function () {
  'use strict';
  var STORAGE_KEY = 'duet.playground.token';
  var ENDPOINT = '/graphql';

  function storedToken() {
    try { return sessionStorage.getItem(STORAGE_KEY) || ''; } catch (e) { return ''; }
  }
  function storeToken(token) {
    try {
      if (token) { sessionStorage.setItem(STORAGE_KEY, token); } else { sessionStorage.removeItem(STORAGE_KEY); }
    } catch (e) { /* storage disabled: the token lives until reload */ }
    currentToken = token;
  }
  var currentToken = storedToken();

  function hasHeader(headers, name) {
    return Object.keys(headers).some(function (k) { return k.toLowerCase() === name; });
  }

  function post(body, extraHeaders) {
    var headers = { 'content-type': 'application/json', accept: 'application/json' };
    if (currentToken) { headers.authorization = 'Bearer ' + currentToken; }
    var extra = extraHeaders || {};
    if (hasHeader(extra, 'authorization')) { delete headers.authorization; }
    Object.keys(extra).forEach(function (k) { headers[k] = extra[k]; });
    return fetch(ENDPOINT, {
      method: 'POST',
      credentials: 'same-origin',
      headers: headers,
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.text().then(function (text) {
        try { return JSON.parse(text); } catch (e) {
          return { errors: [{ message: 'HTTP ' + response.status + ': ' + text }] };
        }
      });
    });
  }

  function wsUrl() {
    return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + ENDPOINT;
  }

  // Whether the operation `name` (else the first) of `query` is a subscription, read from the
  // text itself (GraphiQL's parsed document can lag behind the editor): comments and strings are
  // skipped, and only keywords outside braces count.
  function isSubscription(query, name) {
    var text = String(query || '').replace(/"""[\s\S]*?"""|"(?:\\.|[^"\\\n])*"|#[^\n]*/g, ' ');
    var words = /[{}]|\b(query|mutation|subscription|fragment)\b\s*([_A-Za-z][_0-9A-Za-z]*)?/g;
    var depth = 0;
    var keyword = null;
    var m;
    while ((m = words.exec(text))) {
      if (m[0] === '{') {
        // A selection at the top without a keyword before it is a query.
        if (depth === 0 && keyword === null && !name) { return false; }
        depth += 1;
        keyword = null;
      } else if (m[0] === '}') {
        depth = Math.max(0, depth - 1);
      } else if (depth === 0 && m[1] !== 'fragment') {
        if (!name || m[2] === name) { return m[1] === 'subscription'; }
        keyword = m[1];
      } else if (depth === 0) {
        keyword = m[1];
      }
    }
    return false;
  }

  function fetcher(params, opts) {
    if (isSubscription(params.query, params.operationName)) {
      // A fresh client per run, so that it carries the token in use now.
      var subscriptions = GraphiQL.createFetcher({
        url: ENDPOINT,
        subscriptionUrl: wsUrl(),
        wsConnectionParams: currentToken ? { Authorization: 'Bearer ' + currentToken } : {},
      });
      // The fetcher picks the socket by the document it is given; this one names the operation.
      var name = params.operationName ? { kind: 'Name', value: params.operationName } : undefined;
      var documentAST = { kind: 'Document', definitions: [{
        kind: 'OperationDefinition', operation: 'subscription', name: name,
        selectionSet: { kind: 'SelectionSet', selections: [] },
      }] };
      return subscriptions(params, Object.assign({}, opts, { documentAST: documentAST }));
    }
    return post(params, opts && opts.headers);
  }

  var identity = document.getElementById('duet-identity');
  function showIdentity() {
    identity.textContent = 'Checking sign-in…';
    return post({ query: '{ me { email role } }' }).then(function (answer) {
      var me = answer && answer.data && answer.data.me;
      if (me) {
        identity.className = '';
        identity.textContent = 'Signed in as ' + me.email + ' (' + me.role + ') via ' +
          (currentToken ? 'the pasted token' : 'the sign-in cookie');
      } else {
        var message = answer && answer.errors && answer.errors[0] && answer.errors[0].message;
        identity.className = 'signed-out';
        identity.textContent = 'Not signed in' + (message ? ': ' + message : '') +
          ' — sign in to this server in another tab or paste a token.';
      }
    }, function (err) {
      identity.className = 'signed-out';
      identity.textContent = 'Cannot reach ' + ENDPOINT + ': ' + err;
    });
  }

  var input = document.getElementById('duet-token');
  input.value = currentToken;
  document.getElementById('duet-token-form').addEventListener('submit', function (event) {
    event.preventDefault();
    storeToken(input.value.trim().replace(/^bearer\s+/i, ''));
    input.value = currentToken;
    showIdentity();
  });
  document.getElementById('duet-token-forget').addEventListener('click', function () {
    storeToken('');
    input.value = '';
    showIdentity();
  });

  var defaultQuery = [
    '# duet GraphQL playground. Press the run button (or Ctrl-Enter).',
    '# Authentication: your sign-in cookie, or a token pasted above.',
    '',
    '{',
    '  me {',
    '    email',
    '    name',
    '  }',
    '}',
    '',
  ].join('\n');

  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(React.createElement(GraphiQL, {
    fetcher: fetcher,
    defaultQuery: defaultQuery,
    shouldPersistHeaders: false,
  }));
  showIdentity();
})();
