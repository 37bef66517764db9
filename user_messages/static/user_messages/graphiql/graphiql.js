// The package's GraphiQL page (user_messages/graphiql.py): GraphiQL with the explorer plugin,
// queries and mutations over POST with Django's CSRF token, subscriptions over
// graphql-transport-ws at the same path. Everything it loads comes from this folder.
(function (document, location, history, GraphiQL, React, ReactDOM, graphqlWs, Explorer) {
  "use strict";
  var settings = JSON.parse(document.getElementById("user-messages-graphiql").textContent);

  // The editor's state lives in the URL fragment (#query=...&variables=...), so a link to the
  // page can carry a query.
  var parameters = {};
  location.hash.slice(1).split("&").forEach(function (entry) {
    var eq = entry.indexOf("=");
    if (eq >= 0) {
      parameters[decodeURIComponent(entry.slice(0, eq))] = decodeURIComponent(entry.slice(eq + 1));
    }
  });
  function updateURL() {
    var fragment = Object.keys(parameters).map(function (key) {
      return encodeURIComponent(key) + "=" + encodeURIComponent(parameters[key]);
    });
    history.replaceState(null, "", "#" + fragment.join("&"));
  }

  var endpoint = new URL(settings.endpoint, location.href);
  var socketURL = new URL(settings.subscriptionEndpoint || settings.endpoint, location.href);
  socketURL.protocol = socketURL.protocol === "https:" ? "wss:" : "ws:";
  var headers = {};
  headers[settings.csrfHeader] = settings.csrfToken;

  var fetcher = GraphiQL.createFetcher({
    url: endpoint.href,
    headers: headers,
    wsClient: graphqlWs.createClient({ url: socketURL.href, lazy: true }),
  });

  function Page() {
    var state = React.useState(parameters.query);
    function onEditQuery(query) {
      state[1](query);
      parameters.query = query;
      updateURL();
    }
    var explorer = Explorer.useExplorerPlugin({ query: state[0], onEdit: onEditQuery });
    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      plugins: [explorer],
      defaultEditorToolsVisibility: true,
      query: state[0],
      variables: parameters.variables,
      operationName: parameters.operationName,
      onEditQuery: onEditQuery,
      onEditVariables: function (variables) {
        parameters.variables = variables;
        updateURL();
      },
      onEditOperationName: function (name) {
        parameters.operationName = name;
        updateURL();
      },
    });
  }

  ReactDOM.render(React.createElement(Page), document.getElementById("graphiql"));
})(
  document,
  window.location,
  window.history,
  window.GraphiQL,
  window.React,
  window.ReactDOM,
  window.graphqlWs,
  window.GraphiQLPluginExplorer,
);
