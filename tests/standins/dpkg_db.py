"""The sandbox's dpkg database for the apt-get, apt-mark and dpkg-query stand-ins:
$SANDBOX_ROOT/.standin/dpkg-status, one package a line: name<TAB>version<TAB>status, where
status is dpkg's abbreviated status (`ii `: install ok installed; `hi `: hold, installed).
Also Debian version comparison as dpkg does it (lib/dpkg/version.c, dpkg_version_compare)."""
import os

ROOT = os.environ.get("SANDBOX_ROOT", "")
STATUS = os.path.join(ROOT, ".standin/dpkg-status")


def load():
    packages = {}
    try:
        with open(STATUS) as f:
            for line in f:
                fields = line.rstrip("\n").split("\t")
                if len(fields) == 3:
                    packages[fields[0]] = {"version": fields[1], "status": fields[2]}
    except FileNotFoundError:
        pass
    return packages


def save(packages):
    os.makedirs(os.path.dirname(STATUS), exist_ok=True)
    with open(STATUS, "w") as f:
        for name, p in packages.items():
            f.write(f"{name}\t{p['version']}\t{p['status']}\n")


def _order(c):
    if c == "~":
        return -1
    if c.isdigit():
        return 0
    if c.isalpha():
        return ord(c)
    return ord(c) + 256


def _verrevcmp(a, b):
    i = j = 0
    while i < len(a) or j < len(b):
        first_diff = 0
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ac = _order(a[i]) if i < len(a) else 0
            bc = _order(b[j]) if j < len(b) else 0
            if ac != bc:
                return ac - bc
            i += 1
            j += 1
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        while i < len(a) and a[i].isdigit() and j < len(b) and b[j].isdigit():
            if not first_diff:
                first_diff = ord(a[i]) - ord(b[j])
            i += 1
            j += 1
        if i < len(a) and a[i].isdigit():
            return 1
        if j < len(b) and b[j].isdigit():
            return -1
        if first_diff:
            return first_diff
    return 0


def _split(v):
    epoch, _, rest = v.rpartition(":") if ":" in v else ("0", "", v)
    upstream, _, revision = rest.rpartition("-") if "-" in rest else (rest, "", "")
    return int(epoch or 0), upstream, revision


def compare(a, b):
    """<0, 0 or >0 as dpkg --compare-versions orders a and b."""
    ea, ua, ra = _split(a)
    eb, ub, rb = _split(b)
    if ea != eb:
        return ea - eb
    return _verrevcmp(ua, ub) or _verrevcmp(ra, rb)
