// Starts GraphiQL on Accord's endpoint. Everything it loads is served by Accord itself
// (no CDN), so the page works on a machine without internet access.
(function () {
  "use strict";
  var root = document.getElementById("graphiql");
  var endpoint = new URL(root.getAttribute("data-endpoint"), window.location.href);
  var socket = new URL(endpoint.href);
  socket.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";
  var fetcher = GraphiQL.createFetcher({
    url: endpoint.href,
    subscriptionUrl: socket.href,
  });
  var props = {
    fetcher: fetcher,
    defaultQuery: root.getAttribute("data-default-query") || undefined,
    shouldPersistHeaders: true,
    isHeadersEditorEnabled: true,
  };
  var headers = root.getAttribute("data-default-headers");
  if (headers) {
    props.defaultHeaders = headers;
  }
  ReactDOM.createRoot(root).render(React.createElement(GraphiQL, props));
})();
