# Sourced by the set-up scripts: ensure_packages PKG... installs the Debian packages that are
# missing (apt-get, as root or through sudo) and does nothing when all are present.
ensure_packages() {
    _missing=""
    for _p in "$@"; do
        dpkg-query -W -f='${Status}' "$_p" 2>/dev/null | grep -q "install ok installed" ||
            _missing="$_missing $_p"
    done
    [ -n "$_missing" ] || return 0
    _sudo=""
    [ "$(id -u)" -eq 0 ] || _sudo=sudo
    echo "== installing:$_missing"
    $_sudo apt-get update -q && $_sudo env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q $_missing
}
