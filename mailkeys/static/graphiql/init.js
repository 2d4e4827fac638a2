// mailkeys' GraphiQL page: everything is served by mailkeys itself (no CDN), and the key a
// user pastes into the Headers tab stays in this tab's memory (shouldPersistHeaders: false).
(function () {
  "use strict";

  var DEFAULT_QUERY = [
    "# mailkeys GraphiQL",
    "#",
    "# 1. Paste your key in Headers, below:",
    '#      "Authorization": "Bearer smx_root_..."',
    "#    (`mailkeys team create NAME` prints",
    "#    a new team's first key, once.)",
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
      defaultQuery: DEFAULT_QUERY,
      defaultHeaders: '{\n  "Authorization": "Bearer "\n}',
      defaultEditorToolsVisibility: "headers",
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      inputValueDeprecation: true,
    })
  );
})();
