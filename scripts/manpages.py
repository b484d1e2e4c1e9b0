#!/usr/bin/env python3
"""capdeck's man pages, generated from the argument parser's own model.

`capdeck --experimental-dump-help` gives every command, option, value name, default and help text
the parser knows; this turns it into capdeck(1) and capdeck-COMMAND(1) for each subcommand, so an
option added to the code is on its page at the next build with no edit here. What the parser
doesn't know (EXIT STATUS, ENVIRONMENT, FILES, EXAMPLES, longer prose) is hand-written in
packaging/man/PAGE.roff and copied in after OPTIONS; `@include NAME` lines there bring in
packaging/man/NAME.roff (text shared by several pages).

    manpages.py --binary .build/debug/capdeck --out DIR     write DIR/capdeck.1, DIR/capdeck-*.1
    manpages.py --dump dump.json --version 0.1.0 --out DIR  the same from a saved dump

The date on each page is SOURCE_DATE_EPOCH's (reproducible builds), else the newest commit's,
else empty.
"""
import argparse
import datetime
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
EXTRAS = os.path.join(HERE, "..", "packaging", "man")
# Sections a page's extras file gives, in the order man-pages(7) lists them.
SECTION_ORDER = ["EXIT STATUS", "ENVIRONMENT", "FILES", "NOTES", "EXAMPLES"]


def roff(text):
    """Plain text as roff: backslashes, minus signs (so options copy as ASCII '-'), non-ASCII
    characters as \\[uXXXX] (groff and mandoc read them without preconv), and no line starting with
    a control character."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\e")
        elif ch == "-":
            out.append("\\-")
        elif ord(ch) > 126:
            out.append("\\[u%04X]" % ord(ch))
        else:
            out.append(ch)
    lines = "".join(out).split("\n")
    return "\n".join(("\\&" + l) if l[:1] in (".", "'") else l for l in lines)


def paragraphs(text):
    """The parser's discussion: a line per paragraph."""
    return "\n.PP\n".join(roff(p.strip()) for p in text.split("\n") if p.strip())


def option_names(arg):
    names = []
    for n in arg.get("names", []):
        if n["kind"] == "short":
            names.append("\\fB\\-%s\\fR" % roff(n["name"]))
        elif n["kind"] == "long":
            names.append("\\fB\\-\\-%s\\fR" % roff(n["name"]))
        else:  # longWithSingleDash
            names.append("\\fB\\-%s\\fR" % roff(n["name"]))
    return names


def visible(args):
    return [a for a in args if a.get("shouldDisplay", True)]


def merged(args):
    """Arguments in the parser's order, each `--X` flag with its `--no-X` twin as one item."""
    out = []
    i = 0
    while i < len(args):
        a = args[i]
        if (a["kind"] == "flag" and i + 1 < len(args) and args[i + 1]["kind"] == "flag"
                and [n["name"] for n in args[i + 1].get("names", [])] == ["no-" + n["name"] for n in a.get("names", []) if n["kind"] == "long"]):
            out.append((a, args[i + 1]))
            i += 2
        else:
            out.append((a, None))
            i += 1
    return out


def option_item(arg, twin):
    if arg["kind"] == "positional":
        head = "\\fI%s\\fR" % roff(arg["valueName"].upper()) + (" ..." if arg.get("isRepeating") else "")
    else:
        names = option_names(arg) + (option_names(twin) if twin else [])
        head = ", ".join(names)
        if arg["kind"] == "option":
            head += " \\fI%s\\fR" % roff(arg.get("valueName", "value"))
    body = roff(arg.get("abstract", "").strip())
    extra = []
    if arg.get("allValues"):
        extra.append("One of: " + ", ".join(roff(v) for v in arg["allValues"]) + ".")
    default = arg.get("defaultValue")
    if default is not None and arg["kind"] != "flag" and "default" not in arg.get("abstract", "").lower():
        extra.append("Default: \\fB%s\\fR." % roff(default))
    if arg.get("isRepeating") and arg["kind"] != "positional":
        extra.append("May be given more than once.")
    if arg.get("discussion"):
        extra.append(roff(arg["discussion"].strip()))
    return ".TP\n%s\n%s\n" % (head, " ".join([body] + extra).strip())


def synopsis(path, cmd):
    args = visible(cmd.get("arguments", []))
    words = ["\\fB%s\\fR" % roff(" ".join(path))]
    if cmd.get("subcommands"):
        words.append("[\\fICOMMAND\\fR]")
    if any(a["kind"] != "positional" for a in args):
        words.append("[\\fIOPTION\\fR ...]")
    for a in args:
        if a["kind"] == "positional":
            w = "\\fI%s\\fR" % roff(a["valueName"].upper()) + (" ..." if a.get("isRepeating") else "")
            words.append("[%s]" % w if a.get("isOptional") else w)
    return " ".join(words)


