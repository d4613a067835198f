// Accord's ops console. Plain DOM, no framework, nothing from elsewhere: the page reads and
// acts through /graphql like any client, follows workflowChanged over graphql-transport-ws,
// and reads /readyz. Values from Accord are only ever set as text, never as markup.
(function () {
  "use strict";

  var STORAGE = "accord-console-key";
  var WORKFLOW = [
    "id kind status createdBy createdAt updatedAt generation deadLettered approvedBy cancelledBy",
    "failure { step code message source upstreamCode retryable problems { code field message } }",
    "pendingApproval { code message details }",
    "steps { name status attempts error }",
  ].join(" ");
  var LISTS =
    "query Console($status: WorkflowStatus) {" +
    " exceptions: workflows(status: EXCEPTION, first: 50) { nodes { " + WORKFLOW + " } }" +
    " approvals: workflows(status: PENDING_APPROVAL, first: 50) { nodes { " + WORKFLOW + " } }" +
    " deadLetters(first: 50) { nodes { deadLetteredAt workflow { " + WORKFLOW + " } } }" +
    " all: workflows(status: $status, first: 50) { nodes { " + WORKFLOW + " } } }";
  var REPORT =
    "id finishedAt trigger total counts { kind count }" +
    " drifts(kind: $kind, first: 500) { totalCount nodes { id kind message" +
    " fix { action description mutation input } } }";
  var LATEST_REPORT = "query Report($kind: DriftKind) { reconciliation { " + REPORT + " } }";
  var RUN_REPORT =
    "mutation Run($input: RunReconciliationInput!, $kind: DriftKind) {" +
    " runReconciliation(input: $input) { errors { code message } report { " + REPORT + " } } }";
  var LIVE = "subscription { workflowChanged { event { subject data } } }";

  var state = {
    key: null,
    role: null,
    socket: null,
    refresh: null,
    fixed: {}, // drift ids whose fix was applied since the last run
    open: {}, // "<workflow id>|<part>" of the details a reader opened, kept open on refresh
    signedIn: false,
  };

  function $(id) {
    return document.getElementById(id);
  }

  // An element with attributes (on* are listeners, text is its text) and children.
  function el(tag, attributes) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      var value = attributes[name];
      if (value === null || value === undefined || value === false) return;
      if (name === "text") node.textContent = String(value);
      else if (name === "class") node.className = value;
      else if (name.indexOf("on") === 0) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    });
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined || child === false) continue;
      node.append(child);
    }
    return node;
  }

  function say(text) {
    $("status").textContent = text;
  }

  function idempotencyKey() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return "console-" + Array.prototype.map.call(bytes, function (b) {
      return b.toString(16).padStart(2, "0");
    }).join("");
  }

  function when(value) {
    return value ? new Date(value).toLocaleString() : "";
  }

  // ------------------------------------------------------------------ GraphQL over HTTP

  function Refused(message, code) {
    this.message = message;
    this.code = code;
  }

  // The data of an operation; its first error is thrown when nothing came back, and shown
  // in the status line when some data did (a source down nulls only its own fields).
  function graphql(query, variables) {
    return fetch("/graphql", {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        Authorization: "Bearer " + state.key,
      },
      body: JSON.stringify({ query: query, variables: variables || {} }),
    }).then(function (response) {
      return response.json().catch(function () {
        return null;
      }).then(function (body) {
        var error = body && body.errors && body.errors[0];
        var code = error && error.extensions ? error.extensions.code : undefined;
        if (response.status === 401) throw new Refused("Accord does not know this key.", "UNAUTHENTICATED");
        if (!body) throw new Refused("Accord answered " + response.status + ".", "HTTP");
        if (error && !body.data) throw new Refused(error.message, code);
        if (error) {
          var nulls = Object.keys(body.data).filter(function (k) { return body.data[k] === null; });
          if (nulls.length) throw new Refused(error.message, code);
          say("Partly answered: " + error.message);
        }
        return body.data;
      });
    });
  }

  // ------------------------------------------------------------------ sign in and out

  function signIn(key) {
    state.key = key;
    $("sign-in-error").textContent = "";
    return graphql("{ deadLetters(first: 1) { pageInfo { hasNextPage } } }").then(
      function () {
        sessionStorage.setItem(STORAGE, key);
        state.signedIn = true;
        $("sign-in").hidden = true;
        $("console").hidden = false;
        $("sign-out").hidden = false;
        return connectLive().then(function () {
          $("title").focus();
          return Promise.all([loadWorkflows(), loadReport(), loadHealth()]);
        });
      },
      function (problem) {
        state.key = null;
        sessionStorage.removeItem(STORAGE);
        $("sign-in-error").textContent =
          problem.code === "FORBIDDEN"
            ? "This console is for the ops and finance roles; this key's role may not use it."
            : problem.message;
      }
    );
  }

  function signOut(message) {
    state.signedIn = false;
    state.key = null;
    state.role = null;
    sessionStorage.removeItem(STORAGE);
    if (state.socket) state.socket.close(1000);
    state.socket = null;
    $("console").hidden = true;
    $("sign-out").hidden = true;
    $("who").hidden = true;
    $("sign-in").hidden = false;
    $("api-key").value = "";
    $("sign-in-error").textContent = message || "";
    $("api-key").focus();
  }

  // ------------------------------------------------------------------ live updates

  // Follows workflowChanged over graphql-transport-ws. Resolves once the connection is
  // acknowledged (its payload names the caller's role) or after two seconds without.
  function connectLive() {
    return new Promise(function (resolve) {
      var url = new URL("/graphql", window.location.href);
      url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
      var socket = new WebSocket(url.href, "graphql-transport-ws");
      var settled = false;
      function settle() {
        if (!settled) {
          settled = true;
          resolve();
        }
      }
      setTimeout(settle, 2000);
      state.socket = socket;
      socket.addEventListener("open", function () {
        socket.send(JSON.stringify({
          type: "connection_init",
          payload: { Authorization: "Bearer " + state.key },
        }));
      });
      socket.addEventListener("message", function (message) {
        var data = JSON.parse(message.data);
        if (data.type === "connection_ack") {
          state.role = data.payload && data.payload.role ? data.payload.role : null;
          $("who").textContent = "Signed in, role " + (state.role || "unknown");
          $("who").hidden = false;
          socket.send(JSON.stringify({ id: "workflows", type: "subscribe", payload: { query: LIVE } }));
          $("live").textContent = "Live updates: on";
          settle();
        } else if (data.type === "next") {
          scheduleRefresh();
        } else if (data.type === "ping") {
          socket.send(JSON.stringify({ type: "pong" }));
        } else if (data.type === "error") {
          $("live").textContent = "Live updates: refused (" + JSON.stringify(data.payload) + ")";
        }
      });
      socket.addEventListener("close", function (event) {
        settle();
        if (state.socket !== socket || !state.signedIn) return;
        if (event.code === 4403) {
          signOut("Accord does not know this key.");
          return;
        }
        $("live").textContent = "Live updates: reconnecting…";
        setTimeout(function () {
          if (state.signedIn && state.socket === socket) connectLive();
        }, 2000);
      });
    });
  }

  function scheduleRefresh() {
    clearTimeout(state.refresh);
    state.refresh = setTimeout(loadWorkflows, 250);
  }

  // ------------------------------------------------------------------ source health

  function loadHealth() {
    return fetch("/readyz", { headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json();
      })
      .then(function (body) {
        var rows = (body.sources || []).map(function (source) {
          return el(
            "tr",
            { "data-source": source.source },
            el("th", { scope: "row", text: source.source }),
            el("td", { text: source.ready ? "ready" : "not ready", class: source.ready ? "ok" : "bad" }),
            el("td", { text: source.breaker, class: source.breaker === "closed" ? "ok" : "bad" }),
            el("td", { text: source.latencyMs + " ms" }),
            el("td", { text: source.ready ? "" : (source.code || "") + " " + (source.message || "") })
          );
        });
        $("health-rows").replaceChildren.apply($("health-rows"), rows);
      })
      .catch(function () {
        $("health-rows").replaceChildren(el("tr", {}, el("td", { colspan: 5, text: "Accord did not answer." })));
      });
  }

  // ------------------------------------------------------------------ workflows

  function loadWorkflows() {
    if (!state.signedIn) return Promise.resolve();
    var status = $("status-filter").value || null;
    return graphql(LISTS, { status: status }).then(function (data) {
      render("exception-list", data.exceptions.nodes, "No workflow is in EXCEPTION.");
      render("approval-list", data.approvals.nodes, "No workflow waits for approval.");
      render(
        "dead-letter-list",
        data.deadLetters.nodes.map(function (letter) {
          return Object.assign({ deadLetteredAt: letter.deadLetteredAt }, letter.workflow);
        }),
        "No dead letters."
      );
      render("workflow-list", data.all.nodes, "No workflows" + (status ? " in " + status : "") + ".");
    }, showProblem);
  }

  function render(listId, workflows, empty) {
    var list = $(listId);
    if (!workflows.length) {
      list.replaceChildren(el("p", { class: "empty", text: empty }));
      return;
    }
    list.replaceChildren.apply(list, workflows.map(function (workflow) {
      return card(workflow, listId);
    }));
  }

  function card(workflow, listId) {
    var heading = listId + "-" + workflow.id.replace(/[^A-Za-z0-9]/g, "");
    var failure = workflow.failure;
    var pending = workflow.pendingApproval;
    return el(
      "article",
      { class: "card", "data-workflow": workflow.id, "data-status": workflow.status, "aria-labelledby": heading },
      el(
        "h3",
        { id: heading },
        workflow.kind + " ",
        el("span", { class: "badge " + workflow.status.toLowerCase(), text: workflow.status })
      ),
      el("p", {
        class: "meta",
        text: workflow.id + " · started by " + workflow.createdBy + " " + when(workflow.createdAt) +
          " · changed " + when(workflow.updatedAt) +
          (workflow.generation ? " · retried " + workflow.generation + " times" : "") +
          (workflow.deadLetteredAt ? " · dead-lettered " + when(workflow.deadLetteredAt) : "") +
          (workflow.approvedBy ? " · approved by " + workflow.approvedBy : "") +
          (workflow.cancelledBy ? " · cancelled by " + workflow.cancelledBy : ""),
      }),
      failure &&
        el(
          "div",
          { class: "problem" },
          el("p", {
            text: "Stopped at " + failure.step + ": " + failure.code + " — " + failure.message +
              (failure.retryable ? " (retrying may succeed as is)" : ""),
          }),
          failure.problems.length
            ? el.apply(null, ["ul", {}].concat(failure.problems.map(function (p) {
                return el("li", { text: p.code + (p.field ? " (" + p.field + ")" : "") + ": " + p.message });
              })))
            : null
        ),
      pending && el("p", { class: "pending", text: "Waits for finance: " + pending.code + " — " + pending.message }),
      steps(workflow),
      auditTrail(workflow),
      actions(workflow, listId)
    );
  }

  // A <details> that stays open when live updates draw its workflow again.
  function details(workflow, part, label) {
    var name = workflow.id + "|" + part;
    var node = el("details", { open: !!state.open[name] }, el("summary", { text: label }));
    node.addEventListener("toggle", function () {
      state.open[name] = node.open;
    });
    return node;
  }

  function steps(workflow) {
    var node = details(workflow, "steps", "Steps");
    node.append(
      el.apply(null, ["ol", { class: "steps" }].concat(workflow.steps.map(function (step) {
        return el("li", {
          text: step.name + " — " + step.status + " (" + step.attempts + " attempt" +
            (step.attempts === 1 ? "" : "s") + ")" + (step.error ? ": " + step.error : ""),
        });
      }))
    ));
    return node;
  }

  function auditTrail(workflow) {
    var list = el("ol", { class: "audit" }, el("li", { text: "Loading…" }));
    var node = details(workflow, "audit", "Audit trail");
    node.append(list);
    node.addEventListener("toggle", function () {
      if (!node.open) return;
      graphql(
        "query Trail($id: ID) { auditTrail(workflowId: $id, first: 50) { nodes { at actor action outcome system recordType recordId message } } }",
        { id: workflow.id }
      ).then(function (data) {
        var entries = data.auditTrail.nodes;
        list.replaceChildren.apply(list, entries.length ? entries.map(function (entry) {
          return el("li", {
            text: when(entry.at) + " · " + entry.action + " · " + entry.outcome + " · " + entry.actor +
              (entry.system ? " · " + entry.system + " " + (entry.recordType || "") + " " + (entry.recordId || "") : "") +
              (entry.message ? " · " + entry.message : ""),
          });
        }) : [el("li", { text: "No entries." })]);
      }, function (problem) {
        list.replaceChildren(el("li", {
          text: problem.code === "FORBIDDEN" ? "The audit trail is for the ops role." : problem.message,
        }));
      });
    });
    return node;
  }

  function actions(workflow, listId) {
    var buttons = [];
    var finance = state.role === null || state.role === "finance";
    if (workflow.status === "EXCEPTION") {
      var retry = listId === "dead-letter-list" ? "Replay" : "Retry";
      buttons.push(button(retry, workflow, "retryWorkflow"));
      buttons.push(button("Cancel", workflow, "cancelWorkflow"));
    } else if (workflow.status === "PENDING_APPROVAL") {
      if (finance) buttons.push(button("Approve", workflow, "approveWorkflow"));
      buttons.push(button("Cancel", workflow, "cancelWorkflow"));
    }
    return buttons.length ? el.apply(null, ["div", { class: "actions" }].concat(buttons)) : null;
  }

  function button(label, workflow, action) {
    return el("button", {
      type: "button",
      text: label,
      "aria-label": label + " workflow " + workflow.id,
      onclick: function (event) {
        event.target.disabled = true;
        act(label, action, workflow.id);
      },
    });
  }

  function act(label, action, id) {
    say(label + ": " + id + "…");
    var query =
      "mutation Act($input: WorkflowActionInput!) { " + action +
      "(input: $input) { errors { code message } workflow { id status } } }";
    return graphql(query, { input: { idempotencyKey: idempotencyKey(), id: id } })
      .then(function (data) {
        var payload = data[action];
        if (payload.errors.length) say(label + " " + id + ": " + payload.errors[0].message);
        else say(label + " " + id + ": now " + (payload.workflow ? payload.workflow.status : "done") + ".");
      }, showProblem)
      .then(loadWorkflows);
  }

  function showProblem(problem) {
    if (problem.code === "UNAUTHENTICATED") signOut(problem.message);
    else say(problem.message);
  }

  // ------------------------------------------------------------------ reconciliation

  function loadReport() {
    var kind = $("kind-filter").value || null;
    return graphql(LATEST_REPORT, { kind: kind }).then(function (data) {
      showReport(data.reconciliation);
    }, showProblem);
  }

  function runReport() {
    say("Reconciling the CRM and the ERP…");
    $("reconcile-now").disabled = true;
    var kind = $("kind-filter").value || null;
    return graphql(RUN_REPORT, { input: { idempotencyKey: idempotencyKey() }, kind: kind })
      .then(function (data) {
        var payload = data.runReconciliation;
        if (payload.errors.length) say(payload.errors[0].message);
        else {
          state.fixed = {};
          showReport(payload.report);
          say("Reconciled: " + payload.report.total + " drifts.");
        }
      }, showProblem)
      .then(function () {
        $("reconcile-now").disabled = false;
      });
  }

  function showReport(report) {
    $("reconcile-now").hidden = state.role === "finance";
    if (!report) {
      $("reconciliation-summary").textContent = "No reconciliation has run yet.";
      $("drift-rows").replaceChildren();
      return;
    }
    $("reconciliation-summary").textContent =
      report.total + " drifts found " + when(report.finishedAt) + " (" + report.trigger + ")" +
      (report.total ? ": " + report.counts.filter(function (c) { return c.count; }).map(function (c) {
        return c.count + " " + c.kind;
      }).join(", ") : ".");
    var filter = $("kind-filter");
    var chosen = filter.value;
    filter.replaceChildren.apply(filter, [el("option", { value: "", text: "Any" })].concat(
      report.counts.filter(function (c) { return c.count; }).map(function (c) {
        return el("option", { value: c.kind, text: c.kind + " (" + c.count + ")", selected: c.kind === chosen });
      })
    ));
    var rows = report.drifts.nodes.map(function (drift) {
      return el(
        "tr",
        { "data-drift": drift.id, "data-kind": drift.kind },
        el("td", { text: drift.kind }),
        el("td", { text: drift.message }),
        el("td", { text: drift.fix.description }),
        el("td", {}, fixControl(drift))
      );
    });
    $("drift-rows").replaceChildren.apply($("drift-rows"), rows);
  }

  function fixControl(drift) {
    if (state.fixed[drift.id]) return el("span", { class: "ok", text: "Fix applied" });
    if (!drift.fix.mutation) return el("span", { class: "manual", text: "By hand" });
    return el("button", {
      type: "button",
      text: "Fix",
      "aria-label": "Fix " + drift.id + " (" + drift.fix.action + ")",
      onclick: function (event) {
        event.target.disabled = true;
        applyFix(drift);
      },
    });
  }

  // A fix is the mutation its drift names, with the input it gives and a fresh key.
  function applyFix(drift) {
    var mutation = drift.fix.mutation;
    var type = mutation.charAt(0).toUpperCase() + mutation.slice(1) + "Input";
    var more = mutation === "bookOrder" ? " workflow { id status }" : "";
    var query =
      "mutation Fix($input: " + type + "!) { " + mutation + "(input: $input) { errors { code message }" + more + " } }";
    var input = Object.assign({}, drift.fix.input, { idempotencyKey: idempotencyKey() });
    say("Fixing " + drift.id + "…");
    return graphql(query, { input: input }).then(function (data) {
      var payload = data[mutation];
      if (payload.errors.length) {
        say("Fix " + drift.id + " refused: " + payload.errors[0].message);
        return loadReport();
      }
      state.fixed[drift.id] = true;
      var workflow = payload.workflow ? " (workflow " + payload.workflow.id + ": " + payload.workflow.status + ")" : "";
      say("Fix applied to " + drift.id + workflow + ".");
      if (payload.workflow) loadWorkflows();
      // ops confirm it at once with a new run; finance see it marked until the next run
      return state.role === "ops" ? runReport() : loadReport();
    }, showProblem);
  }

  // ------------------------------------------------------------------ start

  document.addEventListener("DOMContentLoaded", function () {
    $("sign-in-form").addEventListener("submit", function (event) {
      event.preventDefault();
      signIn($("api-key").value.trim());
    });
    $("sign-out").addEventListener("click", function () {
      signOut("Signed out.");
    });
    $("status-filter").addEventListener("change", loadWorkflows);
    $("kind-filter").addEventListener("change", loadReport);
    $("reconcile-now").addEventListener("click", runReport);
    $("health-refresh").addEventListener("click", loadHealth);
    setInterval(function () {
      if (state.signedIn) loadHealth();
    }, 15000);
    var kept = sessionStorage.getItem(STORAGE);
    if (kept) signIn(kept);
  });
})();
