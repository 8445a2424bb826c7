/* Router web UI: the login page's script. The page has no <form>: this script reads the two
   boxes and posts JSON to the router's API, with the one-time token the page carries. */
function showError(text) {
  var el = document.getElementById("login-error");
  el.textContent = text;
  el.hidden = false;
}

function doLogin() {
  var user = document.getElementById("username").value;
  var pass = document.getElementById("password").value;
  var token = document.querySelector('meta[name="csrf-token"]').content;
  fetch("/cgi-bin/luci/api/session", {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({username: user, password: pass, csrf_token: token})
  }).then(function (r) { return r.json(); }).then(function (d) {
    if (d.success) {
      window.location.href = "/webpages/index.html";
    } else {
      showError(d.msg);
    }
  });
}
