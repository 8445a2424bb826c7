{"product": "Network Video Recorder", "serialNo": "@{serial}", "lanMac": "02:4e:56:40:38:01", "firmware": "@{firmware}", "disks": 2, "recording": true}
