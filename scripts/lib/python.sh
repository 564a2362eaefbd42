# Python tools the tests run as independent checkers, in a virtualenv at target/py (inside the
# build directory, so `cargo clean` removes it and nothing is installed system-wide).
# Usage, from the repository root: ensure_python_tools
#
# openapi-spec-validator checks the generated openapi.json against the OpenAPI 3.1 schema and
# resolves every $ref (codegen/tests/openapi.rs runs target/py/bin/openapi-spec-validator).
# schemathesis holds the example server to that document
# (examples/ranger/server/tests/schemathesis.rs, scripts/schemathesis.sh).

# Pinned so a new release cannot change what the tests accept; bump deliberately.
OFFGEN_OPENAPI_SPEC_VALIDATOR_VERSION="0.9.0"
OFFGEN_SCHEMATHESIS_VERSION="4.32.5"
# moto's server mode: the S3-compatible server the attachment tests store files in
# (scripts/s3.sh starts it).
OFFGEN_MOTO_VERSION="5.2.5"

ensure_python_tools() {
    _offgen_python_venv "openapi-spec-validator and schemathesis" || return 1
    _offgen_pip_pin target/py openapi-spec-validator "${OFFGEN_OPENAPI_SPEC_VALIDATOR_VERSION}"
    _offgen_pip_pin target/py schemathesis "${OFFGEN_SCHEMATHESIS_VERSION}"
}

# moto (with its server mode's extras) in the same virtualenv.
ensure_moto() {
    _offgen_python_venv "moto" || return 1
    _offgen_pip_pin target/py "moto[server]" "${OFFGEN_MOTO_VERSION}"
}

# Makes the virtualenv at target/py when missing (installing python3-venv when
# scripts/lib/packages.sh is loaded); $1 says what it is for, in the error.
_offgen_python_venv() {
    local venv="target/py"
    local want="$1"
    # Debian ships python3 without venv's pip bootstrap (package python3-venv). When
    # scripts/lib/packages.sh is loaded, install what is missing; otherwise say what to install.
    if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
        if declare -F install_needed_packages >/dev/null; then
            need_command python3 python3
            _offgen_missing_packages+=("python3-venv")
            install_needed_packages
        fi
        if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
            echo "error: python3 with venv is needed to install ${want} (Debian: python3-venv)" >&2
            return 1
        fi
    fi
    if [ ! -x "${venv}/bin/python" ]; then
        echo "== creating ${venv}"
        python3 -m venv "${venv}"
    fi
}

# Installs package==version into the virtualenv unless that version is there already (so
# repeated runs stay offline and fast). An extra (`moto[server]`) is looked up by its package.
_offgen_pip_pin() {
    local venv="$1" package="$2" version="$3" installed
    installed="$("${venv}/bin/python" -m pip show "${package%%\[*}" 2>/dev/null || true)"
    if ! grep -qx "Version: ${version}" <<<"${installed}"; then
        echo "== installing ${package}==${version} into ${venv}"
        "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check "${package}==${version}"
    fi
}
