#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests, if it is not there yet.
set -eu
command -v chromium >/dev/null 2>&1 && exit 0
echo "instalando o Chromium do Debian (testes de navegador) ..."
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -q chromium >/dev/null 2>&1 || {
  $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q chromium >/dev/null; }
command -v chromium >/dev/null 2>&1 || { echo "erro: não foi possível instalar o chromium"; exit 1; }
