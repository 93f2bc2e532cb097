// The console: walks the sign-in flow against this server's API.
// Tokens live in this closure only: never in storage, URLs or the console.
(function () {
  "use strict";

  var state = { phone: "", access: "", refresh: "" };
  var screens = ["start", "verify", "role", "profile"];

  function $(id) { return document.getElementById(id); }

  function show(name) {
    screens.forEach(function (s) { $(s).hidden = s !== name; });
    var first = $(name).querySelector("input");
    if (first) {
      first.focus();
    }
  }

  function info(text) {
    $("info").textContent = text;
    $("info").hidden = !text;
  }

  function clearMessages() {
    $("error").hidden = true;
    info("");
  }

  // showError shows an API error as the service sent it: code, message
  // and the request id to quote.
  function showError(e) {
    $("error-code").textContent = e.code || "error";
    $("error-message").textContent = e.message || "";
    $("error-request-id").textContent = e.requestId || "none";
    $("error").hidden = false;
  }

  // api calls the service and resolves with the JSON body (null for 204),
  // or rejects with {code, message, requestId, status}.
  function api(method, path, body, withToken) {
    var headers = { "Accept": "application/json" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
    }
    if (withToken) {
      headers["Authorization"] = "Bearer " + state.access;
    }
    var init = { method: method, headers: headers, credentials: "omit", cache: "no-store" };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (res) {
      return res.text().then(function (text) {
        var data = null;
        try {
          data = text ? JSON.parse(text) : null;
        } catch (ignored) {
          data = null;
        }
        if (!res.ok) {
          var err = (data && data.error) || {};
          return Promise.reject({
            code: err.code || "http_" + res.status,
            message: err.message || res.statusText || "the request failed",
            requestId: err.request_id || res.headers.get("X-Request-ID") || "",
            status: res.status
          });
        }
        return data;
      });
    }, function () {
      return Promise.reject({ code: "network_error", message: "the server could not be reached" });
    });
  }

  // busy disables a button while its request runs.
  function busy(button, promise) {
    button.disabled = true;
    return promise.catch(showError).finally(function () { button.disabled = false; });
  }

  function when(iso) {
    return iso ? new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }) : "";
  }

  function setTokens(pair) {
    state.access = pair.access_token;
    state.refresh = pair.refresh_token;
    var at = new Date(Date.now() + pair.expires_in * 1000);
    $("expires-at").textContent = at.toLocaleTimeString() + " (in " + pair.expires_in + " s)";
  }

  function signedOut() {
    state.access = "";
    state.refresh = "";
    $("code").value = "";
    show("start");
  }

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function renderMe(me) {
    $("user-id").textContent = me.id;
    $("user-role").textContent = me.role || "none yet";
    $("user-name").textContent = me.full_name || "not set";
    $("user-created").textContent = when(me.created_at);
  }

  function renderIdentities(list) {
    var ul = $("identities");
    ul.replaceChildren();
    list.forEach(function (id) {
      var li = document.createElement("li");
      var provider = document.createElement("span");
      provider.className = "badge";
      provider.textContent = id.provider;
      li.appendChild(provider);
      li.appendChild(document.createTextNode(" " + id.provider_id + (id.email ? " · " + id.email : "") + " · linked " + when(id.created_at)));
      ul.appendChild(li);
    });
  }

  function renderSessions(list) {
    var body = $("sessions");
    body.replaceChildren();
    list.forEach(function (s) {
      var row = document.createElement("tr");
      row.className = s.current ? "session current" : "session";
      row.setAttribute("data-id", s.id);
      cell(row, s.device_info || "unnamed device");
      cell(row, when(s.created_at));
      cell(row, when(s.last_used_at));
      cell(row, when(s.expires_at));
      var last = cell(row, "");
      if (s.current) {
        var mark = document.createElement("span");
        mark.className = "badge current-mark";
        mark.textContent = "This device";
        last.appendChild(mark);
      } else {
        var end = document.createElement("button");
        end.type = "button";
        end.className = "secondary end-session";
        end.textContent = "Log out this device";
        end.addEventListener("click", function () {
          clearMessages();
          busy(end, api("DELETE", "/v1/me/sessions/" + encodeURIComponent(s.id), undefined, true).then(function () {
            info("That device is signed out.");
            return Promise.all([loadSessions(), loadActivity()]);
          }));
        });
        last.appendChild(end);
      }
      body.appendChild(row);
    });
  }

  // The audit types, as a person reads them.
  var activityNames = {
    user_created: "Account created", signin_succeeded: "Signed in", role_set: "Role chosen",
    profile_updated: "Profile changed", identity_linked: "Sign-in method added",
    identity_unlinked: "Sign-in method removed", session_revoked: "A device signed out",
    session_evicted: "Oldest device signed out (device limit)", logout: "Logged out",
    refresh_token_reused: "A stolen refresh token was refused; that device was signed out",
    admin_role_set: "An admin changed the role", admin_sessions_ended: "An admin signed every device out",
    admin_granted: "Made admin"
  };

  function renderActivity(page) {
    var body = $("activity");
    body.replaceChildren();
    page.events.forEach(function (e) {
      var row = document.createElement("tr");
      row.className = "event";
      row.setAttribute("data-type", e.type);
      cell(row, activityNames[e.type] || e.type);
      cell(row, when(e.time));
      cell(row, e.ip || "");
      body.appendChild(row);
    });
  }

  function loadActivity() {
    return api("GET", "/v1/me/activity?limit=20", undefined, true).then(renderActivity);
  }

  function loadSessions() {
    return api("GET", "/v1/me/sessions", undefined, true).then(renderSessions);
  }

  function loadProfile() {
    return Promise.all([
      api("GET", "/v1/me", undefined, true),
      api("GET", "/v1/me/identities", undefined, true),
      api("GET", "/v1/me/sessions", undefined, true),
      api("GET", "/v1/me/activity?limit=20", undefined, true)
    ]).then(function (r) {
      renderMe(r[0]);
      renderIdentities(r[1]);
      renderSessions(r[2]);
      renderActivity(r[3]);
      show("profile");
    });
  }

  $("send-form").addEventListener("submit", function (e) {
    e.preventDefault();
    clearMessages();
    var phone = $("phone").value.trim();
    busy($("send"), api("POST", "/v1/auth/otp/send", { phone: phone }).then(function (r) {
      state.phone = phone;
      $("sent-to").textContent = phone;
      $("expires-in").textContent = r.expires_in;
      $("resend-after").textContent = r.resend_after;
      show("verify");
    }));
  });

  $("verify-form").addEventListener("submit", function (e) {
    e.preventDefault();
    clearMessages();
    var body = { phone: state.phone, code: $("code").value.trim(), device_info: "Web console" };
    busy($("verify-button"), api("POST", "/v1/auth/otp/verify", body).then(function (pair) {
      setTokens(pair);
      if (pair.user.needs_role) {
        show("role");
        return null;
      }
      return loadProfile();
    }));
  });

  $("restart").addEventListener("click", function () {
    clearMessages();
    show("start");
  });

  Array.prototype.forEach.call(document.querySelectorAll("button.role"), function (button) {
    button.addEventListener("click", function () {
      clearMessages();
      var role = button.getAttribute("data-role");
      busy(button, api("PUT", "/v1/me/role", { role: role }, true).then(function (pair) {
        setTokens(pair);
        return loadProfile();
      }));
    });
  });

  $("refresh").addEventListener("click", function () {
    clearMessages();
    busy($("refresh"), api("POST", "/v1/auth/refresh", { refresh_token: state.refresh }).then(function (pair) {
      setTokens(pair);
      info("Tokens renewed: the new access token expires at " + $("expires-at").textContent + ".");
      return Promise.all([loadSessions(), loadActivity()]);
    }));
  });

  // Log out with the refresh token, which ends this session even when the
  // access token has expired.
  $("logout").addEventListener("click", function () {
    clearMessages();
    busy($("logout"), api("POST", "/v1/auth/logout", { refresh_token: state.refresh }).then(function () {
      signedOut();
      info("Signed out.");
    }));
  });

  // The export is offered as a file to save, made in the page (a blob):
  // the token never goes into a URL.
  $("export").addEventListener("click", function () {
    clearMessages();
    busy($("export"), api("GET", "/v1/me/export", undefined, true).then(function (data) {
      var link = $("export-link");
      if (link.href.indexOf("blob:") === 0) {
        URL.revokeObjectURL(link.href);
      }
      var blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
      link.href = URL.createObjectURL(blob);
      link.download = "agency-account-" + data.user.id + ".json";
      $("export-summary").textContent = data.identities.length + " sign-in methods, " + data.sessions.length +
        " sessions, " + data.activity.length + " activity entries.";
      $("export-ready").hidden = false;
    }));
  });

  // Deleting the account asks first; it needs a sign-in within the last
  // 10 minutes (the service answers reauth_required otherwise).
  $("delete-account").addEventListener("click", function () {
    clearMessages();
    $("delete-confirm").hidden = false;
  });
  $("delete-no").addEventListener("click", function () {
    $("delete-confirm").hidden = true;
  });
  $("delete-yes").addEventListener("click", function () {
    clearMessages();
    busy($("delete-yes"), api("DELETE", "/v1/me", undefined, true).then(function () {
      $("delete-confirm").hidden = true;
      signedOut();
      info("Account deleted.");
    }));
  });

  show("start");
})();
