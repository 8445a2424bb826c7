#!/usr/bin/env bash
# Installs the real server software the device lab and the tests run, plus the anchor tools the
# benchmark compares against. Debian 12; needs root. Safe to run again: apt-get skips what is there.
#
# Daemons must not start on the host when their packages install: the lab starts them itself,
# inside network namespaces. policy-rc.d (exit 101) is Debian's documented way to say so.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-system.sh: needs root (apt-get, network namespaces)" >&2
  exit 2
fi

PACKAGES=(
  # lab daemons
  dropbear-bin openssh-server openssh-client busybox-static lighttpd lighttpd-mod-openssl
  mosquitto mosquitto-clients snmpd snmp vsftpd miniupnpd-nftables dnsmasq openssl
  # RTSP for the lab camera (a small Perl RTSP server; the only packaged standalone one)
  rtsp-server-perl
  # the media NAS: Samba (guest SMB share), lighttpd's WebDAV module, socat (serves the fake debug
  # console and the vendor's binary hello per connection); smbclient to check shares by hand
  samba smbclient lighttpd-mod-webdav socat
  # the smart hub's UDP services: TFTP (tftpd-hpa), NTP (ntpsec, which answers mode-6 control
  # queries), WS-Discovery (wsdd) and CoAP (libcoap's example server, coap-server-notls)
  tftpd-hpa ntpsec wsdd libcoap3-bin
  # the ADB host client (Debian has no adbd): the independent client that proves probe's adbd
  # stand-in (probe/lab/adb_standin.py) speaks real ADB (tests/auth/test_adb.py)
  adb
  # TinySSH 20230101: a real SSH server from before strict key exchange (the Terrapin tests)
  tinysshd
  # namespace plumbing and capture
  iproute2 nftables iptables tcpdump procps psmisc
  # anchors for the benchmark and for discovery through nmap
  nmap ssh-audit hydra
  # GNU time: measures a child's own peak memory (probe.lab.measure), for tests and the bench
  time
  # headless browser for the HTML report test
  chromium
  # a Japanese font, so the Japanese reports and dossier render as text in that browser (IPA fonts, ~8 MB)
  fonts-ipafont-gothic
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; created_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
  [ "$created_policy" -eq 1 ] && rm -f "$policy"
fi

# Debian's packages may have started a daemon on the host despite policy-rc.d (some postinsts
# do); the lab needs their ports free inside namespaces only, so the host copies are stopped.
# Only copies in the host's own network namespace are stopped, by PID: lab devices (ours or a
# parallel run's) live in other namespaces and must survive a re-run of this script.
host_net=$(readlink /proc/self/ns/net)
for d in mosquitto snmpd vsftpd lighttpd dnsmasq miniupnpd rtsp-server smbd nmbd samba samba-dcerpcd \
         in.tftpd ntpd wsdd; do
  for pid in $(pgrep -x "$d" 2>/dev/null || true); do
    [ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" = "$host_net" ] && kill "$pid" 2>/dev/null || true
  done
done
# tinysshd's package enables a socket unit on port 22 where systemd runs; the tests start it
# themselves on loopback, so the unit is turned off (a no-op without systemd).
# Likewise ntpsec, tftpd-hpa and wsdd ship enabled units: the lab runs its own copies in namespaces.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now tinysshd.socket >/dev/null 2>&1 || true
  systemctl disable --now ntpsec.service tftpd-hpa.service wsdd.service >/dev/null 2>&1 || true
fi
echo "setup-system: ok"
