"""The dataset card (README.md) of an export: counts, sources and licenses, the stage funnel,
provenance, and how to load the files. Deterministic: the same data gives the same bytes.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from pipeline import __version__
from pipeline.report.figures import GENERATED_NOTE, TOKEN_NOTE, key_figures

if TYPE_CHECKING:
    from pipeline.export.write import ExportSummary

RESTRICTIVE = ("NC", "NONCOMMERCIAL", "NON-COMMERCIAL", "SA", "UNKNOWN", "NONE")


def _size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                         (1_000_000, "100K<n<1M")):
        if n < limit:
            return label
    return "1M<n<10M"


def _front_matter(s: "ExportSummary") -> str:
    licenses = sorted(set(s.licenses.values()))
    lic = licenses[0].lower() if len(licenses) == 1 and licenses[0] != "unknown" else "other"
    langs = [lang for lang, _ in s.langs.most_common()] or ["en"]
    total = sum(s.splits.values())
    lines = ["---", f"license: {lic}", "language:"] + [f"- {x}" for x in langs]
    lines += ["task_categories:", "- text-generation", "tags:", "- instruction-tuning",
              "- dpo" if s.fmt == "dpo" else "- sft",
              "- instructpipe", "size_categories:", f"- {_size_category(total)}"]
    if s.fmt != "hf":
        lines += ["configs:", "- config_name: default", "  data_files:"]
        for split, fname in zip(s.splits, s.files):
            lines += [f"  - split: {split}", f"    path: {fname}"]
    return "\n".join(lines + ["---", ""])


def _table(header: list[str], rows: list[list[object]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(out)


def _funnel(stages: list[dict]) -> str:
    rows = []
    for st in stages:
        reasons = st.get("reasons") or {}
        top = ", ".join(f"{k} {v}" for k, v in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:4])
        rows.append([st["id"], st["op"], st.get("records_in", 0), st.get("records_out", 0),
                     st.get("rejected", 0), top or "-"])
    return _table(["stage", "op", "in", "out", "rejected", "top reasons"], rows)


def render_card(s: "ExportSummary", run: dict) -> str:
    total = sum(s.splits.values())
    parts = [_front_matter(s), f"# {s.name}", ""]
    origin = f" by the recipe `{run['recipe']}`" if run.get("recipe") else ""
    parts += [f"Instruction-tuning data built with instructpipe {__version__}{origin}: "
              f"{total} conversations in the `{s.fmt}` format.", ""]
    if total:
        parts += ["## Key figures", "", _table(["figure", "value"], key_figures(s.figures, run.get("llm"))), "",
                  TOKEN_NOTE + " " + GENERATED_NOTE, ""]
    parts += _report_link(run)
    parts += ["## Files", "", _table(["split", "records", "file"],
                                     [[k, v, f] for (k, v), f in zip(s.splits.items(), s.files)]), ""]
    parts += ["## Sources and licenses", "",
              _table(["source", "records", "license"],
                     [[src, n, s.licenses.get(src, "unknown")] for src, n in sorted(s.sources.items())]), ""]
    flagged = sorted({lic for lic in s.licenses.values()
                      if any(tag in lic.upper().replace("_", "-").split("-") or tag == lic.upper()
                             for tag in RESTRICTIVE)})
    if flagged:
        parts += [f"**License note:** some sources carry restrictive or unknown licenses "
                  f"({', '.join(flagged)}). The combined data is bound by every source's terms; "
                  "check them before any commercial use.", ""]
    parts += ["## Composition", "", _table(["stage of origin", "records"], sorted(s.stages.items())), ""]
    if s.langs:
        parts += [_table(["language", "records"], sorted(s.langs.items())), ""]
    parts += [_table(["user turns", "records"], sorted(s.turns.items())), ""]
    if run.get("stages"):
        parts += ["## How it was built", "", "Records after every stage of the run "
                  "(rejected records are kept, with their reasons, in the run folder):", "",
                  _funnel(run["stages"]), ""]
    parts += ["## Provenance", "",
              "Each record's `meta` in the run folder keeps its `source`, `license`, `stage` of origin "
              "and `parents` (ids of the records it was made from); ids are content hashes.", ""]
    parts += _loading(s)
    return "\n".join(parts)


def _report_link(run: dict) -> list[str]:
    if not run.get("report"):
        return []
    link = run["report"]
    return [f"The run report shows the funnel with rejected examples per reason, the mix, length and score "
            f"plots, and sample records: [{link}]({link}). If that file is not there yet, write it with "
            "`instructpipe report <run folder>`.", ""]


def _loading(s: "ExportSummary") -> list[str]:
    main = s.files[0] if s.files else "train.jsonl"
    lines = ["## Loading", ""]
    if s.fmt == "dpo":
        lines += ["Preference pairs in TRL's conversational format (`prompt`, `chosen`, "
                  "`rejected`), for `DPOTrainer`:", "", "```python",
                  "from datasets import load_dataset",
                  f'ds = load_dataset("json", data_files="{main}", split="train")', "```", "",
                  "The same pairs for LLaMA-Factory (`messages`, with `chosen` and `rejected` as one "
                  "message each) are in the `*_llamafactory.jsonl` files.", ""]
    elif s.fmt == "hf":
        lines += ["```python", "from datasets import load_from_disk", 'ds = load_from_disk("hf")', "```", "",
                  "LLaMA-Factory cannot read a `save_to_disk` folder: export `messages` or `parquet` for it.", ""]
    else:
        kind = "parquet" if s.fmt == "parquet" else "json"
        lines += ["```python", "from datasets import load_dataset",
                  f'ds = load_dataset("{kind}", data_files="{main}", split="train")', "```", ""]
    if s.fmt in ("messages", "parquet"):
        lines += ["TRL `SFTTrainer` takes the `messages` column as is (also with `assistant_only_loss`). "
                  "axolotl:", "", "```yaml",
                  "datasets:", f"  - path: {main}", "    type: chat_template",
                  "    field_messages: messages", "```", ""]
    if s.llamafactory:
        info = json.dumps(s.llamafactory, indent=2)
        lines += ["LLaMA-Factory `dataset_info.json` (also written beside this card; "
                  + ("use the `_validation` entry as `eval_dataset`" if len(s.llamafactory) > 1
                     else "one entry, the train split") + "):", "", "```json", info, "```", ""]
    return lines
