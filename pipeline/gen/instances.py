"""Self-Instruct instance parsing and filtering: `Example N` / `Output:` blocks for generation
tasks, `Class label:` blocks for classification tasks, and the classification yes/no answer.

Parsing follows the reference `prepare_for_finetuning.py`; `Example` markers count only at the
start of a line (optionally bold or followed by a colon), so "Example" inside an output stays.
Beyond the reference, for what small models write: a classification block's `Output:` line and
list numbers are not input, and instances copying the prompt's own examples are dropped.
"""

from __future__ import annotations

import re

from pipeline.gen.pieces import Piece, mark_truncated
from pipeline.prompts import load_prompt

_EXAMPLE = re.compile(r"(?m)^[ \t]*(?:\*\*|#+[ \t]*)?Example[ \t]?\d*[ \t]*[.:]?(?:\*\*)?(?=\s|$)")
_OUTPUT = re.compile(r"Output\s*\d*\s*:")
_INPUT = re.compile(r"Input\s*\d*\s*:")
_INPUT_PREFIX = re.compile(r"^Input\s*\d*\s*:")
CLASS_LABEL = "Class label:"
# The next list item's number ("4." / "4)") or an `Example N` line left at the end of a block.
_TRAILING_NUMBER = re.compile(r"\n[ \t]*(?:\d+[.)]|(?:\*\*)?Example[ \t]*\d*[ \t]*[.:]?(?:\*\*)?)[ \t]*$")
_LIST_NUMBER = r"(?:\d+[.)][ \t]*)?"  # a small model numbers every line, labels included
_OUTPUT_LINE = re.compile(rf"(?m)^[ \t]*{_LIST_NUMBER}Output\s*\d*\s*:")
_INPUT_LABEL = re.compile(rf"^{_LIST_NUMBER}Input\s*\d*\s*:")
MIN_COPY_WORDS = 4  # outputs shorter than this ("17", "Positive") may recur honestly in a new task


def split_input_output(chunk: str) -> tuple[str, str]:
    """(input, output) of one example: text before `Output:` is the input (a leading `Input:` is
    cut), text after it up to any further `Input:`/`Output:` is the output; no marker: all output."""
    parts = _OUTPUT.split(chunk)
    if len(parts) > 1:
        extra, output = parts[0].strip(), parts[1].strip()
    else:
        extra, output = "", chunk.strip()
    output = _INPUT.split(output)[0].strip()
    extra = _INPUT_PREFIX.sub("", extra).strip()
    return extra, output


def _instance(chunk: str, number: int | None) -> Piece:
    extra, output = split_input_output(chunk)
    return Piece({"input": extra, "output": output}, chunk.strip(), number)


def parse_generation_instances(text: str, *, truncated: bool = False) -> list[Piece]:
    """Instances of a generation task; no `Example` and no `Output:` marker gives none."""
    text = text.replace("\r\n", "\n").strip()
    marks = list(_EXAMPLE.finditer(text))
    if marks:
        bounds = [m.end() for m in marks]
        ends = [m.start() for m in marks[1:]] + [len(text)]
        pieces = []
        head = text[:marks[0].start()].strip()
        if head:  # text before "Example 1": an instance only if it has an output
            pieces.append(_instance(head, None) if _OUTPUT.search(head) else
                          Piece({}, head, None, "commentary", "text before Example 1"))
        pieces += [_instance(text[a:b], j) for j, (a, b) in enumerate(zip(bounds, ends), start=1)
                   if text[a:b].strip()]
    elif _OUTPUT.search(text):
        pieces = [_instance(text, 1)]
    else:
        return []
    return mark_truncated(pieces) if truncated else pieces


def parse_classification_instances(text: str, *, truncated: bool = False) -> list[Piece]:
    """Instances of a classification task: each `Class label:` block's first line is the label
    (the output), the rest is the input (empty for a label alone)."""
    text = text.replace("\r\n", "\n")
    if CLASS_LABEL not in text:
        return []
    pieces = []
    for j, block in enumerate(text.split(CLASS_LABEL)[1:], start=1):
        label, _, rest = _TRAILING_NUMBER.sub("", block.strip()).partition("\n")
        pieces.append(_labelled(label.strip(), rest, block.strip(), j))
    return mark_truncated(pieces) if truncated else pieces


