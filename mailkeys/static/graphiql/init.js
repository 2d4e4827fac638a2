// mailkeys' GraphiQL page: everything is served by mailkeys itself (no CDN), and the key a
// user pastes into the Headers tab stays in this tab's memory, never in the browser's storage.
(function () {
  "use strict";

  // GraphiQL 3 keeps its query history in localStorage *with each run's headers*, whatever
  // shouldPersistHeaders says, so a pasted key would outlive the tab. This storage hands
  // GraphiQL the browser's localStorage with every "headers" value blanked on the way in.
  var NAMESPACE = "graphiql:";
  function withoutHeaders(value) {
    try {
      return JSON.stringify(JSON.parse(value), function (key, item) {
        return key === "headers" ? null : item;
      });
    } catch (notJson) {
      return value; // a plain setting (theme, pane sizes) or a query text
    }
  }
  function ownKeys() {
    return Object.keys(window.localStorage).filter(function (key) {
      return key.indexOf(NAMESPACE) === 0;
    });
  }
  var storage = {
    getItem: function (key) {
      return window.localStorage.getItem(key);
    },
    setItem: function (key, value) {
      if (key === NAMESPACE + "headers") {
        return; // the Headers editor's own copy: never stored
      }
      window.localStorage.setItem(key, withoutHeaders(value));
    },
    removeItem: function (key) {
      window.localStorage.removeItem(key);
    },
    clear: function () {
      ownKeys().forEach(function (key) {
        window.localStorage.removeItem(key);
      });
    },
    get length() {
      return ownKeys().length;
    },
  };

  var DEFAULT_QUERY = [
    "# mailkeys GraphiQL",
    "#",
    "# 1. Paste your key in Headers, below:",
    '#      "Authorization": "Bearer smx_root_..."',
    "#    (`mailkeys team create NAME` prints",
    "#    a new team's first key, once.)",
    "#    A person's access token from the",
    "#    identity provider works too, with",
    '#      "X-Team-Id": "team_..."',
    "# 2. Run with the play button or Ctrl-Enter.",
    "",
    "{",
    "  viewer {",
    "    kind",
    "    team { id name }",
    "    apiKey { id preset status }",
    "  }",
    "}",
    "",
  ].join("\n");

  var fetcher = GraphiQL.createFetcher({ url: window.location.pathname });

  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      storage: storage,
      defaultQuery: DEFAULT_QUERY,
      defaultHeaders: '{\n  "Authorization": "Bearer "\n}',
      defaultEditorToolsVisibility: "headers",
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      inputValueDeprecation: true,
    })
  );
})();
