# Installs Debian packages the tests need, only if a command they provide is missing.
# Usage: need_command <command> <package>; then install_needed_packages.
# Runs `apt-get update` at most once, and uses sudo when not root.

_offgen_missing_packages=()

need_command() {
    if ! command -v "$1" >/dev/null 2>&1; then
        _offgen_missing_packages+=("$2")
    fi
}

need_path() {
    if [ ! -e "$1" ]; then
        _offgen_missing_packages+=("$2")
    fi
}

install_needed_packages() {
    if [ ${#_offgen_missing_packages[@]} -eq 0 ]; then
        return 0
    fi
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        sudo="sudo"
    fi
    echo "== installing ${_offgen_missing_packages[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq "${_offgen_missing_packages[@]}" >/dev/null
    _offgen_missing_packages=()
}
