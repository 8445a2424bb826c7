// Login page: shows the product name and firmware version from the public status document.
(function () {
  "use strict";
  var STATUS = "/data/device.json";
  fetch(STATUS, {cache: "no-store"})
    .then(function (r) { return r.json(); })
    .then(function (d) {
      document.getElementById("product").textContent = d.vendor + " " + d.productName;
      document.getElementById("firmware").textContent = "Firmware " + d.swVersion + " (hardware " + d.hwVersion + ")";
    })
    .catch(function () { /* the page still works without it */ });
})();
