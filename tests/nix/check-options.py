#!/usr/bin/env python3
"""Check that every `mkOption { ... }` in modules/ declares `description` and `type`.

A small brace matcher, not a Nix parser: it skips strings ("..." and ''...''),
comments and `${...}` interpolations well enough for nixpkgs-style modules,
and looks for `description =` / `type =` at the top level of each mkOption's
attribute set. Prints one line per problem; exits 1 if there is any.
"""
import pathlib
import re
import sys


def strip_code(src: str) -> str:
    """Blank out comments and string contents, keeping offsets and braces of code."""
    out = list(src)
    i, n = 0, len(src)
    stack = []  # 'code' frames opened by ${ inside strings: store string kind to resume

    def blank(a, b):
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "

    mode = "code"
    depth_in_interp = []  # brace depth at which each ${ interpolation closes
    brace_depth = 0
    start = 0
    while i < n:
        c = src[i]
        if mode == "code":
            if c == "#":
                j = src.find("\n", i)
                j = n if j < 0 else j
                blank(i, j)
                i = j
                continue
            if src.startswith("/*", i):
                j = src.find("*/", i + 2)
                j = n if j < 0 else j + 2
                blank(i, j)
                i = j
                continue
            if c == '"':
                mode, start = "dq", i + 1
                i += 1
                continue
            if src.startswith("''", i):
                mode, start = "ind", i + 2
                i += 2
                continue
            if c == "{":
                brace_depth += 1
            elif c == "}":
                if depth_in_interp and depth_in_interp[-1] == brace_depth:
                    depth_in_interp.pop()
                    mode = stack.pop()
                    start = i + 1
                    out[i] = " "
                    i += 1
                    continue
                brace_depth -= 1
            i += 1
            continue
        # inside a string
        if mode == "dq":
            if c == "\\":
                i += 2
                continue
            if c == '"':
                blank(start, i)
                mode = "code"
                i += 1
                continue
        else:  # indented string
            if src.startswith("'''", i) or src.startswith("''$", i) or src.startswith("''\\", i):
                i += 3
                continue
            if src.startswith("''", i):
                blank(start, i)
                mode = "code"
                i += 2
                continue
        if src.startswith("${", i):
            blank(start, i)
            out[i] = out[i + 1] = " "
            stack.append(mode)
            mode = "code"
            depth_in_interp.append(brace_depth)
            i += 2
            continue
        i += 1
    return "".join(out)


def check_file(path: pathlib.Path) -> list[str]:
    src = path.read_text()
    code = strip_code(src)
    problems = []
    for m in re.finditer(r"\bmkOption\s*\{", code):
        open_at = m.end() - 1
        depth, j = 0, open_at
        while j < len(code):
            if code[j] == "{":
                depth += 1
            elif code[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        body = code[open_at + 1 : j]
        # keep only depth-0 text of the body (attributes of this mkOption)
        top, d = [], 0
        for ch in body:
            if ch in "{[(":
                d += 1
            elif ch in "}])":
                d -= 1
            elif d == 0:
                top.append(ch)
        top_text = "".join(top)
        line = src.count("\n", 0, m.start()) + 1
        # name of the option: the attribute path just before `= mkOption`
        before = re.sub(r"(lib\.)?$", "", src[: m.start()]).rstrip()
        name_m = re.search(r"([A-Za-z0-9_.\"'${}-]+)\s*=\s*$", before)
        name = name_m.group(1) if name_m else "?"
        for attr in ("description", "type"):
            if not re.search(r"(^|[;\s])" + attr + r"\s*=", top_text):
                problems.append(f"{path}:{line}: mkOption `{name}` has no `{attr}`")
    return problems


def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    files = sorted((root / "modules").rglob("*.nix"))
    if not files:
        print(f"no .nix files under {root / 'modules'}", file=sys.stderr)
        return 1
    problems, count = [], 0
    for f in files:
        count += len(re.findall(r"\bmkOption\s*\{", strip_code(f.read_text())))
        problems += check_file(f)
    for p in problems:
        print(p)
    print(f"checked {count} mkOption declarations in {len(files)} files")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
