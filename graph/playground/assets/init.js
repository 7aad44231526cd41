// Bootstraps GraphiQL for graph/playground. Loaded as a file (not inline)
// so the page's Content-Security-Policy can forbid inline scripts. The
// server passes its settings in data- attributes of #graphiql:
//   data-title                  shown as the logo and the document title
//   data-endpoint               GraphQL HTTP endpoint (path or absolute URL)
//   data-subscription-endpoint  WebSocket endpoint; empty = derived from
//                               data-endpoint (http→ws, https→wss)
//   data-style-nonce            the CSP style-src nonce of this response
(function () {
  'use strict';

  var TOKEN_PLACEHOLDER = 'Bearer <paste your access token>';
  var root = document.getElementById('graphiql');

  function fail(message) {
    root.textContent = message;
    root.className = 'playground-error';
  }

  if (!window.React || !window.ReactDOM || !window.GraphiQL) {
    fail('The GraphiQL playground failed to load its scripts.');
    return;
  }

  var React = window.React;
  var ReactDOM = window.ReactDOM;
  var GraphiQL = window.GraphiQL;
  var data = root.dataset;
  var title = data.title || 'GraphiQL';

  // The page's CSP allows <style> elements only with this response's nonce.
  // GraphiQL's dialogs and menus (Radix UI's scroll lock, via
  // react-style-singleton) create one and copy the nonce from
  // __webpack_nonce__ when it is defined.
  if (data.styleNonce) {
    window.__webpack_nonce__ = data.styleNonce;
  }

  // Query/mutation endpoint, resolved against the page so a path works.
  var httpURL = new URL(data.endpoint || '/graphql', window.location.href);

  // Subscription endpoint: explicit, or the HTTP endpoint with ws(s):.
  var wsURL = new URL(data.subscriptionEndpoint || httpURL.href, window.location.href);
  if (wsURL.protocol === 'https:') {
    wsURL.protocol = 'wss:';
  } else if (wsURL.protocol === 'http:') {
    wsURL.protocol = 'ws:';
  }

  // headersOf turns what GraphiQL parsed from the headers editor into a
  // plain object of string values (HTTP headers and the connection_init
  // payload alike); anything that is not a JSON object yields {}.
  function headersOf(value) {
    var out = {};
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      return out;
    }
    Object.keys(value).forEach(function (name) {
      var v = value[name];
      if (v !== null && v !== undefined) {
        out[name] = typeof v === 'string' ? v : String(v);
      }
    });
    return out;
  }

  // authorizationOf returns the Authorization value (any letter case) of
  // a headers object, or '' when there is none.
  function authorizationOf(headers) {
    var names = Object.keys(headers);
    for (var i = 0; i < names.length; i++) {
      if (names[i].toLowerCase() === 'authorization') {
        return headers[names[i]];
      }
    }
    return '';
  }

  // GraphiQL.createFetcher (@graphiql/toolkit) sends queries and
  // mutations as HTTP POST to url with {...options.headers, ...opts.headers}
  // as request headers, and for each subscription opens a graphql-ws
  // (graphql-transport-ws) client on subscriptionUrl whose connectionParams
  // are {...wsConnectionParams, ...opts.headers}; the lazy client closes the
  // socket when the subscription ends. GraphiQL calls fetcher(params, opts)
  // with opts.headers parsed from the headers editor at the time the
  // operation runs, so whatever token is in the editor authenticates both
  // the HTTP request (Authorization header) and the WebSocket
  // (connection_init payload {"Authorization": "Bearer …"}).
  var toolkitFetcher = GraphiQL.createFetcher({
    url: httpURL.href,
    subscriptionUrl: wsURL.href,
  });

  // The Authorization the schema was last introspected with, so a new
  // token in the editor can trigger a fresh introspection.
  var schemaAuthorization = null;

  function newFetcher() {
    return function fetcher(params, opts) {
      var headers = headersOf(opts && opts.headers);
      if (params && params.operationName === 'IntrospectionQuery') {
        schemaAuthorization = authorizationOf(headers);
      }
      return toolkitFetcher(params, Object.assign({}, opts, { headers: headers }));
    };
  }

  function parseHeaders(text) {
    try {
      return text && text.trim() ? headersOf(JSON.parse(text)) : {};
    } catch (e) {
      return null; // still being typed
    }
  }

  function Playground() {
    // GraphiQL introspects whenever its fetcher prop changes identity; a
    // new function is handed over when the token changes, so the docs and
    // autocompletion follow the credentials the user typed.
    var state = React.useState(newFetcher);
    var fetcher = state[0];
    var setFetcher = state[1];
    var timer = React.useRef(0);

    React.useEffect(function () {
      return function () {
        window.clearTimeout(timer.current);
      };
    }, []);

    var onEditHeaders = React.useCallback(function (text) {
      window.clearTimeout(timer.current);
      timer.current = window.setTimeout(function () {
        var headers = parseHeaders(text);
        if (headers === null) {
          return;
        }
        var auth = authorizationOf(headers);
        if (schemaAuthorization !== null && auth !== schemaAuthorization && auth !== TOKEN_PLACEHOLDER) {
          schemaAuthorization = auth;
          setFetcher(newFetcher);
        }
      }, 700);
    }, []);

    return React.createElement(
      GraphiQL,
      {
        fetcher: fetcher,
        defaultHeaders: JSON.stringify({ Authorization: TOKEN_PLACEHOLDER }, null, 2),
        shouldPersistHeaders: true,
        isHeadersEditorEnabled: true,
        defaultEditorToolsVisibility: 'headers',
        onEditHeaders: onEditHeaders,
      },
      React.createElement(GraphiQL.Logo, null, title)
    );
  }

  document.title = title;
  ReactDOM.createRoot(root).render(React.createElement(Playground));
})();
