#!/usr/bin/env bash
# The project's two set-up commands (see README.md):
#   ./dev.sh app    install everything into .venv and open the workstation on the bundled sample trial
#   ./dev.sh test   install everything into .venv and run the whole test suite (lint, types, import rules, tests)
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages: DICOM validator, PACS and database servers for the service tests, X libraries for Qt, Xvfb.
DEBIAN_PACKAGES=(dicom3tools orthanc orthanc-dicomweb postgresql xvfb xauth libegl1 libgl1 libxkbcommon0
                 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1
                 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-render-util0 libxcb-image0
                 poppler-utils fonts-dejavu-core)

setup_system() {
    local missing=()
    for p in "${DEBIAN_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
        echo "dev.sh: please install these Debian packages: ${missing[*]}" >&2
        return 0
    fi
    local SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    echo "dev.sh: installing Debian packages: ${missing[*]}"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
}

setup_python() {
    [ -x .venv/bin/python ] || python3 -m venv .venv
    local stamp=".venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)"
    if [ ! -f "$stamp" ]; then
        echo "dev.sh: installing Python packages into .venv (log: .venv/pip.log)"
        {
            .venv/bin/pip install --upgrade pip wheel &&
            # The CPU build of torch first: a bare `torch` requirement would pull a multi-GB CUDA build.
            .venv/bin/pip install torch==2.13.0 &&
            .venv/bin/pip install -e ".[dev]"
        } > .venv/pip.log 2>&1 || { grep -v "is ignored" .venv/pip.log | tail -40 >&2; exit 1; }
        rm -f .venv/.installed-*
        touch "$stamp"
    fi
}

case "${1:-}" in
    app)
        setup_system
        setup_python
        shift
        exec .venv/bin/recist-workstation "$@"
        ;;
    test)
        setup_system
        setup_python
        shift
        export QT_QPA_PLATFORM=offscreen
        # Every step runs, so one report shows every problem; the exit status is non-zero if any step failed.
        failed=()
        echo "== ruff";          .venv/bin/ruff check . || failed+=(ruff)
        echo "== mypy";          .venv/bin/mypy || failed+=(mypy)
        echo "== import rules";  .venv/bin/lint-imports --no-cache || failed+=(import-linter)
        echo "== pytest";        .venv/bin/python -m pytest -q "$@" || failed+=(pytest)
        if [ ${#failed[@]} -gt 0 ]; then
            echo "FAILED: ${failed[*]}" >&2
            exit 1
        fi
        ;;
    *)
        echo "usage: ./dev.sh app | ./dev.sh test" >&2
        exit 2
        ;;
esac
