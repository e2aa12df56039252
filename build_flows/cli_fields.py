"""Dataclass fields as command-line options: a config dataclass marks a field with
:func:`cli_option` and documents it with a ``#:`` comment; :func:`add_arguments` makes the argparse
options from them and :func:`fields_from_args` reads them back, so a knob, its flag and its help text
live in one place (used by ``qvit build`` and ``qvit sim`` for :class:`build_flows.config.BuildConfig`)."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import inspect
import re


def cli_option(command: str | tuple[str, ...], flag: str | None = None, **argparse_kw) -> dict:
    """Field metadata: the field is the option ``flag`` (default ``--field-name``) of ``command`` (or of
    each of several commands)."""
    return {"cli": (command,) if isinstance(command, str) else tuple(command), "flag": flag, "argparse": argparse_kw}


@functools.cache
def field_docs(cls) -> dict[str, str]:
    """The ``#:`` comment lines above each field of a dataclass, joined, by field name."""
    docs, pending = {}, []
    for line in inspect.getsource(cls).splitlines():
        if m := re.match(r"\s*#:\s?(.*)", line):
            pending.append(m.group(1).strip())
        elif pending and (m := re.match(r"\s*(\w+)\s*:", line)):
            docs[m.group(1)] = " ".join(pending)
            pending = []
    return docs


def add_arguments(parser: argparse.ArgumentParser, cls, command: str) -> None:
    """Add one option per field of ``cls`` marked for ``command``, with its ``#:`` text as help. Options
    default to None (unset), so that a YAML config or the dataclass default applies."""
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):
        meta = f.metadata
        if command not in meta.get("cli", ()):
            continue
        flag = meta["flag"] or "--" + f.name.replace("_", "-")
        kw = dict(meta["argparse"])
        default = None if f.default is dataclasses.MISSING else f.default
        help_text = docs.get(f.name, "") + (f" (default {default})" if default not in (None, False) else "")
        if flag.startswith("--"):
            if "action" not in kw:
                kw["metavar"] = flag[2:].upper().replace("-", "_")
            parser.add_argument(flag, dest=f.name, default=None, help=help_text, **kw)
        else:
            parser.add_argument(f.name, help=help_text, **kw)


def fields_from_args(args: argparse.Namespace, cls, command: str) -> dict:
    """The values of ``command``'s options that were given (not None), by field name."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)
            if command in f.metadata.get("cli", ()) and getattr(args, f.name, None) is not None}