def extras(page):
    """The hand-written sections of `page`: (text before the first .SH, {section: body})."""
    path = os.path.join(EXTRAS, page + ".roff")
    if not os.path.exists(path):
        sys.exit("manpages.py: %s: missing (every page needs its EXIT STATUS and EXAMPLES)" % path)

    def expand(file, depth=0):
        lines = []
        for line in open(file, encoding="utf-8").read().split("\n"):
            m = re.match(r"^@include\s+(\S+)\s*$", line)
            if m:
                if depth > 4:
                    sys.exit("manpages.py: %s: @include nested too deep" % file)
                lines += expand(os.path.join(EXTRAS, m.group(1) + ".roff"), depth + 1)
            elif not line.startswith('.\\"'):
                lines.append(line)
        return lines

    lead, sections, current = [], {}, None
    for line in expand(path):
        m = re.match(r'^\.SH\s+"?([^"]+?)"?\s*$', line)
        if m:
            current = m.group(1)
            if current not in SECTION_ORDER:
                sys.exit("manpages.py: %s: unknown section %r (use %s)" % (path, current, ", ".join(SECTION_ORDER)))
            sections.setdefault(current, [])
        elif current is None:
            lead.append(line)
        else:
            sections[current].append(line)
    strip = lambda ls: "\n".join(ls).strip("\n")
    return strip(lead), {k: strip(v) for k, v in sections.items()}


def page(path, cmd, version, date, all_pages):
    name = "-".join(path)
    lead, sections = extras(name)
    out = ['.\\" Generated by scripts/manpages.py from capdeck --experimental-dump-help and packaging/man/%s.roff; do not edit.' % name,
           '.TH %s 1 "%s" "capdeck %s" "User Commands"' % (name.upper().replace("-", "\\-"), date, version),
           ".nh", ".ad l",  # no hyphenation (options and paths copy as typed), ragged right
           ".SH NAME",
           "%s \\- %s" % (roff(name), roff(cmd.get("abstract", "").rstrip("."))),
           ".SH SYNOPSIS",
           synopsis(path, cmd)]
    if path == ["capdeck"]:
        for sub in cmd.get("subcommands", []):
            if sub.get("shouldDisplay", True) and sub["commandName"] != "help":
                out += [".br", synopsis(path + [sub["commandName"]], sub)]
    out.append(".SH DESCRIPTION")
    out.append(roff(cmd.get("abstract", "")))
    if cmd.get("discussion"):
        out += [".PP", paragraphs(cmd["discussion"])]
    if lead:
        out += [".PP", lead]
    subs = [s for s in cmd.get("subcommands", []) if s.get("shouldDisplay", True) and s["commandName"] != "help"]
    if subs:
        out.append(".SH COMMANDS")
        for s in subs:
            default = " (the default)" if s["commandName"] == cmd.get("defaultSubcommand") and "(the default)" not in s.get("abstract", "") else ""
            out += [".TP", "\\fB%s\\fR%s" % (roff(s["commandName"]), default),
                    "%s See \\fB%s\\-%s\\fR(1)." % (roff(s.get("abstract", "")), roff(name), roff(s["commandName"]))]
    args = visible(cmd.get("arguments", []))
    if args:
        out.append(".SH OPTIONS")
        for a, twin in merged(args):
            out.append(option_item(a, twin).rstrip("\n"))
    for section in SECTION_ORDER:
        if section in sections:
            out += [".SH %s" % ("\"%s\"" % section if " " in section else section), sections[section]]
    others = [p for p in all_pages if p != name]
    out += [".SH SEE ALSO", ",\n".join("\\fB%s\\fR(1)" % roff(p) for p in others + ["arecord"]) + ",",
            "\\fBalsamixer\\fR(1), \\fBpactl\\fR(1)"]
    return wrap("\n".join(out)) + "\n"


def wrap(text, width=79):
    """Text lines folded at blanks to `width` bytes (in fill mode a line break is a blank), except a
    .TP item's tag line, which must stay one line."""
    lines, tag_next = [], False
    for line in text.split("\n"):
        if line.startswith(".") or line.startswith("'") or tag_next or len(line) <= width:
            lines.append(line)
        else:
            current = ""
            for word in line.split(" "):
                if current and len(current) + 1 + len(word) > width:
                    lines.append(current)
                    current = "\\&" + word if word[:1] in (".", "'") else word
                else:
                    current = current + " " + word if current else word
            lines.append(current)
        tag_next = line.startswith(".TP")
    return "\n".join(lines)


def commit_date():
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        try:
            epoch = subprocess.run(["git", "-C", HERE, "log", "-1", "--format=%ct"], capture_output=True,
                                   text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""
    return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).strftime("%Y-%m-%d") if epoch else ""


def main():
    ap = argparse.ArgumentParser(description="Generate capdeck's man pages from its argument parser.")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--binary", help="the capdeck executable to ask")
    src.add_argument("--dump", help="a saved --experimental-dump-help")
    ap.add_argument("--version", help="the version for the pages' footer (default: the binary's --version)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--list", action="store_true", help="print the page names only")
    o = ap.parse_args()
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}  # nothing of the user's reaches it
    if o.binary:
        dump = json.loads(subprocess.run([o.binary, "--experimental-dump-help"], capture_output=True, check=True, env=env).stdout)
        version = o.version or subprocess.run([o.binary, "--version"], capture_output=True, text=True, check=True, env=env).stdout.strip()
    else:
        dump = json.load(open(o.dump))
        version = o.version or "unknown"
    root = dump["command"]
    commands = [(["capdeck"], root)] + [(["capdeck", s["commandName"]], s) for s in root.get("subcommands", [])
                                         if s.get("shouldDisplay", True) and s["commandName"] != "help"]
    names = ["-".join(p) for p, _ in commands]
    if o.list:
        print("\n".join(n + ".1" for n in names))
        return
    os.makedirs(o.out, exist_ok=True)
    date = commit_date()
    for path, cmd in commands:
        with open(os.path.join(o.out, "-".join(path) + ".1"), "w", encoding="ascii") as f:
            f.write(page(path, cmd, version, date, names))


if __name__ == "__main__":
    main()