def _labelled(label: str, rest: str, raw: str, number: int) -> Piece:
    """A `Class label:` block; an `Output:` line the model adds after the input repeats the label
    (it is not input), and one naming another label contradicts it."""
    echo = _OUTPUT_LINE.search(rest)
    extra = _INPUT_LABEL.sub("", (rest[:echo.start()] if echo else rest).strip()).strip()
    piece = Piece({"input": extra, "output": label}, raw, number)
    if echo:
        said = rest[echo.end():].strip().partition("\n")[0].strip()
        if said and said.lower() != label.lower():
            return piece.fail("label_mismatch", f"labelled {label!r} but its output says {said!r}")
    return piece


def filter_instances(pieces: list[Piece]) -> list[Piece]:
    """The reference filters, marking what they drop: an instance whose input equals its output,
    with an empty output, or whose input or output ends with ':'; then, if two instances share a
    non-empty input with different outputs, every instance (`conflicting_outputs`); else exact
    repeats (`duplicate_instance`)."""
    out = []
    for p in pieces:
        if p.ok:
            extra, output = p.fields["input"], p.fields["output"]
            if not output:
                p = p.fail("empty_output", "the instance has no output")
            elif extra == output:
                p = p.fail("same_input_output", "input and output are the same")
            elif extra.endswith(":") or output.endswith(":"):
                p = p.fail("ends_with_colon", "input or output ends with ':' (cut off)")
        out.append(p)
    good = [p for p in out if p.ok]
    outputs_by_input: dict[str, set] = {}
    for p in good:
        if p.fields["input"]:
            outputs_by_input.setdefault(p.fields["input"], set()).add(p.fields["output"])
    if any(len(v) > 1 for v in outputs_by_input.values()):
        return [p.fail("conflicting_outputs", "two instances share an input but not the output")
                if p.ok else p for p in out]
    seen: set = set()
    final = []
    for p in out:
        if p.ok:
            key = (p.fields["input"], p.fields["output"])
            if key in seen:
                p = p.fail("duplicate_instance", "the same input and output again")
            seen.add(key)
        final.append(p)
    return final


_FIELD_LABEL = re.compile(r"(?m)^[ \t]*[A-Za-z][A-Za-z ]{0,20}:[ \t]*")


def _norm(text: str) -> str:
    """Text compared for copies: without field labels ("Review:" / "Sentence:"), case or spacing."""
    return " ".join(_FIELD_LABEL.sub("", text).split()).lower()


def demonstrations(prompt_name: str) -> tuple[frozenset, frozenset]:
    """Normalised inputs and (long enough) outputs of the instances a prompt file shows, read with
    the same parsers: every `Task:` block but the last, which is the task being asked about."""
    body = load_prompt(prompt_name).body
    is_clf = CLASS_LABEL in body
    inputs, outputs = set(), set()
    for block in body.split("Task:")[1:-1]:
        examples = block.partition("\n")[2]
        for p in (parse_classification_instances if is_clf else parse_generation_instances)(examples):
            if len(p.fields.get("input", "").split()) >= MIN_COPY_WORDS:
                inputs.add(_norm(p.fields["input"]))
            if len(p.fields.get("output", "").split()) >= MIN_COPY_WORDS:
                outputs.add(_norm(p.fields["output"]))
    return frozenset(inputs), frozenset(outputs)


def drop_demonstrations(pieces: list[Piece], demos: tuple[frozenset, frozenset]) -> list[Piece]:
    """Marks instances whose input holds one of the prompt's example inputs, or whose output is one
    of its example outputs: a small model copies them for an unrelated task, often under another
    field name or with a line of its own added."""
    inputs, outputs = demos

    def copied(p: Piece) -> bool:
        extra = _norm(p.fields["input"])
        return _norm(p.fields["output"]) in outputs or any(d in extra for d in inputs)

    return [p.fail("copied_demonstration", "the instance repeats an example of the prompt")
            if p.ok and copied(p) else p for p in pieces]


def parse_yes_no(text: str | None) -> bool | None:
    """The answer to 'is it classification?': True for yes, False for no, None when unclear."""
    words = re.findall(r"[A-Za-z]+", text or "")
    if not words:
        return None
    first = words[0].lower()
    return True if first == "yes" else False if first == "no" else None
