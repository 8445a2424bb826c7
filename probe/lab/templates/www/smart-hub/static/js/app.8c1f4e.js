/*! @{vendor} hub ui, build 8c1f4e */
!function(){"use strict";var e={model:"@{model}",fw:"@{firmware}",otaCheckUrl:"http://ota.lumora.example/sh10/v2/check",cloudUrl:"wss://iot.lumora.example/hub",helpUrl:"https://lumora.example/help"};window.HUB=e;var t=document.getElementById("fw");t&&(t.textContent=e.fw)}();
