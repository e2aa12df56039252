"""The filter on Verilator -Wall lint output that the RTL tests share."""

ALLOWED = ("%Warning-UNUSEDSIGNAL", "%Warning-UNUSEDPARAM")


def lint_problems(lines):
    # RAM_STYLE is a string parameter compared with string literals of other lengths
    return [m for m in lines if not m.startswith(ALLOWED) and not ("WIDTHEXPAND" in m and "'RAM_STYLE'" in m)
            and not m.startswith("%Error: Exiting due to")]
