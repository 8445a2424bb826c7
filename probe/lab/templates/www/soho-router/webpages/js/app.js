/* Router web UI after the login: every view is loaded from the API with the session cookie. */
function loadStatus() {
  fetch("/cgi-bin/luci/api/status", {credentials: "same-origin"}).then(function (r) {
    if (r.status === 401) { window.location.href = "/webpages/login.html"; }
  });
}
loadStatus();
