#!/usr/bin/env bash
# Start the local PostgreSQL cluster if it is installed and not running (CI machines).
set -u
command -v pg_lsclusters >/dev/null 2>&1 || { echo "PostgreSQL não instalado; testes de PostgreSQL serão pulados"; exit 0; }
if pg_lsclusters --no-header 2>/dev/null | grep -q online; then exit 0; fi
version=$(ls /etc/postgresql 2>/dev/null | head -n 1)
[ -n "$version" ] || exit 0
pg_ctlcluster --skip-systemctl-redirect "$version" main start || echo "aviso: não foi possível iniciar o PostgreSQL"
